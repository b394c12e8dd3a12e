/**
 * Property test for hosts whose SMT siblings are numbered adjacently (sysfs and libvirt write
 * them as ranges: `4-5`, `8-11`), over generated hosts (1-2 NUMA cells, SMT-2 or SMT-4), guests
 * (1, 2 or 4 threads per core, with and without NUMA passthrough) and cpusets that mostly start
 * inside a core.
 *
 * "KubeVirt's placement" is modelled from the verified facts: KubeVirt drops sibling ranges, so
 * every CPU is a one-thread core, and its pool then runs the same placement we port. That is our
 * own planPinning over the host with the siblings removed. The domain arrives pinned that way
 * (as KubeVirt ≤ 1.7's source, or 1.8+'s own target hook, leaves it), and the chain must:
 * - leave it unchanged, byte for byte, where that placement equals ours (always with 1 thread);
 * - otherwise move exactly the vCPUs whose pins differ, and name exactly those as mis-pinned;
 * - put every guest core on a single host core whenever the cpuset has enough whole cores,
 *   which KubeVirt's placement fails to do in some generated case (else the test proves little);
 * - be idempotent on its own output.
 */
import { runChain } from '../../src/core/chain.js';
import { PremigrationError } from '../../src/core/errors.js';
import { correctedVcpus } from '../../src/core/hooks/cpu-dedicated.js';
import { planPinning, pinningHostFrom, type PinningHost, type PinningPlan } from '../../src/core/hooks/pinning.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { formatCpuList, parseCpuList } from '../../src/core/topology/index.js';
import { DomainXml } from '../../src/core/xml/index.js';
import { inlineHost } from '../golden/cases.js';

/** Small deterministic PRNG (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

interface Host {
  ctx: HookContext['host'];
  smt: number;
  total: number;
  /** Siblings as the range text sysfs writes, by CPU. */
  rangeText: Map<number, string>;
}

/** Cells of `coresPerCell` cores each; core k holds CPUs k*smt … k*smt+smt-1, written `a-b`. */
function adjacentHost(r: () => number): Host {
  const cellsCount = pick(r, [1, 2]);
  const coresPerCell = 2 + Math.floor(r() * 5);
  const smt = pick(r, [2, 2, 4]);
  const cells: Record<string, string> = {};
  const cores: string[] = [];
  const rangeText = new Map<number, string>();
  for (let cell = 0; cell < cellsCount; cell++) {
    const first = cell * coresPerCell * smt;
    cells[String(cell)] = `${first}-${first + coresPerCell * smt - 1}`;
    for (let k = 0; k < coresPerCell; k++) {
      const lo = first + k * smt;
      const text = `${lo}-${lo + smt - 1}`;
      cores.push(text);
      for (let c = lo; c < lo + smt; c++) rangeText.set(c, text);
    }
  }
  return { ctx: inlineHost({ cells, cores }), smt, total: cellsCount * coresPerCell * smt, rangeText };
}

/** KubeVirt's parser of a siblings attribute: split on ',', keep what parses as an integer. */
function kubevirtSiblings(text: string): number[] {
  return text.split(',').filter((s) => /^\d+$/.test(s)).map(Number);
}

interface Guest {
  sockets: number;
  cores: number;
  threads: number;
  numa: boolean;
}

function guest(r: () => number): Guest {
  const threads = pick(r, [1, 2, 2, 4]);
  const cores = 1 + Math.floor(r() * (threads === 4 ? 2 : 3));
  const sockets = pick(r, [1, 2]);
  return { sockets, cores, threads, numa: sockets === 2 && r() < 0.4 };
}

function vcpuCount(g: Guest): number {
  return g.sockets * g.cores * g.threads;
}

function placement(g: Guest, host: PinningHost, cpuset: number[]): PinningPlan {
  const n = vcpuCount(g);
  const vcpus = Array.from({ length: n }, (_, i) => i);
  const guestCells = g.numa ? [{ id: 0, vcpus: vcpus.slice(0, n / 2) }, { id: 1, vcpus: vcpus.slice(n / 2) }] : [];
  return planPinning({ threadsPerCore: g.threads, vcpus, cpuset, host, numaPassthrough: g.numa, emulatorCpus: 0, guestCells });
}

