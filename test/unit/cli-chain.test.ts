/**
 * The CLI contract, against the built CLI (`node dist/src/cli/main.js`; `npm test` builds first, and
 * this file builds once more if dist/ is missing): exit codes, stdout, and exactly one stderr line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GOLDEN_DIR, SYSFS_FIXTURES } from '../golden/cases.js';

const ROOT = join(GOLDEN_DIR, '..', '..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync('npm', ['run', 'build:ts', '--silent'], { cwd: ROOT, stdio: 'inherit' });
});

function run(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const golden = (p: string): string => readFileSync(join(GOLDEN_DIR, p), 'utf8');
const fixture = (name: string): string => join(SYSFS_FIXTURES, name);

function expectOneLineError(r: ReturnType<typeof run>, pattern: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

describe('mutate', () => {
  test('prints the re-pinned XML and exits 0', () => {
    const r = run(['mutate', '--cpuset', '1,3,9,11', '--sysfs', fixture('2s-smt2-interleaved')], golden('cpu-dedicated/vcpu-pins-smt-siblings/input.xml'));
    expect(r).toEqual({ code: 0, stdout: golden('cpu-dedicated/vcpu-pins-smt-siblings/expected.xml'), stderr: '' });
  });

  test("KubeVirt's own case with the default hooks and namespaces given", () => {
    const r = run(['mutate', '--cpuset', '6,7', '--sysfs', fixture('1s-smt2'), '--source-namespace', 'a', '--target-namespace', 'b'], golden('cpu-dedicated/kubevirt-cpuhook-test/input.xml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden('cpu-dedicated/kubevirt-cpuhook-test/expected.xml'));
  });

  test('unchanged: prints the input byte for byte (here without a trailing newline)', () => {
    const input = golden('cpu-dedicated/kubevirt-cpuhook-test/input.xml');
    const r = run(['mutate', '--cpuset', '4-5', '--sysfs', fixture('1s-smt2')], input);
    expect(r).toEqual({ code: 0, stdout: input, stderr: '' });
  });

  test('--hooks selects hooks; disk-namespace alone leaves the pins', () => {
    const r = run(['mutate', '--cpuset', '1-3', '--sysfs', fixture('1s-nosmt'), '--hooks', 'disk-namespace', '--source-namespace', 'ns-a', '--target-namespace', 'ns-b'], golden('chain/cross-namespace-dedicated/input.xml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/cloud-init-data/ns-b/');
    expect(r.stdout).toContain("<vcpupin vcpu='0' cpuset='6'/>");
  });

  test('a refusal: exit 2, one stderr line, nothing on stdout', () => {
    const r = run(['mutate', '--cpuset', '6-7', '--sysfs', fixture('1s-nosmt')], golden('cpu-dedicated/not-enough-cpus/input.xml'));
    expectOneLineError(r, /^premigration-hooks mutate: cpu-dedicated: not enough exclusive threads provided, could not fit \d+ core\(s\): /);
  });

  test.each([
    ['missing --cpuset', ['mutate'], /--cpuset is required/],
    ['bad cpuset', ['mutate', '--cpuset', '3-1'], /invalid CPU list "3-1"/],
    ['unknown flag', ['mutate', '--cpuset', '1', '--cpus', '2'], /unknown flag --cpus/],
    ['unknown hook', ['mutate', '--cpuset', '1', '--hooks', 'cpu-dedicated,nope'], /unknown hook "nope"; valid hooks: cpu-dedicated, disk-namespace/],
    ['a namespace that is not a Kubernetes name', ['mutate', '--cpuset', '1', '--source-namespace', 'A'], /--source-namespace is not a valid namespace name: "A"/],
    ['sysfs root that is not one', ['mutate', '--cpuset', '1', '--sysfs', '/nonexistent'], /does not look like a sysfs root/],
  ])('bad flags (%s): exit 2, one stderr line', (_what, args, pattern) => {
    expectOneLineError(run(args, golden('cpu-dedicated/kubevirt-cpuhook-test/input.xml')), pattern);
  });

  test('malformed XML: exit 2 with line and column', () => {
    expectOneLineError(run(['mutate', '--cpuset', '1', '--sysfs', fixture('1s-nosmt')], "<domain>\n  <name>x</nam>\n</domain>\n"), /line 2/);
  });

  test('--help prints the usage on stdout and exits 0', () => {
    const r = run(['mutate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: premigration-hooks mutate --cpuset <list>/);
  });
});

describe('explain', () => {
  test('shows the diff, the hooks, the pins before → after, and masks passwords', () => {
    const r = run(['explain', '--cpuset', '1-3', '--sysfs', fixture('1s-nosmt'), '--source-namespace', 'ns-a', '--target-namespace', 'ns-b'], golden('chain/cross-namespace-dedicated/input.xml'));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain("-    <vcpupin vcpu='0' cpuset='6'/>\n-    <vcpupin vcpu='1' cpuset='7'/>\n-    <emulatorpin cpuset='8'/>\n+    <vcpupin vcpu='0' cpuset='1'/>");
    expect(r.stdout).toMatch(/cpu-dedicated\s+ran\s+3 changes/);
    expect(r.stdout).toMatch(/disk-namespace\s+ran\s+1 change\b/);
    expect(r.stdout).toMatch(/cputune\/emulatorpin\/@cpuset\s+8 → 3/);
    expect(r.stdout).toContain('result:  4 changes, ABI guard passed');
    expect(r.stdout).not.toContain('s3cret');
  });

  test('a decentralized domain with an ambiguous source identity: unchanged, and the note says why', () => {
    const r = run(['explain', '--cpuset', '0', '--sysfs', fixture('1s-nosmt'), '--hooks', 'disk-namespace'], golden('disk-namespace/ambiguous-names-unchanged/input.xml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/disk-namespace\s+ran\s+0 changes/);
    expect(r.stdout).toMatch(/notes:\n {2}disk-namespace: left the domain unchanged: the source identity is ambiguous: the paths name the VMIs testvmi, othervmi/);
    expect(r.stdout).toContain('result:  unchanged');
  });

  test('mutate moves a renamed VM without any flag: <name> gives the target, the paths the source', () => {
    const input = golden('disk-namespace/nocloud-rename-x86_64/input.xml');
    const r = run(['mutate', '--cpuset', '0', '--sysfs', fixture('1s-nosmt'), '--hooks', 'disk-namespace'], input);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden('disk-namespace/nocloud-rename-x86_64/expected.xml'));
  });

  test('no change is said plainly', () => {
    const r = run(['explain', '--cpuset', '4-5', '--sysfs', fixture('1s-smt2')], golden('cpu-dedicated/kubevirt-cpuhook-test/input.xml'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No change: the domain already fits this target');
    expect(r.stdout).toMatch(/cpu-dedicated\s+ran\s+0 changes/);
  });

  test('a refusal: exit 2 and one stderr line, like mutate', () => {
    expectOneLineError(run(['explain', '--cpuset', '0,2-3,8', '--sysfs', fixture('2s-smt2-interleaved')], golden('cpu-dedicated/numa-passthrough-strict-refusal/input.xml')), /without crossing numa cell boundaries for individual cores/);
  });
});

test('demo runs against this machine and the 2-socket fixture', () => {
  const r = run(['demo']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('[1/2] This machine:');
  expect(r.stdout).toContain('[2/2] A 2-socket node');
  expect(r.stdout).toMatch(/vcpupin\[@vcpu='1'\]\/@cpuset\s+74 → 13/);
  expect(r.stdout).toContain('ABI guard passed');
  expect(r.stdout).not.toContain('not-a-real-secret');
});
