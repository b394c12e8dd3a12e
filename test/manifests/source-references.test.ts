/**
 * Comments in the code may point only inside this repository: every `*.md` document and every
 * repository path (`src/…`, `test/…`, `docs/…`, `bench/…`, `hookclient/…`) that a source file
 * names must exist here.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readdirRecursive } from '../support/files.js';

const ROOT = process.cwd();
const SOURCES = ['src', 'test', 'bench', 'tools', 'hookclient/src']
  .flatMap((d) => readdirRecursive(path.join(ROOT, d)))
  .filter((f) => /\.(ts|js|rs)$/.test(f) && !f.includes(`${path.sep}fixtures${path.sep}`));

const PATH_REF = /(?<![\w/.-])((?:src|test|docs|bench|hookclient|kustomize|tools|assets)\/[\w./-]*[\w-]|[A-Z][A-Z_-]*\.md|[a-z][\w-]*\.md)(?![\w/-])/g;

/** Paths that a test names because they do not exist. */
const DELIBERATELY_MISSING = new Set(['src/nowhere']);

test('every repository path named in a source file exists', () => {
  const missing: string[] = [];
  for (const file of SOURCES) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(PATH_REF)) {
      const ref = (m[1] as string).replace(/[.:,)]+$/, '');
      if (ref.includes('<') || ref.includes('*') || DELIBERATELY_MISSING.has(ref)) continue;
      const candidates = [path.join(ROOT, ref), path.join(ROOT, 'docs', ref), path.join(ROOT, 'bench', ref), path.join(path.dirname(file), ref)];
      // A .js path names the .ts source it is compiled from.
      if (ref.endsWith('.js')) candidates.push(...candidates.map((c) => c.replace(/\.js$/, '.ts')));
      if (!candidates.some((c) => existsSync(c))) missing.push(`${path.relative(ROOT, file)}: ${ref}`);
    }
  }
  expect(missing).toEqual([]);
});
