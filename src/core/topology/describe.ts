import type { HostTopology } from './types.js';

/**
 * One-line summary for humans (CLI, demo, server start log), e.g.
 * "2 sockets, 2 NUMA cells, 16 CPUs, SMT-2" or "1 socket, 3 NUMA cells (1 memory-only), 5 CPUs, SMT-2 (mixed)".
 * "mixed" means some cores run fewer threads than others (offline siblings, hybrid CPUs).
 */
export function describeTopology(host: HostTopology): string {
  const packages = new Set<number>();
  const threadsPerCore = new Set<number>();
  for (const cpu of host.cpus.values()) {
    packages.add(cpu.packageId);
    threadsPerCore.add(cpu.siblings.length);
  }
  const memoryOnly = host.cells.filter((cell) => cell.memoryOnly).length;
  const maxThreads = Math.max(1, ...threadsPerCore);
  const smt = maxThreads === 1 ? 'no SMT' : `SMT-${maxThreads}${threadsPerCore.size > 1 ? ' (mixed)' : ''}`;
  return [
    count(packages.size, 'socket'),
    count(host.cells.length, 'NUMA cell') + (memoryOnly > 0 ? ` (${memoryOnly} memory-only)` : ''),
    count(host.online.length, 'CPU'),
    smt,
  ].join(', ');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
