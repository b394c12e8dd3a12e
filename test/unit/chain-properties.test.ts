import { DEFAULT_HOOKS } from '../../src/core/hooks/registry.js';
/**
 * The chain against inputs nobody hand-picked:
 * - every corpus domain, on a large 2-socket SMT-2 host: the chain either returns a well-formed,
 *   ABI-clean, idempotent XML or refuses with one of its own error kinds — never a crash;
 * - generated guests × generated hosts × generated cpusets: whenever the chain accepts, the pins
 *   are distinct CPUs of the cpuset, one per enabled vCPU, and under NUMA passthrough each
 *   memnode covers exactly the host cells its guest cell's vCPUs landed in.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareDomains } from '../../src/core/abi-guard.js';
import { runChain } from '../../src/core/chain.js';
import { PremigrationError } from '../../src/core/errors.js';
import type { HookContext } from '../../src/core/hooks/types.js';
import { formatCpuList, parseCpuList } from '../../src/core/topology/index.js';
import { DomainXml } from '../../src/core/xml/index.js';
import { inlineHost } from '../golden/cases.js';

const CORPORA = [join(import.meta.dirname, '../fixtures/corpus'), join(import.meta.dirname, '../../../shared/corpus')];

function corpusFiles(): string[] {
  const seen = new Map<string, string>();
  for (const root of CORPORA) {
    for (const kind of ['kubevirt', 'libvirt', 'edge']) {
      const dir = join(root, kind);
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (f.endsWith('.xml') && !seen.has(`${kind}/${f}`)) seen.set(`${kind}/${f}`, join(dir, f));
    }
  }
  return [...seen.values()];
}

/** 2 sockets = 2 cells, 32 cores each, SMT-2 with far-apart siblings (i, i+64): a common server. */
function bigHost(): HookContext['host'] {
  const cores: string[] = [];
  for (let i = 0; i < 64; i++) cores.push(`${i},${i + 64}`);
  return inlineHost({ cells: { 0: '0-31,64-95', 1: '32-63,96-127' }, cores });
}

