/**
 * `premigration-hooks demo` (what `npm run demo` runs): `explain` on a bundled KubeVirt-like
 * dedicated-CPU domain, once against this machine's real topology and cgroup cpuset, once against
 * a 2-socket node from the test fixtures. No cluster, no libvirt: the same chain the in-pod server
 * runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags, reportUsageError, usageText } from '../../shared/flags.js';
import { runChain } from '../../core/chain.js';
import { PremigrationError } from '../../core/errors.js';
import { readGuestCpuSignals } from '../../core/hooks/cpu-dedicated.js';
import { readCgroupCpuset } from '../../node/index.js';
import { formatCpuList } from '../../core/topology/index.js';
import { describeTopology } from '../../core/topology/index.js';
import type { HostTopology } from '../../core/topology/index.js';
import { DomainXml } from '../../core/xml/index.js';
import { loadHost, NO_SITE_HOOKS, type ChainFlags } from './chain-flags.js';
import { renderExplanation } from './explain.js';

const DEMO_DOMAIN = 'assets/demo-domain.xml';
const FIXTURE = 'test/fixtures/sysfs/2s-smt2-interleaved';
/** Two whole cores of cell 1 on the fixture: (5,13) for the vCPUs, (7,15) for the spare threads. */
const FIXTURE_CPUSET = [5, 7, 13, 15];

/** The install root: the nearest ancestor of this file that holds the demo domain (repo or image). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, DEMO_DOMAIN))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${DEMO_DOMAIN} not found above ${fileURLToPath(import.meta.url)}; this installation does not ship the demo`);
    dir = parent;
  }
}

function indent(text: string, by = '  '): string {
  return text.trimEnd().split('\n').map((l) => (l ? by + l : l)).join('\n');
}

/** Exclusive CPUs the domain asks for: enabled vCPUs + isolated emulator + supplemental iothreads. */
function cpusNeeded(xml: string): { count: number; why: string } {
  const s = readGuestCpuSignals(DomainXml.parse(xml));
  const supplemental = s.iothreads?.supplemental ? s.iothreads.ids.length : 0;
  const parts = [`${s.enabledVcpus.length} vCPUs`];
  if (s.emulatorCpus) parts.push(`${s.emulatorCpus} for the isolated emulator thread`);
  if (supplemental) parts.push(`${supplemental} supplemental iothreads`);
  return { count: s.enabledVcpus.length + s.emulatorCpus + supplemental, why: parts.join(' + ') };
}

function withoutEmulatorIsolation(xml: string): string {
  const doc = DomainXml.parse(xml);
  doc.selectOne('cputune/emulatorpin')?.remove();
  return doc.serialize();
}

function explainOrRefusal(xml: string, flags: ChainFlags, host: HostTopology): { text: string; refused: boolean } {
  const ctx = { cpuset: flags.cpuset, host, ...(flags.sourceNamespace ? { sourceNamespace: flags.sourceNamespace, targetNamespace: flags.targetNamespace } : {}) };
  try {
    return { text: renderExplanation({ input: xml, result: runChain(xml, ctx), flags, host }), refused: false };
  } catch (err) {
    if (!(err instanceof PremigrationError)) throw err;
    return { text: `mutate would exit 2 with:\n  ${err.message}\n`, refused: true };
  }
}

