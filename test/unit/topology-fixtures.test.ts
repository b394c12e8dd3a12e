/**
 * The committed sysfs and cgroup fixture trees are exactly what their generators produce, so a
 * hand edit (or a generator change without regenerating) cannot slip in unnoticed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const FIXTURES = join(process.cwd(), 'test/fixtures');

/** Relative path → content of every file under dir, generator script excluded. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name !== 'generate.mjs') files.set(relative(dir, path), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

describe.each(['sysfs', 'cgroup'])('test/fixtures/%s', (kind) => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), `topology-${kind}-`));
    execFileSync(process.execPath, [join(FIXTURES, kind, 'generate.mjs'), out]);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('matches its generator byte for byte', () => {
    const generated = snapshot(out);
    const committed = snapshot(join(FIXTURES, kind));
    expect(generated.size).toBeGreaterThan(10);
    expect([...committed.keys()].sort()).toEqual([...generated.keys()].sort());
    for (const [path, content] of generated) expect([path, committed.get(path)]).toEqual([path, content]);
  });
});
