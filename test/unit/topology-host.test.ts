/**
 * This machine's real /sys and /proc: whatever the host looks like, the reader's output must
 * hold these invariants.
 */
import { describeTopology } from '../../src/core/topology/index.js';
import { readCgroupCpuset, readHostTopology } from '../../src/node/index.js';

describe('this machine', () => {
  const host = readHostTopology();

  it('cells cover every online CPU exactly once, ascending', () => {
    const fromCells = host.cells.flatMap((cell) => cell.cpus);
    expect(host.online.length).toBeGreaterThan(0);
    expect([...fromCells].sort((a, b) => a - b)).toEqual(host.online);
    expect(new Set(fromCells).size).toBe(fromCells.length);
    for (const cell of host.cells) expect(cell.cpus).toEqual([...cell.cpus].sort((a, b) => a - b));
    expect(host.cells.map((c) => c.id)).toEqual(host.cells.map((c) => c.id).sort((a, b) => a - b));
    expect([...host.cpus.keys()]).toEqual(host.online);
  });

  it('each CPU sits in the cell of its node, with symmetric sibling sets of one core', () => {
    for (const cpu of host.cpus.values()) {
      expect(host.cells.find((cell) => cell.id === cpu.node)?.cpus).toContain(cpu.id);
      expect(cpu.siblings).toContain(cpu.id);
      for (const sibling of cpu.siblings) {
        const other = host.cpus.get(sibling);
        expect(other?.siblings).toEqual(cpu.siblings);
        expect([other?.coreId, other?.packageId]).toEqual([cpu.coreId, cpu.packageId]);
      }
    }
  });

  it('hugepage pools are sorted by size with free ≤ total', () => {
    for (const cell of host.cells) {
      const sizes = cell.hugepages.map((p) => p.sizeKiB);
      expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
      for (const p of cell.hugepages) expect(p.free).toBeLessThanOrEqual(p.total);
    }
  });

  it('our cgroup cpuset is a non-empty subset of the online CPUs', () => {
    const cpuset = readCgroupCpuset();
    expect(cpuset.cpus.length).toBeGreaterThan(0);
    expect(cpuset.cpus.filter((id) => !host.cpus.has(id))).toEqual([]);
    expect(['cgroup2', 'cgroup1', 'proc-status']).toContain(cpuset.source);
  });

  it('has a one-line description', () => {
    expect(describeTopology(host)).toMatch(/^\d+ sockets?, \d+ NUMA cells?( \(\d+ memory-only\))?, \d+ CPUs?, (no SMT|SMT-\d+( \(mixed\))?)$/);
  });
});