function thisMachine(domain: string, out: string[]): void {
  const host = loadHost('/sys');
  const cgroup = readCgroupCpuset();
  const { count: needed, why } = cpusNeeded(domain);
  out.push(`[1/2] This machine: ${describeTopology(host)} (read from /sys)`);
  out.push(`      cpuset of this process: ${formatCpuList(cgroup.cpus)} (${cgroup.source}, ${cgroup.path})`);

  let cpuset = cgroup.cpus.filter((c) => host.cpus.has(c));
  if (cpuset.length > needed) {
    // A Guaranteed pod gets exactly the CPUs it asks for; the kubelet usually keeps CPU 0 for the
    // system, so take the highest ones.
    cpuset = cpuset.slice(-needed);
    out.push(`      A dedicated-CPU pod would get exactly ${needed} exclusive CPUs; the demo uses the last ${needed} of them: ${formatCpuList(cpuset)}.`);
  }
  const flags: ChainFlags = { cpuset, sysfs: '/sys', hooks: undefined, sourceNamespace: undefined, targetNamespace: undefined, ...NO_SITE_HOOKS };
  let xml = domain;
  if (cpuset.length < needed) {
    out.push(`      The domain needs ${needed} exclusive CPUs (${why}); this machine offers ${cpuset.length}.`);
    out.push(indent(explainOrRefusal(domain, flags, host).text, '      '));
    xml = withoutEmulatorIsolation(domain);
    out.push(`      So here is the same VM without emulator-thread isolation (<emulatorpin> removed), which needs ${cpusNeeded(xml).count}:`);
  }
  out.push('');
  out.push(indent(explainOrRefusal(xml, flags, host).text));
}

function twoSocketNode(root: string, domain: string, out: string[]): void {
  const sysfs = join(root, FIXTURE);
  out.push(`[2/2] A 2-socket node (fixture ${FIXTURE}): CPUs interleave between sockets, hyperthread siblings are 8 apart (0+8, 1+9, …)`);
  if (!existsSync(sysfs)) {
    out.push('      skipped: this installation does not ship the test fixtures.');
    return;
  }
  const host = loadHost(sysfs);
  out.push(`      The target pod got CPUs ${formatCpuList(FIXTURE_CPUSET)} (two whole cores of NUMA cell 1), and the VM moves from namespace team-a to team-b.`);
  out.push('      Expect: the 2 vCPUs on sibling threads 5,13; emulator and iothread on 7; NUMA memory in cell 1; the cloud-init path in team-b.');
  out.push('');
  const flags: ChainFlags = { cpuset: FIXTURE_CPUSET, sysfs: relative(process.cwd(), sysfs) || sysfs, hooks: undefined, sourceNamespace: 'team-a', targetNamespace: 'team-b', ...NO_SITE_HOOKS };
  out.push(indent(explainOrRefusal(domain, flags, host).text));
}

export function main(argv: string[]): Promise<number> {
  return Promise.resolve(run(argv));
}

function run(argv: string[]): number {
  try {
    if (parseFlags({}, argv).help) {
      process.stdout.write(usageText('demo', '', {}, 'Run explain on a bundled KubeVirt dedicated-CPU domain against this machine and a 2-socket fixture.'));
      return 0;
    }
  } catch (err) {
    return reportUsageError('demo', err);
  }
  const root = findRoot();
  const domain = readFileSync(join(root, DEMO_DOMAIN), 'utf8');
  const out: string[] = [
    'premigration-hooks demo — the target-side rewrite of a KubeVirt live migration, without a cluster',
    '',
    `During a migration, libvirt on the target hands the VM's domain XML — still pinned to the SOURCE node's CPUs —`,
    'to the hook, which re-pins it for the target pod\'s exclusive CPUs and the target node\'s topology, the way',
    'KubeVirt would have placed the VM there, and refuses (exit 2) when it cannot fit.',
    '',
    `Bundled domain ${DEMO_DOMAIN}: 2 vCPUs as 1 core × 2 threads, isolated emulator thread, 1 iothread,`,
    'NUMA passthrough (1 guest cell), a cloud-init disk under namespace team-a. Source pins: vCPUs 26,74;',
    'emulator and iothread 27; memory on host cell 3.',
    '',
  ];
  thisMachine(domain, out);
  out.push('');
  twoSocketNode(root, domain, out);
  out.push('');
  // Run through npm (`npm run demo` in a checkout) the CLI is not on PATH, but `npx` finds the
  // package's own bin; in the image (`docker run <image> demo`) it is on PATH and npx is not.
  const cli = process.env.npm_lifecycle_event !== undefined ? 'npx premigration-hooks' : 'premigration-hooks';
  out.push(`Try it yourself: ${cli} mutate --cpuset 5,7,13,15 --sysfs ${FIXTURE} < ${DEMO_DOMAIN}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
