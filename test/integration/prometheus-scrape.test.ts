/**
 * A real Prometheus scrapes the real webhook (built dist/, dev TLS), on loopback:
 *  1. start `premigration-hooks webhook` and a `prometheus` (Debian's package) whose config scrapes
 *     its metrics port every second and loads the alert rules of the prometheus overlay. The
 *     webhook runs as deployed (--gate-source=kubevirt --watch-target-pods), its API server being
 *     the local list+watch TEST DOUBLE (test/support/fake-apiserver.ts; no kube-apiserver here)
 *     holding a KubeVirt 1.7 CR with the gate on, so it is in mode inject;
 *  2. send AdmissionReviews over HTTPS: target pods (injected) and non-target pods (skipped);
 *  3. assert through Prometheus' HTTP API that up == 1 and the project's series exist with the
 *     expected labels and values, and that the alert rules load and evaluate cleanly;
 *  4. `promtool check metrics` on the webhook's exposition.
 * Needs `npm run build:ts` (npm test builds first) and test/setup/install-system-deps.sh.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { VERSION } from '../../src/shared/version.js';
import { GATE_NAME } from '../../src/webhook/admission/mode.js';
import { at, buildOverlay, one, REPO_ROOT } from '../manifests/kustomize.js';
import { FakeApiServer, KUBEVIRTS } from '../support/fake-apiserver.js';
import { eventually, freePort, httpsRequest, stopChild as stop } from '../support/net.js';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus';
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const JOB = 'premigration-hooks-webhook-metrics'; // the ServiceMonitor's job: the metrics Service's name
const IMAGE = 'premigration-hooks:scrape-test';
const KUBEVIRT_CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';

/** prom-client's default Node.js collectors name three gauges *_total; promtool lints that. Not ours. */
const KNOWN_DEFAULT_COLLECTOR_LINTS = new Set([
  'premigration_hooks_nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'premigration_hooks_nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'premigration_hooks_nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]);

function review(uid: string, pod: Record<string, unknown>, dryRun = false): Record<string, unknown> {
  const gvk = { group: '', version: 'v1', kind: 'Pod' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: gvk,
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: gvk,
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: '',
      namespace: (pod.metadata as { namespace?: string }).namespace ?? 'default',
      operation: 'CREATE',
      userInfo: { username: KUBEVIRT_CONTROLLER, groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

function fixturePod(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'pods', `${name}.json`), 'utf8')) as Record<string, unknown>;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Instant query through Prometheus' HTTP API. */
async function query(promPort: number, promql: string): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data?: { resultType: string; result: Sample[] }; error?: string };
  if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${body.error ?? res.status}`);
  return body.data.result;
}

describe('Prometheus scrapes the webhook (real prometheus + real webhook on loopback; KubeVirt CR served by a kube-apiserver test double)', () => {
  let work: string;
  let webhook: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let webhookPort: number;
  let metricsPort: number;
  let promPort: number;
  let api: FakeApiServer | undefined;
  /** Wall-clock ms at which Prometheus was seen to hold a scrape of the webhook (same machine clock). */
  let scrapedBy = 0;
  const logs = { webhook: '', prometheus: '' };
  const answers: { status: number; json: unknown }[] = [];
  const alertRules = at<{ name: string; rules: { alert: string; expr: string }[] }[]>(one(buildOverlay('prometheus'), 'PrometheusRule'), 'spec', 'groups');

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:ts first`);
    work = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-scrape-'));
    [webhookPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()];

    api = new FakeApiServer();
    await api.start();
    api.create(KUBEVIRTS, {
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { developerConfiguration: { featureGates: ['CPUManager', GATE_NAME] } } },
      status: { phase: 'Deployed', observedKubeVirtVersion: 'v1.7.2' },
    });
    const kubeconfig = path.join(work, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());

    webhook = spawn(
      process.execPath,
      [
        CLI, 'webhook', '--dev-self-signed', '--gate-source', 'kubevirt', '--kubeconfig', kubeconfig, '--kubevirt-namespace', 'kubevirt',
        '--watch-target-pods', '--bind-address', '127.0.0.1', '--port', String(webhookPort), '--metrics-port', String(metricsPort), '--report-port', String(await freePort()),
        // Every target injected, so the shared-CPU dry run is an injected one counted apart.
        '--image', IMAGE, '--log-level', 'warn', '--inject-policy', 'always',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    webhook.stderr?.on('data', (c: Buffer) => (logs.webhook += c.toString()));

    writeFileSync(path.join(work, 'rules.yml'), stringify({ groups: alertRules }));
    writeFileSync(
      path.join(work, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(work, 'rules.yml')],
        scrape_configs: [{ job_name: JOB, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] }],
      }),
    );
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.on('error', (err) => (logs.prometheus += `spawn failed (test/setup/install-system-deps.sh installs prometheus): ${err.message}\n`));
    prometheus.stderr?.on('data', (c: Buffer) => (logs.prometheus += c.toString()));

    await eventually('webhook /readyz', async () => ((await httpsRequest(webhookPort, 'GET', '/readyz')).status === 200 ? true : undefined));

    // Three target pods (one a dry run), two pods the webhook must leave alone.
    const reviews = [
      review('00000000-0000-4000-8000-000000000001', fixturePod('kv17-dedicated-cpu')),
      review('00000000-0000-4000-8000-000000000002', fixturePod('kv110-dedicated-cpu')),
      review('00000000-0000-4000-8000-000000000003', fixturePod('kv15-shared-cpu'), true),
      review('00000000-0000-4000-8000-000000000004', fixturePod('kv17-launcher-not-target')),
      review('00000000-0000-4000-8000-000000000005', fixturePod('kv17-hotplug-attachment')),
    ];
    for (const r of reviews) answers.push(await httpsRequest(webhookPort, 'POST', '/mutate', { body: r }));

    await eventually('Prometheus to scrape the admissions', async () => {
      const r = await query(promPort, `sum(premigration_hooks_admission_requests_total{job="${JOB}"})`);
      return r[0]?.value[1] === '5' ? true : undefined;
    }, 120);
    scrapedBy = Date.now();
  }, 60_000);

  afterAll(async () => {
    await Promise.all([stop(webhook), stop(prometheus)]);
    await api?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  afterEach(() => {
    // On failure, the two processes' logs are the first thing to read.
    if (expect.getState().assertionCalls !== expect.getState().numPassingAsserts) {
      process.stderr.write(`webhook log:\n${logs.webhook}\nprometheus log:\n${logs.prometheus}\n`);
    }
  });

  it('the webhook answered every review allowed, with a patch exactly for the target pods', () => {
    const patched = answers.map((a) => {
      expect(a.status).toBe(200);
      const response = at<{ allowed: boolean; patch?: string }>(a.json, 'response');
      expect(response.allowed).toBe(true);
      return response.patch !== undefined;
    });
    expect(patched).toEqual([true, true, true, false, false]);
  });

  it('up == 1 for the webhook\'s job', async () => {
    const up = await query(promPort, `up{job="${JOB}"}`);
    expect(up).toHaveLength(1);
    expect(up[0]?.metric).toMatchObject({ job: JOB, instance: `127.0.0.1:${metricsPort}` });
    expect(up[0]?.value[1]).toBe('1');
  });

  it('admission_requests_total counts injected, skipped and dry runs apart, by reason', async () => {
    const series = await query(promPort, `premigration_hooks_admission_requests_total{job="${JOB}"}`);
    const byLabels = series.map((s) => ({ result: s.metric.result, reason: s.metric.reason, dry_run: s.metric.dry_run, value: s.value[1] }));
    expect(byLabels).toEqual(
      expect.arrayContaining([
        { result: 'injected', reason: 'inject', dry_run: 'false', value: '2' },
        { result: 'injected', reason: 'inject', dry_run: 'true', value: '1' },
        { result: 'skipped', reason: 'not-migration-target', dry_run: 'false', value: '1' },
        { result: 'skipped', reason: 'hotplug-pod', dry_run: 'false', value: '1' },
      ]),
    );
    expect(byLabels.filter((s) => s.result === 'error' && s.value !== '0')).toEqual([]);
  });

  it('admission_duration_seconds is a histogram with one observation per review, by result', async () => {
    const counts = await query(promPort, `sum by (result) (premigration_hooks_admission_duration_seconds_count{job="${JOB}"})`);
    // Every result's series exists from the start, at zero (so rate() and increase() see the
    // first error too); no review here ended in an error.
    expect(Object.fromEntries(counts.map((s) => [s.metric.result, s.value[1]]))).toEqual({ injected: '3', skipped: '2', error: '0' });
    const inf = await query(promPort, `sum(premigration_hooks_admission_duration_seconds_bucket{job="${JOB}", le="+Inf"})`);
    expect(inf[0]?.value[1]).toBe('5');
  });

  it('mode, gate, KubeVirt version, watches, build info and certificate expiry are exported', async () => {
    const mode = await query(promPort, `premigration_hooks_mode{job="${JOB}"} == 1`);
    expect(mode.map((s) => s.metric.mode)).toEqual(['inject']);
    expect((await query(promPort, `premigration_hooks_feature_gate_enabled{job="${JOB}"}`))[0]?.value[1]).toBe('1');
    expect((await query(promPort, `premigration_hooks_kubevirt_info{job="${JOB}"}`)).map((s) => [s.metric.version, s.value[1]])).toEqual([['v1.7.2', '1']]);
    const watches = await query(promPort, `premigration_hooks_watch_synced{job="${JOB}"}`);
    expect(Object.fromEntries(watches.map((s) => [s.metric.resource, s.value[1]]))).toEqual({ kubevirts: '1', pods: '1', nodes: '1', resourcequotas: '1', limitranges: '1', sitehooks: '1', namespaces: '1' });
    const restarts = await query(promPort, `premigration_hooks_watch_restarts_total{job="${JOB}"}`);
    expect(Object.fromEntries(restarts.map((s) => [s.metric.resource, s.value[1]]))).toEqual({ kubevirts: '0', pods: '0', nodes: '0', resourcequotas: '0', limitranges: '0', sitehooks: '0', namespaces: '0' });
    expect((await query(promPort, `premigration_hooks_escaped_target_pods_total{job="${JOB}"}`))[0]?.value[1]).toBe('0');
    expect((await query(promPort, `premigration_hooks_build_info{job="${JOB}"}`))[0]?.metric.version).toBe(VERSION);
    // The dev certificate is fresh: it expires in the future, and not in the next 7 days.
    const expiry = await query(promPort, `premigration_hooks_tls_certificate_expiry_timestamp_seconds{job="${JOB}"} - time()`);
    expect(Number(expiry[0]?.value[1])).toBeGreaterThan(7 * 24 * 3600);
  });

  it('every metric of ours that an alert uses is one the webhook exports', async () => {
    const used = new Set(alertRules.flatMap((g) => g.rules).flatMap((r) => [...r.expr.matchAll(/\bpremigration_hooks_[a-z_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) {
      expect([name, (await query(promPort, `count(${name}{job="${JOB}"})`)).length]).toEqual([name, 1]);
    }
  });

  it('the alert rules load into Prometheus, evaluate without error, and none fires', async () => {
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/rules?type=alert`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; health: string; state: string; lastError?: string }[] }[] } };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules.flatMap((g) => g.rules).map((r) => r.alert).sort());
    // An evaluation that ran before Prometheus' first scrape of the webhook sees no `up` series
    // and puts WebhookDown in `pending` (its `for: 5m` keeps it from firing, as on any Prometheus
    // restart). What must hold is the state after an evaluation that saw the scrape.
    const evaluated = await eventually('a rule evaluation after the first scrape', async () => {
      const b = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { rules: { name: string; health: string; state: string; lastEvaluation: string }[] }[] };
      };
      const all = b.data.groups.flatMap((g) => g.rules);
      return all.every((r) => r.health === 'ok' && Date.parse(r.lastEvaluation) > scrapedBy) ? all : undefined;
    }, 120);
    expect(evaluated.map((r) => [r.name, r.health, r.state]).sort()).toEqual(rules.map((r) => [r.name, 'ok', 'inactive']).sort());
  });

  it('promtool check metrics finds nothing wrong with our own metrics', async () => {
    const exposition = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(exposition).toContain('premigration_hooks_admission_requests_total');
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
    if (r.error) throw r.error;
    const problems = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    expect(problems.filter((p) => !KNOWN_DEFAULT_COLLECTOR_LINTS.has(p))).toEqual([]);
  });
});
