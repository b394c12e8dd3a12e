import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.js';
import { describeTopology, type HostTopology } from '../../src/core/topology/index.js';
import { buildHostTopology, readHostTopology, type SysfsFacts } from '../../src/node/index.js';

const SYSFS = join(process.cwd(), 'test/fixtures/sysfs');
const read = (shape: string): HostTopology => readHostTopology(join(SYSFS, shape));

/** Per CPU: [id, node, coreId, packageId, siblings]. */
type Row = [number, number, number, number, number[]];
const rows = (host: HostTopology): Row[] =>
  [...host.cpus.values()].map((c) => [c.id, c.node, c.coreId, c.packageId, c.siblings]);
const cells = (host: HostTopology) => host.cells.map((c) => [c.id, c.cpus, c.memoryOnly]);
const pool = (sizeKiB: number, total: number, free: number) => ({ sizeKiB, total, free });

describe('readHostTopology on fixture shapes', () => {
  it('1s-nosmt: one cell, each CPU its own core', () => {
    const host = read('1s-nosmt');
    expect(host.online).toEqual([0, 1, 2, 3]);
    expect(cells(host)).toEqual([[0, [0, 1, 2, 3], false]]);
    expect(host.cells[0]?.hugepages).toEqual([pool(2048, 0, 0), pool(1048576, 0, 0)]);
    expect(rows(host)).toEqual([
      [0, 0, 0, 0, [0]],
      [1, 0, 1, 0, [1]],
      [2, 0, 2, 0, [2]],
      [3, 0, 3, 0, [3]],
    ]);
    expect(describeTopology(host)).toBe('1 socket, 1 NUMA cell, 4 CPUs, no SMT');
  });

  it('1s-smt2: sibling ranges such as 0-1 are parsed, not dropped', () => {
    const host = read('1s-smt2');
    expect(cells(host)).toEqual([[0, [0, 1, 2, 3, 4, 5, 6, 7], false]]);
    expect(host.cells[0]?.hugepages).toEqual([pool(2048, 512, 512)]);
    expect(rows(host)).toEqual([
      [0, 0, 0, 0, [0, 1]],
      [1, 0, 0, 0, [0, 1]],
      [2, 0, 1, 0, [2, 3]],
      [3, 0, 1, 0, [2, 3]],
      [4, 0, 2, 0, [4, 5]],
      [5, 0, 2, 0, [4, 5]],
      [6, 0, 3, 0, [6, 7]],
      [7, 0, 3, 0, [6, 7]],
    ]);
    expect(describeTopology(host)).toBe('1 socket, 1 NUMA cell, 8 CPUs, SMT-2');
  });

  it('2s-smt2-interleaved: even CPUs on node0, siblings far apart, core ids per package', () => {
    const host = read('2s-smt2-interleaved');
    expect(cells(host)).toEqual([
      [0, [0, 2, 4, 6, 8, 10, 12, 14], false],
      [1, [1, 3, 5, 7, 9, 11, 13, 15], false],
    ]);
    expect(host.cells.map((c) => c.hugepages)).toEqual([
      [pool(2048, 1024, 1000), pool(1048576, 4, 4)],
      [pool(2048, 1024, 1024), pool(1048576, 4, 2)],
    ]);
    expect(rows(host)).toEqual([
      [0, 0, 0, 0, [0, 8]],
      [1, 1, 0, 1, [1, 9]],
      [2, 0, 1, 0, [2, 10]],
      [3, 1, 1, 1, [3, 11]],
      [4, 0, 2, 0, [4, 12]],
      [5, 1, 2, 1, [5, 13]],
      [6, 0, 3, 0, [6, 14]],
      [7, 1, 3, 1, [7, 15]],
      [8, 0, 0, 0, [0, 8]],
      [9, 1, 0, 1, [1, 9]],
      [10, 0, 1, 0, [2, 10]],
      [11, 1, 1, 1, [3, 11]],
      [12, 0, 2, 0, [4, 12]],
      [13, 1, 2, 1, [5, 13]],
      [14, 0, 3, 0, [6, 14]],
      [15, 1, 3, 1, [7, 15]],
    ]);
    expect(describeTopology(host)).toBe('2 sockets, 2 NUMA cells, 16 CPUs, SMT-2');
  });

  it('4numa-1s: four cells of one package, each from two ranges', () => {
    const host = read('4numa-1s');
    expect(cells(host)).toEqual([
      [0, [0, 1, 8, 9], false],
      [1, [2, 3, 10, 11], false],
      [2, [4, 5, 12, 13], false],
      [3, [6, 7, 14, 15], false],
    ]);
    expect(host.cells.map((c) => c.hugepages)).toEqual([
      [pool(2048, 256, 256)],
      [pool(2048, 256, 224)],
      [pool(2048, 256, 192)],
      [pool(2048, 256, 160)],
    ]);
    expect(rows(host).filter(([id]) => id === 3 || id === 11)).toEqual([
      [3, 1, 3, 0, [3, 11]],
      [11, 1, 3, 0, [3, 11]],
    ]);
    expect(new Set(rows(host).map((r) => r[3]))).toEqual(new Set([0]));
    expect(describeTopology(host)).toBe('1 socket, 4 NUMA cells, 16 CPUs, SMT-2');
  });

  it('offline-memonly: offline CPUs leave cells and sibling sets; the memory-only node stays', () => {
    const host = read('offline-memonly');
    // cpu3 has no topology directory; cpu6 and cpu7 have one but are not in `online`.
    expect(host.online).toEqual([0, 1, 2, 4, 5]);
    expect([...host.cpus.keys()]).toEqual([0, 1, 2, 4, 5]);
    expect(cells(host)).toEqual([
      [0, [0, 1, 2], false],
      [1, [4, 5], false],
      [2, [], true],
    ]);
    expect(host.cells.map((c) => c.hugepages)).toEqual([
      [pool(2048, 1024, 1000), pool(1048576, 2, 1)],
      [pool(2048, 0, 0)],
      [pool(2048, 256, 256), pool(1048576, 8, 8)],
    ]);
    expect(rows(host)).toEqual([
      [0, 0, 0, 0, [0, 1]],
      [1, 0, 0, 0, [0, 1]],
      [2, 0, 1, 0, [2]], // sysfs still says 2-3
      [4, 1, 2, 0, [4, 5]],
      [5, 1, 2, 0, [4, 5]],
    ]);
    expect(describeTopology(host)).toBe('1 socket, 3 NUMA cells (1 memory-only), 5 CPUs, SMT-2 (mixed)');
  });

  it('no-node-dir: one cell 0 with every online CPU and the global hugepage pools', () => {
    const host = read('no-node-dir');
    expect(cells(host)).toEqual([[0, [0, 1, 2, 3], false]]);
    expect(host.cells[0]?.hugepages).toEqual([pool(2048, 64, 60)]);
    expect(rows(host)).toEqual([
      [0, 0, 0, 0, [0, 2]],
      [1, 0, 1, 0, [1, 3]],
      [2, 0, 0, 0, [0, 2]],
      [3, 0, 1, 0, [1, 3]],
    ]);
    expect(describeTopology(host)).toBe('1 socket, 1 NUMA cell, 4 CPUs, SMT-2');
  });
});

