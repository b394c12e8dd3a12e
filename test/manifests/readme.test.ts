import { tsFilesUnder } from '../support/files.js';
/**
 * The README is an admin's runbook, so its commands and tables are checked against the code
 * they describe: the kubectl patches are applied (fast-json-patch, as the apiserver would) to a
 * KubeVirt CR and to the rendered Deployment, and the results are fed to the webhook's own mode
 * and flag logic; names, annotations, metrics and alerts are looked up where they are defined.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { computeMode, GATE_NAME, parseKubeVirtVersion } from '../../src/webhook/admission/mode.js';
import { BASE_NAME, COMPUTE_CONTAINER, INJECTED_ANNOTATION, INJECT_ANNOTATION, MIGRATION_JOB_LABEL } from '../../src/webhook/admission/names.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { targetSkipReason } from '../../src/webhook/admission/target.js';
import { admit } from '../../src/webhook/admission/admit.js';
import { REGISTRY } from '../../src/core/hooks/registry.js';
import { at, buildKustomization, buildOverlay, containerEnv, KUBEVIRT_NAMESPACE, one, REPO_ROOT, type K8sObject } from './kustomize.js';

const read = (rel: string): string => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const README = read('README.md');

/** The text of a `## title` section, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section "## ${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Shell commands of the README's code blocks: a newline inside quotes or after a backslash continues the command. */
function commands(): string[] {
  const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const out: string[] = [];
  for (const block of blocks) {
    let cur = '';
    let quote: string | undefined;
    for (let i = 0; i < block.length; i++) {
      const c = block[i] as string;
      if (quote === undefined && c === '#' && (cur === '' || /\s$/.test(cur))) {
        while (i + 1 < block.length && block[i + 1] !== '\n') i++; // a comment runs to the end of the line
      } else if (quote === undefined && c === '\\' && block[i + 1] === '\n') {
        cur += ' ';
        i++;
      } else if (quote === undefined && c === '\n') {
        out.push(cur.trim());
        cur = '';
      } else {
        if (quote === '"' && c === '\\') cur += block[i++] as string; // keep \" escaped inside double quotes
        else if (quote === undefined && (c === "'" || c === '"')) quote = c;
        else if (c === quote) quote = undefined;
        cur += block[i] as string;
      }
    }
    if (quote !== undefined) throw new Error(`unterminated ${quote} in a README code block`);
    out.push(cur.trim());
  }
  return out.filter((l) => l !== '');
}

/** Enough of POSIX word splitting for these commands: quotes, \" in double quotes, $var, # comments. */
function shellWords(line: string, vars: Record<string, string> = {}): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  const expand = (name: string): string => {
    if (!(name in vars)) throw new Error(`unset shell variable $${name} in: ${line}`);
    return vars[name] as string;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === '#' && cur === undefined) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      cur = cur ?? '';
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
        if (line[i] === '\\' && /["\\$]/.test(line[i + 1] ?? '')) cur += line[++i];
        else if (line[i] === '$') {
          const name = /^\w+/.exec(line.slice(i + 1))?.[0] as string;
          cur += expand(name);
          i += name.length;
        } else cur += line[i];
      }
    } else if (c === '$' && /\w/.test(line[i + 1] ?? '')) {
      const name = /^\w+/.exec(line.slice(i + 1))?.[0] as string;
      cur = (cur ?? '') + expand(name);
      i += name.length;
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

/** The JSON patch (`-p`) of the README's `kubectl patch` commands on the given object, matching `pick`. */
function patchOf(target: string, pick: (ops: Operation[]) => boolean, vars: Record<string, string> = {}): Operation[] {
  const found = commands()
    .filter((l) => l.startsWith('kubectl ') && l.includes(` patch ${target} `))
    // A command that needs a variable this caller does not give is another command.
    .filter((l) => [...l.matchAll(/\$(\w+)/g)].every((m) => (m[1] as string) in vars))
    .map((l) => shellWords(l, vars))
    .map((w) => JSON.parse(w[w.indexOf('-p') + 1] as string) as Operation[])
    .filter(pick);
  if (found.length !== 1) throw new Error(`expected one README patch of ${target} matching, found ${found.length}`);
  return found[0] as Operation[];
}

const targets = (suffix: string) => (ops: Operation[]): boolean => ops.some((o) => o.path.endsWith(suffix));
const apply = <T>(doc: T, ops: Operation[]): T => jsonpatch.applyPatch(structuredClone(doc), ops, true, false).newDocument;

function kubevirt(version: string, developerConfiguration?: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'KubeVirt',
    metadata: { name: 'kubevirt', namespace: 'kubevirt' },
    spec: { configuration: developerConfiguration === undefined ? {} : { developerConfiguration } },
    status: { phase: 'Deployed', observedKubeVirtVersion: version },
  };
}
const modeOf = (cr: unknown): string =>
  computeMode({ cr, version: parseKubeVirtVersion(at(cr, 'status', 'observedKubeVirtVersion')), siteHooksConfigured: false }).mode;
