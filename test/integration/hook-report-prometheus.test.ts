/**
 * A real Prometheus sees hook outcomes from target pods, aggregated by the webhook:
 * the built webhook (dev TLS, reports on) and a `prometheus` (Debian's package) that scrapes its
 * metrics port every second and loads the prometheus overlay's alert rules; two in-pod servers
 * (two "target pods", each with the env the webhook injected into it) run hooks and report.
 * Asserted through Prometheus' HTTP API: the aggregated series across both pods, no pod identity
 * in any label, and the refusal alert firing for the refusing hook.
 * Needs `npm run build` and test/setup/install-system-deps.sh (as prometheus-scrape.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { REPORT_ENV } from '../../src/webhook/admission/inject.js';
import { at, buildOverlay, one } from '../manifests/kustomize.js';
import { eventually, freePort, httpsRequest, stopChild } from '../support/net.js';
import { fixturePod, podReview, type Json } from '../support/injected-pods.js';
import { startWebhookProcess, CLI as WEBHOOK_CLI, type WebhookProcess } from '../support/webhook-process.js';
import { CLI, CLIENT, killStarted, PINNED_DOMAIN, postDomain, removeDir, requireBuilt, SHARED_CPU_DOMAIN, startServer, tempDir, TOO_BIG_DOMAIN } from './server-harness.js';

const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus';
const JOB = 'premigration-hooks-webhook-metrics';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(port: number, promql: string): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data?: { result: Sample[] }; error?: string };
  if (body.status !== 'success' || !body.data) throw new Error(`query ${promql}: ${body.error ?? res.status}`);
  return body.data.result;
}

async function injectedFlags(webhook: WebhookProcess, fixture: string): Promise<string[]> {
  const answer = await httpsRequest(webhook.port, 'POST', '/mutate', { body: podReview(fixturePod(fixture)) });
  const patch = JSON.parse(Buffer.from((answer.json as Json).response.patch as string, 'base64').toString('utf8')) as Json[];
  const env = Object.fromEntries(((patch.find((op) => op.path === '/spec/initContainers/-')?.value as Json).env as Json[]).map((e) => [e.name, e.value]));
  return [`--report-url=${env[REPORT_ENV.url]}`, `--report-ca=${env[REPORT_ENV.caBundle]}`, `--report-token=${env[REPORT_ENV.token]}`];
}

describe('Prometheus scrapes hook outcomes aggregated by the webhook (real prometheus, webhook and servers)', () => {
  let dir: string;
  let webhook: WebhookProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let promPort: number;
  let promLog = '';

  beforeAll(async () => {
    requireBuilt(CLI, CLIENT, WEBHOOK_CLI);
    dir = tempDir('pmh-report-prom-');
    webhook = await startWebhookProcess(dir, { image: 'premigration-hooks:report-prom-test' });
    promPort = await freePort();
    const rules = at<unknown[]>(one(buildOverlay('prometheus'), 'PrometheusRule'), 'spec', 'groups');
    writeFileSync(path.join(dir, 'rules.yml'), stringify({ groups: rules }));
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [path.join(dir, 'rules.yml')],
        scrape_configs: [{ job_name: JOB, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [`127.0.0.1:${webhook.metricsPort}`] }] }],
      }),
    );
    prometheus = spawn(
      PROMETHEUS,
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.on('error', (err) => (promLog += `spawn failed (test/setup/install-system-deps.sh installs prometheus): ${err.message}\n`));
    prometheus.stderr?.on('data', (c: Buffer) => (promLog += c.toString()));
    // The zero-initialised series are scraped before any run, so increase() sees every report.
    await eventually('the first scrape', async () => ((await query(promPort, `premigration_hooks_migrations_total{job="${JOB}"}`)).length === 4 ? true : undefined), 80);

    // Two target pods of two VMs, each with what the webhook injected into it.
    const pods = [['kv17-dedicated-cpu', 'a'], ['kv110-dedicated-cpu', 'b']] as const;
    const servers = [];
    for (const [fixture, sub] of pods) {
      mkdirSync(path.join(dir, sub));
      servers.push(await startServer({ dir: path.join(dir, sub), args: await injectedFlags(webhook, fixture) }));
    }
    const [a, b] = servers as [Awaited<ReturnType<typeof startServer>>, Awaited<ReturnType<typeof startServer>>];
    expect((await postDomain(a.socket, PINNED_DOMAIN, '0-3')).status).toBe(200);
    expect((await postDomain(b.socket, PINNED_DOMAIN, '0-3')).status).toBe(200);
    expect((await postDomain(b.socket, SHARED_CPU_DOMAIN, '0-3')).status).toBe(204);
    expect((await postDomain(a.socket, TOO_BIG_DOMAIN, '0-3')).status).toBe(422);
    await eventually('Prometheus to scrape all four reports', async () => {
      const r = await query(promPort, `sum(premigration_hooks_reports_total{job="${JOB}", result="accepted"})`);
      return r[0]?.value[1] === '4' ? true : undefined;
    }, 80);
  }, 90_000);

  afterAll(async () => {
    await killStarted();
    await Promise.all([stopChild(webhook?.child), stopChild(prometheus)]);
    if (dir) removeDir(dir);
  });

  afterEach(() => {
    if (expect.getState().assertionCalls !== expect.getState().numPassingAsserts) {
      process.stderr.write(`webhook log:\n${JSON.stringify(webhook?.logs() ?? [], null, 1)}\nprometheus log:\n${promLog}\n`);
    }
  });

  it('migrations_total aggregates both pods\' runs by result', async () => {
    const series = await query(promPort, `premigration_hooks_migrations_total{job="${JOB}"}`);
    expect(Object.fromEntries(series.map((s) => [s.metric.result, s.value[1]]))).toEqual({ changed: '2', unchanged: '1', refused: '1', failed: '0' });
  });

  it('hook_runs_total per hook and result, across pods', async () => {
    const series = await query(promPort, `premigration_hooks_hook_runs_total{job="${JOB}"} > 0`);
    const got = Object.fromEntries(series.map((s) => [`${s.metric.hook}/${s.metric.result}`, s.value[1]]));
    // The shared-CPU domain has no pins, so cpu-dedicated did not apply to it (skipped).
    expect(got).toEqual({
      'cpu-dedicated/changed': '2',
      'cpu-dedicated/skipped': '1',
      'cpu-dedicated/refused': '1',
      'disk-namespace/skipped': '3',
    });
  });

  it('hook_duration_seconds counts the runs that ran to the end (not skipped, not refused)', async () => {
    const counts = await query(promPort, `premigration_hooks_hook_duration_seconds_count{job="${JOB}"}`);
    expect(Object.fromEntries(counts.map((s) => [s.metric.hook, s.value[1]]))).toEqual({ 'cpu-dedicated': '2' });
  });

  it('no label anywhere carries a pod\'s namespace or VMI (cardinality)', async () => {
    const all = await query(promPort, `{job="${JOB}", __name__=~"premigration_hooks_(hook|migrations|reports).*"}`);
    expect(all.length).toBeGreaterThan(0);
    for (const s of all) {
      expect(Object.keys(s.metric).sort()).toEqual(expect.arrayContaining(['__name__', 'instance', 'job']));
      expect(Object.keys(s.metric).filter((k) => !['__name__', 'instance', 'job', 'hook', 'result', 'le', 'reason'].includes(k))).toEqual([]);
      expect(JSON.stringify(s.metric)).not.toMatch(/prod-db|db-pinned|virt-launcher/);
    }
  });

  it('PremigrationHooksHookRefusals fires for the refusing hook; the failure alert does not', async () => {
    const alerts = await eventually('the refusal alert', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      const mine = body.data.alerts.filter((a) => a.labels.alertname === 'PremigrationHooksHookRefusals' && a.state === 'firing');
      return mine.length > 0 ? body.data.alerts : undefined;
    }, 40);
    expect(alerts.filter((a) => a.labels.alertname === 'PremigrationHooksHookRefusals').map((a) => a.labels.hook)).toEqual(['cpu-dedicated']);
    expect(alerts.filter((a) => a.labels.alertname === 'PremigrationHooksHookFailures')).toEqual([]);
    expect(alerts.filter((a) => a.labels.alertname === 'PremigrationHooksReportsRejected')).toEqual([]);
  });
});
