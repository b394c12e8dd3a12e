/**
 * Bounded by construction (issue 12): every count that drives allocation is refused above its
 * limit, with the limit in the message, before anything is built from it; and cost stays flat
 * (or linear) as hostile input grows. Growth is compared between two sizes of the same input, not
 * against absolute timings. Memory is bounded for real: the hostile domains go through `mutate`
 * in a Node process whose heap is capped far below what an unbounded parse would need.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { HookRefusal, InputError, XmlError } from '../../src/core/errors.js';
import { MAX_GUEST_NUMA_CELLS, MAX_IOTHREADS, MAX_VCPUS, readGuestCpuSignals } from '../../src/core/hooks/cpu-dedicated.js';
import { MAX_CPU_ID_EXCLUSIVE, MAX_CPU_LIST_ENTRIES, parseCpuList } from '../../src/core/topology/index.js';
import { DomainXml, MAX_ATTRIBUTES_PER_ELEMENT, MAX_ELEMENTS } from '../../src/core/xml/index.js';

const CLI = path.resolve('dist/src/cli/main.js');

/**
 * Fastest wall time of `fn` over several runs, ms: the minimum is the run least disturbed by
 * other load and GC, so ratios of minima compare the work itself (these tests compare growth
 * between input sizes, never an absolute time).
 */
function fastestMs(fn: () => void, runs = 7): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const attrs = (n: number): string => `<domain type='kvm'><name>a</name><x ${Array.from({ length: n }, (_, i) => `a${i}="v"`).join(' ')}/></domain>`;
const elements = (n: number): string => `<domain type='kvm'><name>e</name>${'<a/>'.repeat(n)}</domain>`;
const pinned = (vcpu: string, extra = ''): string =>
  `<domain type='kvm'><name>v</name><vcpu placement='static'>${vcpu}</vcpu>${extra}<cputune><vcpupin vcpu='0' cpuset='1'/></cputune></domain>`;

describe('XML parser bounds', () => {
  test(`more than ${MAX_ATTRIBUTES_PER_ELEMENT} attributes on one element: refused with the limit, at the same cost for 1e5`, () => {
    expect(() => DomainXml.parse(attrs(MAX_ATTRIBUTES_PER_ELEMENT))).not.toThrow();
    const err = thrown(() => DomainXml.parse(attrs(100_000)));
    expect(err).toBeInstanceOf(XmlError);
    expect((err as XmlError).code).toBe('too-large');
    expect((err as Error).message).toContain(`more than ${MAX_ATTRIBUTES_PER_ELEMENT} attributes on <x>`);
    // 40× the input (1e5 vs 2.5e3 attributes): the refusal stops at the limit, so time grows far less than the input.
    const [smallDoc, bigDoc] = [attrs(2_500), attrs(100_000)];
    const small = fastestMs(() => thrown(() => DomainXml.parse(smallDoc)));
    const big = fastestMs(() => thrown(() => DomainXml.parse(bigDoc)));
    expect(big / Math.max(small, 0.05)).toBeLessThan(40 / 4);
  });

  test('attribute parsing is linear below the limit (duplicate check through a set): 4× the attributes, not 16× the time', () => {
    const doc = (n: number, count: number): string => `<domain type='kvm'><name>a</name>${Array.from({ length: count }, () => `<x ${Array.from({ length: n }, (_, i) => `a${i}="v"`).join(' ')}/>`).join('')}</domain>`;
    // Same document size in bytes per attribute; many elements so each timing is well above the clock's noise.
    const quarter = doc(MAX_ATTRIBUTES_PER_ELEMENT / 4, 400);
    const full = doc(MAX_ATTRIBUTES_PER_ELEMENT, 100);
    DomainXml.parse(quarter);
    DomainXml.parse(full);
    const tq = fastestMs(() => DomainXml.parse(quarter));
    const tf = fastestMs(() => DomainXml.parse(full));
    // The same number of attributes in total: quadratic would be 4× slower for `full`.
    expect(tf / tq).toBeLessThan(3);
  });

  test(`more than ${MAX_ELEMENTS} elements: refused with the limit before the tree grows further`, () => {
    expect(() => DomainXml.parse(elements(MAX_ELEMENTS - 10))).not.toThrow();
    const err = thrown(() => DomainXml.parse(elements(1_000_000)));
    expect((err as XmlError).code).toBe('too-large');
    expect((err as Error).message).toContain(`more than ${MAX_ELEMENTS} elements`);
    const [doc2x, doc20x] = [elements(2 * MAX_ELEMENTS), elements(20 * MAX_ELEMENTS)];
    const at2x = fastestMs(() => thrown(() => DomainXml.parse(doc2x)), 3);
    const at20x = fastestMs(() => thrown(() => DomainXml.parse(doc20x)), 3);
    // 10× the input; the work past the limit is only the linear character check of the text.
    expect(at20x / at2x).toBeLessThan(10 / 2);
  });
});

