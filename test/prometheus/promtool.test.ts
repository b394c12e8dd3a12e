/**
 * The alerts as deployed (the PrometheusRule rendered by `kubectl kustomize` of the prometheus
 * overlay), checked by Prometheus' own promtool: `check rules`, then `test rules` with the unit
 * tests in rules.test.yml (a firing and a not-firing case per alert). Also: every alert links
 * to an existing section of docs/runbooks.md.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { at, buildOverlay, one, REPO_ROOT } from '../manifests/kustomize.js';

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

const groups = at<RuleGroup[]>(one(buildOverlay('prometheus'), 'PrometheusRule'), 'spec', 'groups');
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

  it('the eleven alerts the product documents are there', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'PremigrationHooksAdmissionErrors',
      'PremigrationHooksAdmissionLatencyHigh',
      'PremigrationHooksCertificateExpiring',
      'PremigrationHooksHookFailures',
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
    const [file, anchor] = url.split('#');
    expect(file).toBe('docs/runbooks.md');
    expect(anchors.has(anchor ?? '')).toBe(true);
  });
});
