/**
 * The alerts as deployed (the PrometheusRule rendered by `kubectl kustomize` of the prometheus
 * overlay), checked by Prometheus' own promtool: `check rules`, then `test rules` with the unit
 * tests in rules.test.yml (a firing and a not-firing case per alert). Also: every alert links
 * to an existing section of docs/runbooks.md with an absolute URL under the overlay's
 * runbookBaseURL, and every PromQL expression of the Grafana dashboard passes `check rules`
 * (as recording rules generated from the dashboard's targets).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { at, buildKustomization, buildOverlay, one, REPO_ROOT } from '../manifests/kustomize.js';
import { tsFilesUnder } from '../support/files.js';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
const UNIT_TESTS = path.join(REPO_ROOT, 'test', 'prometheus', 'rules.test.yml');

interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${PROMTOOL} (test/setup/install-system-deps.sh installs it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const rendered = buildOverlay('prometheus');
const groups = at<RuleGroup[]>(one(rendered, 'PrometheusRule'), 'spec', 'groups');
const settings = parse(readFileSync(path.join(REPO_ROOT, 'kustomize', 'overlays', 'prometheus', 'settings.yaml'), 'utf8')) as { data: Record<string, string> };
const RUNBOOK_BASE = settings.data.runbookBaseURL as string;
const alerts = groups.flatMap((g) => g.rules);

/** A temp dir holding rules.yml (the given groups) and a copy of the unit tests. */
function workDir(ruleGroups: RuleGroup[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-rules-'));
  writeFileSync(path.join(dir, 'rules.yml'), stringify({ groups: ruleGroups }));
  copyFileSync(UNIT_TESTS, path.join(dir, 'rules.test.yml'));
  return dir;
}

describe('PrometheusRule alerts under promtool', () => {
  let dir: string;
  beforeAll(() => {
    dir = workDir(groups);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the thirteen alerts the product documents are there', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'PremigrationHooksAdmissionErrors',
      'PremigrationHooksAdmissionLatencyHigh',
      'PremigrationHooksCertificateExpiring',
      'PremigrationHooksCertificateRefused',
      'PremigrationHooksHookFailures',
      'PremigrationHooksHookMisses',
      'PremigrationHooksHookRefusals',
      'PremigrationHooksInjectionBroken',
      'PremigrationHooksReportsRejected',
      'PremigrationHooksSkippedByNamespaceLimits',
      'PremigrationHooksTargetPodsEscaped',
      'PremigrationHooksWebhookDown',
      'PremigrationHooksWebhookFailedOpen',
    ]);
  });

  it('promtool check rules accepts them', () => {
    const r = promtool(['check', 'rules', 'rules.yml'], dir);
    expect(r.output).toContain(`SUCCESS: ${alerts.length} rules found`);
    expect(r.status).toBe(0);
  });

  it('promtool test rules passes the unit tests', () => {
    const r = promtool(['test', 'rules', 'rules.test.yml'], dir);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('every alert has a firing and a not-firing unit test', () => {
    const tests = parse(readFileSync(UNIT_TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect([alert, mine.some((c) => c.exp_alerts.length > 0), mine.some((c) => c.exp_alerts.length === 0)]).toEqual([alert, true, true]);
    }
  });

  it('the unit tests notice a broken alert (a raised threshold fails them)', () => {
    const broken = structuredClone(groups);
    const escaped = broken.flatMap((g) => g.rules).find((a) => a.alert === 'PremigrationHooksTargetPodsEscaped') as AlertRule;
    escaped.expr = escaped.expr.replace(/> 0$/, '> 5');
    const brokenDir = workDir(broken);
    try {
      const r = promtool(['test', 'rules', 'rules.test.yml'], brokenDir);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('PremigrationHooksTargetPodsEscaped');
    } finally {
      rmSync(brokenDir, { recursive: true, force: true });
    }
  });
});

describe('alert metadata', () => {
  /** GitHub-style heading anchors of docs/runbooks.md. */
  const anchors = new Set(
    readFileSync(path.join(REPO_ROOT, 'docs', 'runbooks.md'), 'utf8')
      .split('\n')
      .filter((l) => /^#{1,6} /.test(l))
      .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
  );

  it.each(alerts.map((a) => [a.alert, a] as const))('%s has a severity, a summary, a description and a runbook section', (_name, a) => {
    expect(['warning', 'critical']).toContain(a.labels?.severity);
    expect(a.annotations?.summary).toEqual(expect.any(String));
    expect(a.annotations?.description).toEqual(expect.any(String));
    const url = a.annotations?.runbook_url ?? '';
    // Absolute (Alertmanager and its receivers cannot resolve a relative link), under the knob.
    expect(new URL(url).protocol).toBe('https:');
    const [base, anchor] = url.split('#');
    expect(base).toBe(RUNBOOK_BASE);
    expect(base?.endsWith('/docs/runbooks.md')).toBe(true);
    expect(anchors.has(anchor ?? '')).toBe(true);
  });
});

describe('alerts on hook outcomes', () => {
  it('say at the alert that they need the report-key Secret', () => {
    const hookAlerts = groups.find((g) => g.name === 'premigration-hooks.hooks')?.rules.filter((r) => /hook_runs_total|migrations_total/.test(r.expr)) ?? [];
    expect(hookAlerts.map((a) => a.alert).sort()).toEqual(['PremigrationHooksHookFailures', 'PremigrationHooksHookRefusals']);
    for (const a of hookAlerts) expect([a.alert, a.annotations?.description]).toEqual([a.alert, expect.stringContaining('premigration-hooks-report-key')]);
  });

  it('refusals include the ABI guard, which is not a hook of hook_runs_total', () => {
    const refusals = alerts.find((a) => a.alert === 'PremigrationHooksHookRefusals');
    expect(refusals?.expr).toContain('premigration_hooks_abi_guard_refusals_total');
  });
});

describe('the runbook base URL is one knob (settings.yaml runbookBaseURL)', () => {
  it('an overlay of your own with another base rewrites every runbook_url, anchors kept', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-runbooks-'));
    try {
      const rel = (p: string) => JSON.stringify(path.relative(dir, path.join(REPO_ROOT, p)));
      const mine = { ...settings, data: { ...settings.data, runbookBaseURL: 'https://wiki.example.com/ops/premigration-hooks' } };
      writeFileSync(path.join(dir, 'settings.yaml'), stringify(mine));
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        `resources: [${rel('kustomize/base')}, settings.yaml]\ncomponents: [${rel('kustomize/components/install-settings')}, ${rel('kustomize/components/monitoring')}]\n`,
      );
      const urls = at<RuleGroup[]>(one(buildKustomization(dir), 'PrometheusRule'), 'spec', 'groups').flatMap((g) => g.rules.map((r) => r.annotations?.runbook_url));
      expect(urls).toEqual(alerts.map((a) => a.annotations?.runbook_url?.replace(RUNBOOK_BASE, 'https://wiki.example.com/ops/premigration-hooks')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Grafana dashboard', () => {
  interface Panel { title: string; type: string; targets?: { expr: string }[] }
  const file = JSON.parse(readFileSync(path.join(REPO_ROOT, 'kustomize', 'components', 'monitoring', 'dashboard.json'), 'utf8')) as { uid: string; panels: Panel[] };
  const exprs = file.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
  // Grafana's own variables are not PromQL; give them the values Grafana would.
  const promql = (e: string): string => e.replace(/\$__rate_interval/g, '5m').replace(/\$__interval/g, '1m');

  it('is provisioned by a ConfigMap labelled grafana_dashboard in the prometheus overlay, with the JSON as committed', () => {
    const cms = rendered.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    expect(cms.map((c) => c.metadata.name)).toEqual(['premigration-hooks-dashboard']);
    expect(cms[0]?.metadata.namespace).toBe('premigration-hooks');
    const data = at<Record<string, string>>(cms[0], 'data');
    expect(JSON.parse(data['premigration-hooks.json'] ?? 'null')).toEqual(file);
    for (const overlay of ['default', 'openshift', 'hco'] as const) {
      expect(buildOverlay(overlay).filter((o) => o.metadata.labels?.grafana_dashboard)).toEqual([]);
    }
  });

  it('charts the series the product exports, among them the pseudo-hook series and the process defaults', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    expect(exprs.length).toBeGreaterThan(15);
    for (const name of ['admission_requests_total', 'hook_runs_total', 'abi_guard_refusals_total', 'chain_failures_total', 'target_pods_observed_total', 'migrations_total', 'reports_total']) {
      expect([name, all.includes(`premigration_hooks_${name}`)]).toEqual([name, true]);
    }
    expect(all).toMatch(/\bprocess_resident_memory_bytes\b/);
    expect(all).not.toContain('premigration_hooks_process_');
  });

  it('every series of ours that the dashboard and the alerts query is one the code exports', () => {
    const sources = tsFilesUnder(path.join(REPO_ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const exported = new Set([...sources.matchAll(/(?:METRIC_PREFIX\}|premigration_hooks_)([a-z_]+)/g)].map((m) => `premigration_hooks_${m[1] as string}`));
    const queried = new Set(
      [...exprs.map((e) => e.expr), ...alerts.map((a) => a.expr)].flatMap((e) => [...e.matchAll(/\bpremigration_hooks_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''))),
    );
    expect(queried.size).toBeGreaterThan(10);
    expect([...queried].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('every PromQL expression passes promtool check rules (generated recording rules)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'premigration-hooks-dashboard-'));
    try {
      const rules = exprs.map((e, i) => ({ record: `dashboard:panel_${i}`, expr: promql(e.expr) }));
      writeFileSync(path.join(dir, 'dashboard-rules.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = promtool(['check', 'rules', 'dashboard-rules.yml'], dir);
      expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
      // Live: a broken expression is reported.
      writeFileSync(path.join(dir, 'broken.yml'), stringify({ groups: [{ name: 'dashboard', rules: [{ record: 'dashboard:broken', expr: 'sum(rate(x[5m])' }] }] }));
      expect(promtool(['check', 'rules', 'broken.yml'], dir).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