describe('CPU list bounds', () => {
  test('0-4294967295 is refused before anything is expanded, with the limit in the message', () => {
    const err = thrown(() => parseCpuList('0-4294967295'));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain(`is not below ${MAX_CPU_ID_EXCLUSIVE}`);
  });

  test(`more than ${MAX_CPU_LIST_ENTRIES} entries is refused by counting commas, before splitting`, () => {
    const million = Array.from({ length: 1_000_000 }, () => '1').join(',');
    const err = thrown(() => parseCpuList(million));
    expect((err as Error).message).toContain(`more than ${MAX_CPU_LIST_ENTRIES} elements (the limit on CPU list entries)`);
    expect((err as Error).message.length).toBeLessThan(300);
    const atLimit = Array.from({ length: MAX_CPU_LIST_ENTRIES }, () => '1').join(',');
    expect(parseCpuList(atLimit)).toEqual([1]);
    // 1e6 vs 2 × the limit: 30× the text, refused at the same point.
    const twice = `${atLimit},${atLimit}`;
    const t2 = fastestMs(() => thrown(() => parseCpuList(twice)));
    const t1m = fastestMs(() => thrown(() => parseCpuList(million)));
    expect(t1m / Math.max(t2, 0.05)).toBeLessThan(30 / 3);
  });

  test('a caller-given bound: a guest cell list above <vcpu> is refused, not expanded', () => {
    expect(() => parseCpuList('0-15', 16)).not.toThrow();
    expect(() => parseCpuList('0-16', 16)).toThrow(/CPU id 16 is not below 16/);
  });
});

describe('cpu-dedicated count bounds', () => {
  const refusal = (xml: string): string => {
    const err = thrown(() => readGuestCpuSignals(DomainXml.parse(xml)));
    expect(err).toBeInstanceOf(HookRefusal);
    return (err as Error).message;
  };

  test(`<vcpu> above ${MAX_VCPUS} is refused; at the limit it is read`, () => {
    expect(refusal(pinned('4294967295'))).toBe(`cpu-dedicated: <vcpu> is 4294967295, over the limit of ${MAX_VCPUS}`);
    expect(refusal(pinned(String(MAX_VCPUS + 1)))).toContain(`over the limit of ${MAX_VCPUS}`);
    expect(readGuestCpuSignals(DomainXml.parse(pinned(String(MAX_VCPUS)))).enabledVcpus).toHaveLength(MAX_VCPUS);
  });

  test(`more than ${MAX_GUEST_NUMA_CELLS} guest NUMA cells, and <iothreads> above ${MAX_IOTHREADS}, are refused`, () => {
    const cells = `<cpu><numa>${Array.from({ length: MAX_GUEST_NUMA_CELLS + 1 }, (_, i) => `<cell id='${i}' cpus='0' memory='1'/>`).join('')}</numa></cpu>`;
    expect(refusal(pinned('2', cells))).toContain(`the number of guest NUMA cells is ${MAX_GUEST_NUMA_CELLS + 1}, over the limit of ${MAX_GUEST_NUMA_CELLS}`);
    expect(refusal(pinned('2', '<iothreads>4294967295</iothreads>'))).toContain(`<iothreads> is 4294967295, over the limit of ${MAX_IOTHREADS}`);
  });

  test('a non-integer count is quoted cut short, never whole', () => {
    expect(refusal(pinned('9'.repeat(10) + 'x'.repeat(100_000))).length).toBeLessThan(200);
  });
});

describe('memory: hostile domains through `mutate` in a 64 MiB V8 heap', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build:ts`);
  });

  const cellsAll = `<cpu><numa>${Array.from({ length: MAX_GUEST_NUMA_CELLS }, (_, i) => `<cell id='${i}' cpus='0-4095' memory='1'/>`).join('')}</numa></cpu>`;
  test.each([
    ['<vcpu>4294967295</vcpu> (219 bytes)', pinned('4294967295'), /over the limit of 4096/],
    ['a vcpupin cpuset of 1e6 entries', pinned('2').replace("cpuset='1'", `cpuset='${Array.from({ length: 1_000_000 }, () => '1').join(',')}'`), /./],
    ['1e5 attributes on one element', attrs(100_000), /more than 256 attributes/],
    ['1e6 elements (4 MB)', elements(1_000_000), /more than 50000 elements/],
    ['256 guest cells each listing 4096 vCPUs', pinned('4096', cellsAll), /./],
  ])('%s: a clean answer, no out-of-memory crash', (_what, xml, message) => {
    const r = spawnSync(process.execPath, ['--max-old-space-size=64', CLI, 'mutate', '--cpuset', '0-3', '--sysfs', 'test/fixtures/sysfs/1s-nosmt'], { input: xml, encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBeNull();
    expect([0, 2]).toContain(r.status);
    if (r.status === 2) expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/heap out of memory|FATAL/);
  });
});
