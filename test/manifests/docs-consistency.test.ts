/**
 * Doc claims that contradicted the code or each other once, held to the code:
 *  - the hook client is no_std (hookclient/src/main.rs), so no doc or Dockerfile comment may
 *    call it "std-only" or say it "uses only std";
 *  - a target pod that missed its hooks gets the domain KubeVirt computed (on the source, up to
 *    KubeVirt 1.7, README "What it does"), not "the pinning of its source node";
 *  - every repository path a doc, a YAML file or a script names exists (source files are held
 *    to the same rule by source-references.test.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readdirRecursive } from '../support/files.js';
import { REPO_ROOT } from './kustomize.js';

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