/** The domain as KubeVirt's placement leaves it: pins, and under NUMA passthrough its numatune. */
function domainPinnedBy(g: Guest, plan: PinningPlan): string {
  const n = vcpuCount(g);
  const pins = [...plan.vcpuPins].map(([v, cpu]) => `    <vcpupin vcpu='${v}' cpuset='${cpu}'/>`).join('\n');
  const numatune = g.numa
    ? `\n  <numatune>\n    <memory mode='strict' nodeset='${formatCpuList(plan.hostCellsUsed)}'/>\n` +
      [...plan.guestCellHostCells].map(([cell, hostCells]) => `    <memnode cellid='${cell}' mode='strict' nodeset='${formatCpuList(hostCells)}'/>`).join('\n') +
      '\n  </numatune>'
    : '';
  const cells = g.numa
    ? `\n    <numa>\n      <cell id='0' cpus='0-${n / 2 - 1}' memory='65536' unit='KiB'/>\n      <cell id='1' cpus='${n / 2}-${n - 1}' memory='65536' unit='KiB'/>\n    </numa>`
    : '';
  return `<domain type='kvm'>
  <name>default_adjacent</name>
  <memory unit='KiB'>131072</memory>
  <vcpu placement='static'>${n}</vcpu>
  <cputune>
${pins}
  </cputune>${numatune}
  <cpu mode='host-passthrough'>
    <topology sockets='${g.sockets}' dies='1' cores='${g.cores}' threads='${g.threads}'/>${cells}
  </cpu>
</domain>
`;
}

/** A window of the host's CPUs with room for `need` of them, that usually starts inside a core, sometimes with a hole. */
function cpusetFor(r: () => number, h: Host, need: number): number[] {
  const length = Math.min(h.total, need + Math.floor(r() * 2 * h.smt));
  const start = Math.floor(r() * (h.total - length + 1));
  const cpus = Array.from({ length }, (_, i) => start + i);
  if (cpus.length > 3 && r() < 0.2) cpus.splice(1 + Math.floor(r() * (cpus.length - 2)), 1);
  return cpus;
}

/** The sibling set (a host core) each pinned CPU belongs to, per guest core. */
function hostCoresPerGuestCore(plan: PinningPlan, t: number, h: Host): string[][] {
  const pins = [...plan.vcpuPins.values()];
  const out: string[][] = [];
  for (let i = 0; i < pins.length; i += t) out.push([...new Set(pins.slice(i, i + t).map((cpu) => h.rangeText.get(cpu) ?? '?'))]);
  return out;
}

/** How many guest cores of t threads fit on whole host cores of this cpuset. */
function wholeCoreCapacity(h: Host, cpuset: number[], t: number): number {
  const allowed = new Set(cpuset);
  let capacity = 0;
  for (const text of new Set(h.rangeText.values())) capacity += Math.floor(parseCpuList(text).filter((c) => allowed.has(c)).length / t);
  return capacity;
}