const gates = (cr: unknown): string[] => at(cr, 'spec', 'configuration', 'developerConfiguration', 'featureGates');

describe('README: the first lines are the two set-up commands', () => {
  test('npm ci && npm run demo, then npm test, and both scripts exist', () => {
    const [title, , fence, first, second, close] = README.split('\n');
    expect(title).toBe('# kubevirt-premigration-hooks');
    expect(fence).toBe('```sh');
    expect(first).toMatch(/^npm ci && npm run demo\s+#/);
    expect(second).toMatch(/^npm test\s+#/);
    expect(close).toBe('```'); // exactly two commands
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.demo).toBeDefined();
    expect(scripts.test).toBeDefined();
  });

  test('the sections an admin looks for are there, and Upgrade links docs/upgrade.md', () => {
    for (const title of ['What it does', 'Compatibility', 'Which VMs get the sidecar, and what it costs', 'Install', 'Enable and disable', 'Metrics', 'Troubleshooting', 'Upgrade']) {
      expect(section(title).length).toBeGreaterThan(0);
    }
    // Compatibility by KubeVirt version and by Kubernetes version.
    expect(section('Compatibility')).toMatch(/^\| KubeVirt \|/m);
    expect(section('Compatibility')).toMatch(/^\| Kubernetes \|/m);
    expect(section('Upgrade')).toContain('](docs/upgrade.md)');
  });
});

describe('README: enable and disable patch the KubeVirt CR as the webhook reads it', () => {
  const append = (): Operation[] => patchOf('kubevirt kubevirt', targets('/featureGates/-'));
  const create = (): Operation[] => patchOf('kubevirt kubevirt', (ops) => ops.some((o) => o.path.endsWith('/featureGates') && o.op === 'add'));

  test('the append patch turns KubeVirt 1.7 from off to inject and keeps the other gates', () => {
    const before = kubevirt('v1.7.2', { featureGates: ['CPUManager', 'Snapshot'] });
    expect(modeOf(before)).toBe('off');
    const after = apply(before, append());
    expect(modeOf(after)).toBe('inject');
    expect(gates(after)).toEqual(['CPUManager', 'Snapshot', GATE_NAME]);
  });

  test('as the README warns, the append patch fails without a featureGates list, and the create patch works', () => {
    const bare = kubevirt('v1.8.0', {});
    expect(() => apply(bare, append())).toThrow();
    expect(modeOf(apply(bare, create()))).toBe('inject');
  });

  test('the disable patch (index looked up, guarded by a test op) removes only our gate', () => {
    const on = kubevirt('v1.5.1', { featureGates: ['CPUManager', GATE_NAME, 'Snapshot'] });
    const i = String(gates(on).indexOf(GATE_NAME)); // what the README's jq `index(...)` prints
    const remove = patchOf('kubevirt kubevirt', (ops) => ops.some((o) => o.op === 'remove'), { i });
    const off = apply(on, remove);
    expect(modeOf(off)).toBe('off');
    expect(gates(off)).toEqual(['CPUManager', 'Snapshot']);
    // With a stale index the test op refuses instead of removing another gate.
    const staleRemove = patchOf('kubevirt kubevirt', (ops) => ops.some((o) => o.op === 'remove'), { i: '0' });
    expect(() => apply(on, staleRemove)).toThrow();
  });

  test('KubeVirt 1.9 needs disabledFeatureGates too, as the README says', () => {
    const beta = kubevirt('v1.9.0', { featureGates: ['CPUManager'] });
    expect(modeOf(beta)).toBe('coexist');
    const disabled = kubevirt('v1.9.0', { featureGates: ['CPUManager'], disabledFeatureGates: [GATE_NAME] });
    expect(modeOf(disabled)).toBe('off');
    expect(section('Enable and disable')).toContain('disabledFeatureGates');
  });
});

describe('README: names match the manifests and the code', () => {
  const objects = buildOverlay('default');
  const deployment = (): K8sObject => one(objects, 'Deployment');

  test('the gate-source override is `kubectl set env` by name, and gives mode "never" over the ConfigMap', () => {
    const line = commands().find((l) => l.includes(' set env deploy/premigration-hooks-webhook PREMIGRATION_HOOKS_GATE_SOURCE='));
    const words = shellWords(line ?? '');
    expect(words.slice(0, 4)).toEqual(['kubectl', '-n', deployment().metadata.namespace, 'set']);
    const [name, value] = (words.at(-1) ?? '').split('=') as [string, string];
    // What `kubectl set env` does: an env entry on the container, which beats envFrom.
    const container = structuredClone(at<{ args: string[]; env: { name: string; value: string }[] }[]>(deployment(), 'spec', 'template', 'spec', 'containers')[0]);
    if (!container) throw new Error('no container');
    expect(parseWebhookSettings(container.args.slice(1), containerEnv(objects, container)).gateSource).toBe('kubevirt');
    container.env.push({ name, value });
    expect(parseWebhookSettings(container.args.slice(1), containerEnv(objects, container)).gateSource).toBe('never');
    // No README command edits a Deployment by argument index any more.
    expect(commands().filter((l) => /\/args\/\d/.test(l))).toEqual([]);
  });

  test('the install commands need only kubectl: no standalone kustomize', () => {
    expect(commands().filter((l) => /(^|[;&|(]\s*)kustomize\s/.test(l))).toEqual([]);
    expect(read('docs/install.md')).not.toMatch(/^\s*(\(cd [^)]*&& )?kustomize edit/m);
  });

  test('the own-overlay commands, run as printed in a checkout, set the image of the webhook and of the injected pods', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pmh-readme-'));
    try {
      // The checkout, as the commands see it: its kustomize/ directory (and manifests/ it refers to).
      symlinkSync(path.join(REPO_ROOT, 'kustomize'), path.join(dir, 'kustomize'));
      symlinkSync(path.join(REPO_ROOT, 'manifests'), path.join(dir, 'manifests'));
      const lines = commands();
      const start = lines.findIndex((l) => l.startsWith('mkdir -p my-premigration-hooks'));
      const script = lines.slice(start, lines.findIndex((l, i) => i > start && l.startsWith('kubectl apply -k')));
      expect(script.length).toBe(2);
      execFileSync('/bin/sh', ['-c', script.join('\n')], { cwd: dir });
      const built = buildKustomization(path.join(dir, 'my-premigration-hooks'));
      const d = one(built, 'Deployment');
      const c = at<{ image: string; env: { name: string; value: string }[] }[]>(d, 'spec', 'template', 'spec', 'containers')[0];
      expect(c?.image).toBe('registry.example.com/premigration-hooks:0.1.0');
      expect(containerEnv(built, c ?? {}).PREMIGRATION_HOOKS_IMAGE).toBe(c?.image);
      expect(lines).toContain('kubectl apply -k my-premigration-hooks');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the distribution table names each overlay with the namespace it renders', () => {
    for (const overlay of ['default', 'openshift', 'hco'] as const) {
      const row = README.split('\n').find((l) => l.includes(`| \`kustomize/overlays/${overlay}\``));
      expect([overlay, row]).toEqual([overlay, expect.stringContaining(`| \`${KUBEVIRT_NAMESPACE[overlay]}\` |`)]);
      expect(one(buildOverlay(overlay), 'Role').metadata.namespace).toBe(KUBEVIRT_NAMESPACE[overlay]);
    }
  });

  test('every object the README names exists in the default overlay', () => {
    expect(README).toContain(`rollout status deploy/${deployment().metadata.name}`);
    const hook = one(objects, 'MutatingWebhookConfiguration');
    expect(README).toContain(`mutatingwebhookconfiguration ${hook.metadata.name}`);
    // Every Secret the README names is a Certificate's, or the report key the admin creates.
    const secrets = new Set([...README.matchAll(/the Secret `([^`]+)`/g)].map((m) => m[1] as string));
    const certSecrets = objects.filter((o) => o.kind === 'Certificate').map((o) => at<string>(o, 'spec', 'secretName'));
    expect(certSecrets).toContain('premigration-hooks-webhook-tls');
    expect([...secrets].filter((name) => !certSecrets.includes(name) && name !== 'premigration-hooks-report-key')).toEqual([]);
    expect(README).toContain('create secret generic premigration-hooks-report-key');
    const metricsService = /Service `(premigration-hooks[^`]*-metrics)`/.exec(README)?.[1];
    expect(objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name)).toContain(metricsService);
  });

  test('docs/install.md lists exactly the flags the Deployment already sets (set env cannot change those)', () => {
    const install = read('docs/install.md');
    const sentence = /those args are\s+([\s\S]*?)\.\n/.exec(install)?.[1] ?? '';
    const listed = [...sentence.matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1] as string);
    const args = at<{ args: string[] }[]>(deployment(), 'spec', 'template', 'spec', 'containers')[0]?.args ?? [];
    const set = args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0] as string);
    expect(listed.sort()).toEqual(set.sort());
  });

  test('every overlay the README applies exists', () => {
    // Also the alternatives the README gives as comments ("# or: kubectl apply -k …").
    // my-premigration-hooks is the admin's own, made by the command before it (tested above).
    const paths = [...README.matchAll(/kubectl (?:apply|delete) -k ([\w/.-]+)/g)].map((m) => m[1] as string).filter((p) => p !== 'my-premigration-hooks');
    expect(paths.length).toBeGreaterThanOrEqual(4);
    for (const p of paths) expect([p, read(path.join(p, 'kustomization.yaml')).length > 0]).toEqual([p, true]);
  });

  test('annotations, labels and container names are the ones the webhook uses', () => {
    expect(README).toContain(`${INJECTED_ANNOTATION.replace(/\./g, '\\.')}}`);
    expect(README).toContain(`-l ${MIGRATION_JOB_LABEL}=`);
    expect(README).toContain(`-c ${BASE_NAME} `);
    expect(README).toContain(`-c ${COMPUTE_CONTAINER} `);
    const optOut = commands().find((l) => l.includes(' annotate vmi '));
    const [key, value] = (shellWords(optOut ?? '').at(-1) ?? '').split('=');
    expect(key).toBe(INJECT_ANNOTATION);
    const pod = { metadata: { labels: { 'kubevirt.io': 'virt-launcher', [MIGRATION_JOB_LABEL]: 'u' }, annotations: { [key as string]: value } } };
    expect(targetSkipReason(pod)).toBe('opted-out');
  });
});

describe('README: links', () => {
  test('every relative link of the README and docs/install.md, docs/image.md points at an existing file', () => {
    const missing: string[] = [];
    for (const doc of ['README.md', 'docs/install.md', 'docs/image.md']) {
      for (const m of read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        if (!existsSync(path.join(REPO_ROOT, path.dirname(doc), target))) missing.push(`${doc} → ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('README: the metrics and alerts tables', () => {
  const firstCells = (text: string): string[] =>
    [...text.matchAll(/^\| `([A-Za-z_*]+)` \|/gm)].map((m) => m[1] as string);

  test('the metrics table and the code export the same series', () => {
    const sources = tsFilesUnder(path.join(REPO_ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const exported = new Set([...sources.matchAll(/(?:METRIC_PREFIX\}|premigration_hooks_)([a-z_]+)/g)].map((m) => m[1] as string));
    const documented = firstCells(section('Metrics')).filter((m) => !m.endsWith('*'));
    expect(documented.length).toBeGreaterThan(10);
    expect(documented.filter((m) => !exported.has(m))).toEqual([]);
    // …and the other way round: a new series needs its row.
    expect([...exported].filter((m) => !documented.includes(m)).sort()).toEqual([]);
  });

  test('the alerts table lists the PrometheusRule\'s alerts, each with a runbook section', () => {
    const rules = read('kustomize/components/monitoring/prometheusrule.yaml');
    const defined = new Set([...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1] as string));
    const documented = firstCells(section('Alerts'));
    expect(documented.length).toBeGreaterThanOrEqual(6);
    expect(documented.filter((a) => !defined.has(a))).toEqual([]);
    expect([...defined].filter((a) => !documented.includes(a))).toEqual([]);
    const runbooks = read('docs/runbooks.md');
    expect(documented.filter((a) => !runbooks.includes(`## ${a}`))).toEqual([]);
  });
});


describe('README: hooks, compatibility and cost, against the registry and the webhook', () => {
  const coexistCell = (level: string): string => (level === 'equivalent' ? 'not injected (upstream does it)' : level === 'partial' ? "injected, after upstream's" : 'injected');

  test('the hooks table is the registry: rule, upstream equivalence with its reason, coexist behaviour', () => {
    const rows = section('Compatibility').split('\n').filter((l) => /^\| `[a-z-]+` \|/.test(l));
    const expected = REGISTRY.entries.map((e) => `| \`${e.name}\` | ${e.appliesWhen ?? ''} | ${e.upstream.level}: ${e.upstream.reason} | ${coexistCell(e.upstream.level)} |`);
    expect(rows).toEqual(expected);
  });

  test('coexist mode does what the table says for the default hooks, and the flag the README names trusts upstream', () => {
    for (const e of REGISTRY.entries) {
      expect(REGISTRY.forMode('coexist', [e.name]).length > 0).toBe(e.upstream.level !== 'equivalent');
    }
    expect(section('Compatibility')).toContain('`--coexist-cpu-dedicated=false`');
    expect(parseWebhookSettings(['--dev-self-signed', '--image', 'x', '--coexist-cpu-dedicated=false']).inject.trustUpstream).toEqual(['cpu-dedicated']);
  });

  test('a VM no hook can change pays nothing: a shared-CPU target gets no patch under the defaults', () => {
    const cost = section('Which VMs get the sidecar, and what it costs');
    expect(cost).toMatch(/A VM that no hook can change pays \*\*nothing\*\*/);
    const pod = JSON.parse(read('test/fixtures/pods/kv15-shared-cpu.json')) as unknown;
    const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'x']).inject;
    const { review, outcome } = admit(
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'vms', operation: 'CREATE', object: pod } },
      { gate: { mode: 'inject', gateEnabled: true, reason: 'readme' }, settings },
    );
    expect(review.response.patch).toBeUndefined();
    expect(cost).toContain(`skip reason \`${outcome.reason}\``);
    // The reservation the README states is the webhook's default.
    expect(cost).toContain(`(${settings.guaranteed.cpu} / ${settings.guaranteed.memory}, requests = limits)`);
    expect(cost).toContain(`(${settings.burstable.cpu} /\n${settings.burstable.memory}, requests only)`); // wrapped in the README
    expect(settings.injectPolicy).toBe('needed');
    expect(settings.sidecarMode).toBe('auto');
  });

  test('every skip reason the README names is one the webhook produces', () => {
    const sources = tsFilesUnder(path.join(REPO_ROOT, 'src/webhook/admission')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const named = [...section('Which VMs get the sidecar, and what it costs').matchAll(/(?:\(|skip reason )`([a-z]+(?:-[a-z]+)+)`/g)].map((m) => m[1] as string);
    expect(named.sort()).toEqual(['limitrange-violation', 'no-applicable-hook', 'quota-exceeded', 'sidecar-unsupported']);
    for (const reason of named) expect(sources).toContain(`'${reason}'`);
  });
});

describe('docs/webhook.md: the per-hook rules are the registry\'s', () => {
  test('every built-in hook\'s appliesWhen is in the "Which hooks apply" table', () => {
    const doc = read('docs/webhook.md');
    for (const e of REGISTRY.entries) expect(doc).toContain(`| \`${e.name}\` | ${e.appliesWhen ?? ''} |`);
  });
});
