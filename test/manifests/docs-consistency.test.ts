/**
 * Doc claims that contradicted the code or each other once, held to the code:
 *  - the hook client is no_std (hookclient/src/main.rs), so no doc or Dockerfile comment may
 *    call it "std-only" or say it "uses only std";
 *  - a target pod that missed its hooks gets the domain KubeVirt computed (on the source, up to
 *    KubeVirt 1.7, README "What it does"), not "the pinning of its source node";
 *  - every repository path a doc, a YAML file or a script names exists (source files are held
 *    to the same rule by source-references.test.ts);
 *  - docs/webhook.md's flag table is the webhook's flag table, with the defaults its --help
 *    states (a merge once left the table and the code apart);
 *  - docs/install.md's "What gets created" names every object the overlays render (the
 *    ClusterRole for nodes, quotas and limit ranges was once missing, and the docs called the
 *    pods ClusterRole the webhook's only cluster-wide permission).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readdirRecursive } from '../support/files.js';
import { usage as webhookUsage } from '../../src/webhook/config/settings.js';
import { buildOverlay, REPO_ROOT } from './kustomize.js';

const read = (rel: string): string => readFileSync(path.join(REPO_ROOT, rel), 'utf8');
const DOCS = ['README.md', 'SECURITY.md', 'CHANGELOG.md', 'Dockerfile', ...readdirRecursive(path.join(REPO_ROOT, 'docs')).map((f) => path.relative(REPO_ROOT, f))];
// CHANGELOG.md quotes the old wording when it records the fix.
const PROSE = [...DOCS.filter((f) => f !== 'CHANGELOG.md'), 'kustomize/components/monitoring/prometheusrule.yaml', 'test/prometheus/rules.test.yml'];

test('the client is no_std, and nothing says otherwise', () => {
  expect(read('hookclient/src/main.rs')).toContain('#![cfg_attr(not(test), no_std)]');
  const wrong = PROSE.filter((f) => /std-only|uses only std|only the std\b/i.test(read(f)));
  expect(wrong).toEqual([]);
});

test('a missed injection is described as KubeVirt\'s own result, not as keeping the source node\'s pinning', () => {
  expect(read('README.md')).toMatch(/KubeVirt up to 1\.7 computes \*\*on the source\*\*/);
  const wrong = PROSE.filter((f) => /pinning of its source node|source node's pinning|keep their source CPU pinning/i.test(read(f)));
  expect(wrong).toEqual([]);
});

test('every repository path named in docs, YAML and scripts exists', () => {
  const files = [
    ...DOCS,
    ...['kustomize', 'manifests', 'test/prometheus', 'test/setup', 'test/image'].flatMap((d) => readdirRecursive(path.join(REPO_ROOT, d)).map((f) => path.relative(REPO_ROOT, f))),
  ].filter((f) => /(\.md|\.ya?ml|\.sh|Dockerfile)$/.test(f));
  const PATH_REF = /(?<![\w/.:-])((?:src|test|docs|bench|hookclient|kustomize|manifests|tools|assets)\/[\w./-]*[\w/-])(?![\w-])/g;
  // The example overlay docs/install.md tells the reader to create.
  const CREATED_BY_THE_READER = /^kustomize\/overlays\/my-kubevirt(\/|$)/;
  const missing: string[] = [];
  for (const file of files) {
    const text = read(file);
    for (const m of text.matchAll(PATH_REF)) {
      if (text[(m.index ?? 0) + m[0].length] === '*') continue; // a glob
      const ref = (m[1] as string).replace(/[.:,)/]+$/, '');
      if (ref.includes('<') || ref.includes('*') || ref.includes('…') || CREATED_BY_THE_READER.test(ref)) continue;
      const candidates = [path.join(REPO_ROOT, ref), path.join(REPO_ROOT, path.dirname(file), ref)];
      if (ref.endsWith('.js')) candidates.push(...candidates.map((c) => c.replace(/\.js$/, '.ts')));
      if (!candidates.some((c) => existsSync(c))) missing.push(`${file}: ${ref}`);
    }
  }
  expect(files.length).toBeGreaterThan(20);
  expect(missing).toEqual([]);
});

/** The rows of the first table after `heading` in a Markdown file, as cells. */
function tableAfter(text: string, heading: string): string[][] {
  const start = text.indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}"`);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    if (/^\|[-| ]+\|$/.test(line)) continue;
    rows.push(line.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows.slice(1); // without the header
}

test('docs/webhook.md lists exactly the webhook\'s flags, with the defaults --help states', () => {
  const help = webhookUsage();
  const helpLines = new Map([...help.matchAll(/^ {2}--([a-z-]+)[^\n]*$/gm)].map((m) => [m[1] as string, m[0]]));
  const rows = tableAfter(read('docs/webhook.md'), '## Flags');
  const documented = rows.flatMap((r) => [...(r[0] ?? '').matchAll(/--([a-z-]+)/g)].map((m) => m[1] as string));
  expect(documented.sort()).toEqual([...helpLines.keys()].sort());
  const mismatched: string[] = [];
  let compared = 0;
  for (const [flagCell, defaultCell] of rows) {
    const flags = [...(flagCell ?? '').matchAll(/--([a-z-]+)/g)].map((m) => m[1] as string);
    const defaults = (defaultCell ?? '').split(' / ').map((d) => d.replace(/`/g, '').trim());
    flags.forEach((flag, i) => {
      // "(default 8443)", "(default ::, IPv6…", "(default kubevirt: follow…": the value up to the first delimiter.
      const stated = /\(default ([^)\s;]+?)(?::\s|,\s|[)\s;])/.exec(helpLines.get(flag) ?? '')?.[1];
      if (stated === undefined) return;
      compared += 1;
      if (defaults[flags.length === defaults.length ? i : 0] !== stated) mismatched.push(`--${flag}: docs "${defaultCell}", --help "${stated}"`);
    });
  }
  expect(compared).toBeGreaterThan(25);
  expect(mismatched).toEqual([]);
});

test('docs/install.md "What gets created" names every object the prometheus overlay renders', () => {
  const rows = tableAfter(read('docs/install.md'), '## What gets created');
  const missing: string[] = [];
  for (const o of buildOverlay('prometheus')) {
    // The settings ConfigMap carries kustomize's content hash.
    const name = o.kind === 'ConfigMap' ? o.metadata.name.replace(/-[a-z0-9]{10}$/, '-<hash>') : o.metadata.name;
    const listed = rows.some(([kinds, names]) =>
      (kinds ?? '').split(/[,()]/).map((k) => k.trim()).includes(o.kind) && (names ?? '').includes(`\`${name}\``));
    if (!listed) missing.push(`${o.kind} ${name}`);
  }
  expect(missing).toEqual([]);
  // Two ClusterRoles: neither is the webhook's only cluster-wide permission.
  const wrong = [...PROSE, 'kustomize/components/no-target-pod-watch/kustomization.yaml', 'manifests/clusterrole.yaml']
    .filter((f) => /(only|one) cluster-wide permission/i.test(read(f)));
  expect(wrong).toEqual([]);
});