describe('adjacent-sibling hosts: KubeVirt drops the ranges, we correct exactly what it got wrong (400 seeds)', () => {
  it('the KubeVirt parser model: a range is dropped, a comma list kept (the facts the model rests on)', () => {
    expect(kubevirtSiblings('4-5')).toEqual([]);
    expect(kubevirtSiblings('0,2-3')).toEqual([0]);
    expect(kubevirtSiblings('2-3,6')).toEqual([6]);
    expect(kubevirtSiblings('4,5')).toEqual([4, 5]);
  });

  it('unchanged where KubeVirt is right, exactly its mis-pinned vCPUs corrected where not', () => {
    const failures: string[] = [];
    const outcomes = { unchanged: 0, corrected: 0, refused: 0, kubevirtRefused: 0, kubevirtSplitWholeCores: 0, threads1: 0, twoCells: 0, startsInsideCore: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed);
      const h = adjacentHost(r);
      const g = guest(r);
      const cpuset = cpusetFor(r, h, vcpuCount(g));
      const ours = pinningHostFrom(h.ctx);
      // KubeVirt's view: the same cells, siblings parsed its way (ranges → nothing → one-thread cores).
      const kubevirtView: PinningHost = { cells: ours.cells, siblings: new Map([...h.rangeText].map(([cpu, text]) => [cpu, kubevirtSiblings(text)])) };
      let theirs: PinningPlan;
      try {
        theirs = placement(g, kubevirtView, cpuset);
      } catch {
        outcomes.kubevirtRefused++;
        continue;
      }
      const ctx: HookContext = { cpuset, host: h.ctx };
      const input = domainPinnedBy(g, theirs);
      const label = `seed ${seed} (${g.sockets}x${g.cores}x${g.threads}${g.numa ? ' numa' : ''}, smt ${h.smt}, cpuset ${formatCpuList(cpuset)})`;
      let result;
      try {
        result = runChain(input, ctx, { hooks: ['cpu-dedicated'] });
      } catch (err) {
        if (err instanceof PremigrationError && err.kind === 'refusal') {
          outcomes.refused++;
          continue;
        }
        failures.push(`${label}: ${(err as Error).message}`);
        continue;
      }
      if (g.threads === 1) outcomes.threads1++;
      if (h.ctx.cells.length === 2) outcomes.twoCells++;
      if ((cpuset[0] as number) % h.smt !== 0) outcomes.startsInsideCore++;
      const wanted = placement(g, ours, cpuset);
      const differs = [...wanted.vcpuPins].filter(([v, cpu]) => theirs.vcpuPins.get(v) !== cpu).map(([v]) => v);

      if (differs.length === 0) {
        outcomes.unchanged++;
        if (result.changed || result.xml !== input) failures.push(`${label}: KubeVirt's placement equals ours, yet the hook changed ${result.changes.map((c) => c.path).join(', ')}`);
      } else {
        outcomes.corrected++;
        if (JSON.stringify(correctedVcpus(result.changes)) !== JSON.stringify(differs)) {
          failures.push(`${label}: named ${correctedVcpus(result.changes).join(',')} as mis-pinned, expected ${differs.join(',')}`);
        }
        const pins = DomainXml.parse(result.xml).select('cputune/vcpupin').map((p) => Number(p.attr('cpuset')));
        if (JSON.stringify(pins) !== JSON.stringify([...wanted.vcpuPins.values()])) failures.push(`${label}: pins ${pins.join(',')} are not our placement`);
        if (runChain(result.xml, ctx, { hooks: ['cpu-dedicated'] }).changed) failures.push(`${label}: not idempotent`);
      }
      // With one thread per guest core, the dropped siblings cannot matter on these hosts.
      if (g.threads === 1 && differs.length > 0) failures.push(`${label}: 1 thread per core, yet KubeVirt's placement differs from ours`);

      // Enough whole cores: every guest core of ours lies on one host core; count where KubeVirt's does not.
      const guestCores = vcpuCount(g) / g.threads;
      if (wholeCoreCapacity(h, cpuset, g.threads) >= guestCores) {
        const split = hostCoresPerGuestCore(wanted, g.threads, h).filter((cores) => cores.length > 1);
        if (split.length > 0) failures.push(`${label}: enough whole cores, yet ours splits a guest core over ${split.map((c) => c.join(' + ')).join('; ')}`);
        if (hostCoresPerGuestCore(theirs, g.threads, h).some((cores) => cores.length > 1)) outcomes.kubevirtSplitWholeCores++;
      }
    }
    expect(failures).toEqual([]);
    // The generator must reach every branch, or the test proves little.
    expect(outcomes.corrected).toBeGreaterThan(50);
    expect(outcomes.unchanged).toBeGreaterThan(100);
    expect(outcomes.kubevirtSplitWholeCores).toBeGreaterThan(30);
    expect(outcomes.threads1).toBeGreaterThan(50);
    expect(outcomes.twoCells).toBeGreaterThan(100);
    expect(outcomes.startsInsideCore).toBeGreaterThan(100);
    expect(outcomes.refused + outcomes.kubevirtRefused).toBeGreaterThan(0);
  });
});