describe('every corpus domain, on a 128-CPU host with the whole host as cpuset', () => {
  const files = corpusFiles();
  const ctx: HookContext = { cpuset: parseCpuList('0-127'), host: bigHost(), sourceNamespace: 'ns-a', targetNamespace: 'ns-b' };

  it('covers the corpus', () => {
    expect(files.length).toBeGreaterThanOrEqual(50);
  });

  it('returns a valid idempotent result or refuses with a PremigrationError, never crashes', () => {
    const outcomes = { changed: 0, unchanged: 0, refused: 0 };
    const crashes: string[] = [];
    for (const file of files) {
      const input = readFileSync(file, 'utf8');
      try {
        const result = runChain(input, ctx, { hooks: [...DEFAULT_HOOKS] });
        if (!result.changed) {
          expect(result.xml).toBe(input);
          outcomes.unchanged++;
          continue;
        }
        outcomes.changed++;
        // The reference guard (whole-document walk) agrees with the chain's fast guard.
        compareDomains(DomainXml.parse(input), DomainXml.parse(result.xml));
        const again = runChain(result.xml, ctx, { hooks: [...DEFAULT_HOOKS] });
        if (again.changed) crashes.push(`${file}: not idempotent (${again.changes.map((c) => c.path).join(', ')})`);
      } catch (err) {
        if (err instanceof PremigrationError && err.kind !== 'abi') outcomes.refused++;
        else crashes.push(`${file}: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    expect(crashes).toEqual([]);
    // The corpus has pinned domains (cputune*, numatune*, KubeVirt's) and unpinned ones.
    expect(outcomes.changed).toBeGreaterThan(5);
    expect(outcomes.unchanged).toBeGreaterThan(20);
  });
});

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

interface Guest {
  xml: string;
  vcpus: number;
  numa: boolean;
}

function guest(r: () => number): Guest {
  const threads = r() < 0.5 ? 1 : 2;
  const cores = 1 + Math.floor(r() * 4);
  const sockets = 1 + Math.floor(r() * 2);
  const vcpus = sockets * cores * threads;
  const numa = sockets === 2 && r() < 0.5;
  const pins = Array.from({ length: vcpus }, (_, i) => `    <vcpupin vcpu='${i}' cpuset='${100 + i}'/>`).join('\n');
  const half = vcpus / 2;
  const cells = numa
    ? `\n    <numa>\n      <cell id='0' cpus='0-${half - 1}' memory='65536' unit='KiB'/>\n      <cell id='1' cpus='${half}-${vcpus - 1}' memory='65536' unit='KiB'/>\n    </numa>`
    : '';
  const numatune = numa ? "\n  <numatune>\n    <memory mode='strict' nodeset='0-1'/>\n    <memnode cellid='0' mode='strict' nodeset='0'/>\n    <memnode cellid='1' mode='strict' nodeset='1'/>\n  </numatune>" : '';
  const xml = `<domain type='kvm'>
  <name>generated</name>
  <memory unit='KiB'>131072</memory>
  <vcpu placement='static'>${vcpus}</vcpu>
  <cputune>
${pins}
  </cputune>${numatune}
  <cpu mode='host-passthrough'>
    <topology sockets='${sockets}' dies='1' cores='${cores}' threads='${threads}'/>${cells}
  </cpu>
  <devices>
    <memballoon model='none'/>
  </devices>
</domain>
`;
  return { xml, vcpus, numa };
}

function host(r: () => number): { ctx: HookContext['host']; all: number[] } {
  const cellsCount = 1 + Math.floor(r() * 4);
  const coresPerCell = 2 + Math.floor(r() * 6);
  const smt = r() < 0.5 ? 1 : 2;
  const total = cellsCount * coresPerCell * smt;
  const cells: Record<string, string> = {};
  const cores: string[] = [];
  const perCell: number[][] = Array.from({ length: cellsCount }, () => []);
  // Core c of cell n has threads c' and c' + total/smt (siblings far apart, as on big hosts).
  const physical = total / smt;
  for (let c = 0; c < physical; c++) {
    const cell = Math.floor(c / coresPerCell);
    const threads = smt === 2 ? [c, c + physical] : [c];
    perCell[cell]?.push(...threads);
    cores.push(threads.join(','));
  }
  perCell.forEach((cpus, i) => (cells[String(i)] = formatCpuList(cpus.sort((a, b) => a - b))));
  return { ctx: inlineHost({ cells, cores }), all: Array.from({ length: total }, (_, i) => i) };
}

function pinsOf(xml: string): number[][] {
  return DomainXml.parse(xml)
    .select('cputune/vcpupin')
    .map((p) => parseCpuList(p.attr('cpuset') ?? ''));
}

describe('generated guests on generated hosts (property test, 300 seeds)', () => {
  it('accepted results pin each enabled vCPU to its own CPU of the cpuset, idempotently', () => {
    const failures: string[] = [];
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const g = guest(r);
      const h = host(r);
      const cpuset = h.all.filter(() => r() < 0.7);
      if (cpuset.length === 0) cpuset.push(0);
      const ctx: HookContext = { cpuset, host: h.ctx };
      let out: string;
      try {
        out = runChain(g.xml, ctx, { hooks: ['cpu-dedicated'] }).xml;
      } catch (err) {
        if (err instanceof PremigrationError && err.kind === 'refusal') {
          refused++;
          // A refusal is only legitimate when the cpuset is too small for a naive fill, or cells/cores constrain it.
          if (cpuset.length >= g.vcpus * 4 && !g.numa) failures.push(`seed ${seed}: refused with ${cpuset.length} CPUs for ${g.vcpus} vCPUs: ${(err as Error).message}`);
          continue;
        }
        failures.push(`seed ${seed}: ${(err as Error).name}: ${(err as Error).message}`);
        continue;
      }
      accepted++;
      const pins = pinsOf(out);
      const flat = pins.flat();
      if (pins.length !== g.vcpus || pins.some((p) => p.length !== 1)) failures.push(`seed ${seed}: expected ${g.vcpus} single-CPU pins, got ${JSON.stringify(pins)}`);
      if (new Set(flat).size !== flat.length) failures.push(`seed ${seed}: a CPU is pinned twice: ${flat.join(',')}`);
      if (flat.some((c) => !cpuset.includes(c))) failures.push(`seed ${seed}: pin outside the cpuset ${formatCpuList(cpuset)}: ${flat.join(',')}`);
      if (g.numa) {
        // Each memnode covers exactly the host cells its guest cell's vCPUs are pinned in.
        const doc = DomainXml.parse(out);
        const cellOf = (cpu: number): number => h.ctx.cpus.get(cpu)?.node ?? -1;
        const half = g.vcpus / 2;
        const hostCells = (vcpus: number[]): string => formatCpuList([...new Set(vcpus.map((v) => cellOf(flat[v] as number)))].sort((a, b) => a - b));
        const expected = [hostCells(Array.from({ length: half }, (_, i) => i)), hostCells(Array.from({ length: half }, (_, i) => half + i))];
        const memnodes = doc.select('numatune/memnode').map((m) => formatCpuList(parseCpuList(m.attr('nodeset') ?? '')));
        if (JSON.stringify(memnodes) !== JSON.stringify(expected)) failures.push(`seed ${seed}: memnodes ${memnodes.join(' ')} != host cells of their vCPUs ${expected.join(' ')}`);
        const memory = formatCpuList(parseCpuList(doc.selectOne('numatune/memory')?.attr('nodeset') ?? ''));
        if (memory !== hostCells(Array.from({ length: g.vcpus }, (_, i) => i))) failures.push(`seed ${seed}: numatune memory nodeset ${memory} is not the union of the vCPUs' cells`);
      }
      if (runChain(out, ctx, { hooks: ['cpu-dedicated'] }).changed) failures.push(`seed ${seed}: not idempotent`);
    }
    expect(failures).toEqual([]);
    // The generator must exercise both outcomes, or the test proves little.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(5);
  });
});
