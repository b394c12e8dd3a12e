/**
 * `mutate --site-hooks FILE --fact ...` and `explain` against the built CLI: every site-hook golden
 * case gives its expected.xml byte for byte on stdout with exit 0 (and the same again when fed its
 * own output), or exactly one stderr line, nothing on stdout and exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSiteGoldenCases } from '../golden/site-hooks/cases.js';
import { GOLDEN_DIR } from '../golden/cases.js';

const ROOT = join(GOLDEN_DIR, '..', '..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync('npm', ['run', 'build:ts', '--silent'], { cwd: ROOT, stdio: 'inherit' });
});

function run(args: string[], input: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each(loadSiteGoldenCases().map((c) => [c.name, c] as const))('mutate %s', (_name, c) => {
  test(c.expected !== undefined ? 'exit 0, expected.xml, then unchanged' : 'exit 2, one stderr line', () => {
    const r = run(['mutate', ...c.argv], c.input);
    if (c.expected !== undefined) {
      expect(r).toEqual({ code: 0, stdout: c.expected, stderr: '' });
      expect(run(['mutate', ...c.argv], c.expected)).toEqual({ code: 0, stdout: c.expected, stderr: '' });
    } else {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.replace(`${c.dir}/`, '')).toBe(`premigration-hooks mutate: ${c.expectedError!}\n`);
    }
  });
});

describe('explain --site-hooks', () => {
  const c = loadSiteGoldenCases().find((x) => x.name === 'iotune-node-class')!;
  test("shows each site hook's edits, its changes in the diff and the summary", () => {
    const r = run(['explain', ...c.argv], c.input);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('site hooks (order, name: edits):');
    expect(r.stdout).toContain('  5 site:iotune-hdd-nodes: 2 changes');
    expect(r.stdout).toContain("      2. devices/disk[target/@dev='vda']: appendXML <iotune>");
    expect(r.stdout).toContain('+        <total_iops_sec>500</total_iops_sec>');
    expect(r.stdout).toMatch(/site:iotune-hdd-nodes +devices\/disk\[2\]\/iotune\/total_bytes_sec +10485760 → 52428800/);
    expect(r.stdout).toContain('no --cpuset: only the site hooks run');
  });
  test('onError: pass shows the skipped site hook and why', () => {
    const p = loadSiteGoldenCases().find((x) => x.name === 'on-error-pass')!;
    const r = run(['explain', ...p.argv], p.input);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0 site:optional: skipped (onError: pass): site:optional: edit 2');
  });
  test('an unknown --fact name is one line and exit 2', () => {
    const r = run(['mutate', ...c.argv, '--fact', 'node.zone=a'], c.input);
    expect(r).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^premigration-hooks mutate: --fact node.zone: unknown fact; known facts: node.name,/) as string });
  });
});

describe('facts without --cpuset', () => {
  const c = loadSiteGoldenCases().find((x) => x.name === 'disk-node-local')!;
  test('an unreadable topology does not matter when no measured fact is used', () => {
    const r = run(['mutate', ...c.argv, '--sysfs', '/nonexistent-sysfs'], c.input);
    expect(r).toEqual({ code: 0, stdout: c.expected, stderr: '' });
  });
  test('--fact beats a measured fact; without a measurement a fact must be given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmh-facts-'));
    try {
      const file = join(dir, 'h.yaml');
      writeFileSync(file, 'apiVersion: premigration-hooks.kubevirt.io/v1alpha1\nkind: SiteHook\nmetadata: {name: f}\nspec:\n  edits:\n    - select: metadata\n      appendXML: <f:cpus xmlns:f="urn:f" set="${cpuset}" numa="${numa.nodes}"/>\n');
      const given = run(['mutate', '--site-hooks', file, '--fact', 'cpuset=9-10', '--fact', 'numa.nodes=1'], c.input);
      expect(given.code).toBe(0);
      expect(given.stdout).toContain('<f:cpus xmlns:f="urn:f" set="9-10" numa="1"/>');
      const unmeasured = run(['mutate', '--site-hooks', file, '--sysfs', '/nonexistent-sysfs'], c.input);
      expect(unmeasured).toEqual({ code: 2, stdout: '', stderr: 'premigration-hooks mutate: site:f: edit 1 (select "metadata"): fact ${cpuset} has no value on this target\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