describe('readHostTopology on damaged or unusual trees', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'topology-sysfs-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const copyOf = (shape: string): string => {
    const root = join(tmp, shape);
    cpSync(join(SYSFS, shape), root, { recursive: true });
    return root;
  };

  it('refuses a root without devices/system/cpu', () => {
    expect(() => readHostTopology(tmp)).toThrow(InputError);
    expect(() => readHostTopology(tmp)).toThrow(`${tmp} does not look like a sysfs root: ${tmp}/devices/system/cpu does not exist`);
  });

  it('names the file holding a malformed sibling list', () => {
    const root = copyOf('1s-smt2');
    const file = join(root, 'devices/system/cpu/cpu5/topology/thread_siblings_list');
    writeFileSync(file, '5-4\n');
    expect(() => readHostTopology(root)).toThrow(`${file}: invalid CPU list "5-4\\n": range 5-4 is descending`);
  });

  it('names the file holding a non-integer core id', () => {
    const root = copyOf('1s-nosmt');
    const file = join(root, 'devices/system/cpu/cpu2/topology/core_id');
    writeFileSync(file, 'two\n');
    expect(() => readHostTopology(root)).toThrow(`${file}: expected an integer, found "two"`);
  });

  it('treats every CPU with a topology directory as online when `online` is missing', () => {
    const root = copyOf('offline-memonly');
    rmSync(join(root, 'devices/system/cpu/online'));
    expect(readHostTopology(root).online).toEqual([0, 1, 2, 4, 5, 6, 7]);
  });

  it('falls back to one cell when the node directory holds no nodeN', () => {
    const root = copyOf('1s-nosmt');
    rmSync(join(root, 'devices/system/node'), { recursive: true });
    mkdirSync(join(root, 'devices/system/node'));
    writeFileSync(join(root, 'devices/system/node/possible'), '0\n');
    const host = readHostTopology(root);
    expect(cells(host)).toEqual([[0, [0, 1, 2, 3], false]]);
    expect(host.cells[0]?.hugepages).toEqual([]);
  });
});

describe('buildHostTopology consistency checks', () => {
  const cpu = (id: number, siblings = [id]) => ({ id, coreId: id, packageId: 0, siblings });
  const facts = (nodes: SysfsFacts['nodes']): SysfsFacts => ({
    online: [0, 1],
    cpus: [cpu(0), cpu(1)],
    nodes,
    globalHugepages: [],
  });

  it('refuses a CPU listed by two nodes', () => {
    expect(() => buildHostTopology(facts([{ id: 0, cpus: [0, 1], hugepages: [] }, { id: 1, cpus: [1], hugepages: [] }])))
      .toThrow('sysfs lists CPU 1 in both node0 and node1');
  });

  it('refuses an online CPU that no node lists', () => {
    expect(() => buildHostTopology(facts([{ id: 0, cpus: [0], hugepages: [] }])))
      .toThrow('sysfs lists CPU 1 as online but in no node\'s cpulist');
  });

  it('refuses a host with no online CPU', () => {
    expect(() => buildHostTopology({ ...facts(undefined), online: [5] })).toThrow(InputError);
  });

  it('sorts cells by id and adds the CPU itself to a sibling list that omits it', () => {
    const host = buildHostTopology({
      online: [0, 1],
      cpus: [cpu(0, [1]), cpu(1, [0, 1])],
      nodes: [{ id: 3, cpus: [1], hugepages: [] }, { id: 1, cpus: [0], hugepages: [] }],
      globalHugepages: [],
    });
    expect(cells(host)).toEqual([[1, [0], false], [3, [1], false]]);
    expect(host.cpus.get(0)?.siblings).toEqual([0, 1]);
    expect(host.cpus.get(1)?.node).toBe(3);
  });
});
