/**
 * The target node's CPU/NUMA topology, read from sysfs under an injectable root.
 *
 * sysfs rather than libvirt's capabilities XML: the facts are the same (cells, CPUs, siblings,
 * hugepages), but sysfs needs no libvirt connection from the hook server, and it writes sibling
 * sets as ranges (`0-1`), which we parse as such instead of dropping them.
 *
 * Split in two: readSysfsFacts does the I/O, buildHostTopology is pure and holds the rules.
 */
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { listDir, readCpuListFile, readIntFile } from './fsread.js';
import type { HostCpu, HostTopology, HugepagePool, NumaCell } from '../core/topology/index.js';

/** What sysfs says, before any cross-checking. */
export interface SysfsFacts {
  /** `devices/system/cpu/online`, or undefined when the kernel has no such file. */
  online: number[] | undefined;
  /** Every `cpuN` that has a `topology` directory (the kernel removes it for offline CPUs). */
  cpus: Array<{ id: number; coreId: number; packageId: number; siblings: number[] }>;
  /** `devices/system/node/nodeN`, or undefined when there is no node directory (no NUMA). */
  nodes: Array<{ id: number; cpus: number[]; hugepages: HugepagePool[] }> | undefined;
  /** `kernel/mm/hugepages`: the pools of a host without NUMA nodes ([] when it has some). */
  globalHugepages: HugepagePool[];
}

export function readHostTopology(sysRoot = '/sys'): HostTopology {
  return buildHostTopology(readSysfsFacts(sysRoot));
}

/**
 * Cross-checks the facts into a HostTopology. A CPU is online when the `online` file lists it
 * and it has a topology directory; everything else (node lists, sibling lists) is filtered to
 * online CPUs, so a stale entry cannot put an offline CPU into a pinning.
 */
export function buildHostTopology(facts: SysfsFacts): HostTopology {
  const described = new Map(facts.cpus.map((cpu) => [cpu.id, cpu]));
  const online = (facts.online ?? [...described.keys()].sort((a, b) => a - b)).filter((id) => described.has(id));
  if (online.length === 0) throw new InputError('sysfs lists no online CPU with a topology directory');
  const isOnline = new Set(online);

  const cells: NumaCell[] = [];
  if (facts.nodes === undefined || facts.nodes.length === 0) {
    cells.push({ id: 0, cpus: online, hugepages: facts.globalHugepages, memoryOnly: false });
  } else {
    for (const node of [...facts.nodes].sort((a, b) => a.id - b.id)) {
      const cpus = node.cpus.filter((id) => isOnline.has(id));
      // "Memory-only" means no online CPU: a CXL/HBM node, or one whose CPUs are all offline.
      cells.push({ id: node.id, cpus, hugepages: node.hugepages, memoryOnly: cpus.length === 0 });
    }
  }

  const nodeOf = new Map<number, number>();
  for (const cell of cells) {
    for (const id of cell.cpus) {
      const other = nodeOf.get(id);
      if (other !== undefined) throw new InputError(`sysfs lists CPU ${id} in both node${other} and node${cell.id}`);
      nodeOf.set(id, cell.id);
    }
  }

  const cpus = new Map<number, HostCpu>();
  for (const id of online) {
    const node = nodeOf.get(id);
    if (node === undefined) throw new InputError(`sysfs lists CPU ${id} as online but in no node's cpulist`);
    const cpu = described.get(id) as SysfsFacts['cpus'][number];
    const siblings = [...new Set([id, ...cpu.siblings.filter((s) => isOnline.has(s))])].sort((a, b) => a - b);
    cpus.set(id, { id, node, coreId: cpu.coreId, packageId: cpu.packageId, siblings });
  }
  return { online, cells, cpus };
}

/** Reads the raw facts; the only function here that touches the file system. */
export function readSysfsFacts(sysRoot: string): SysfsFacts {
  const cpuDir = join(sysRoot, 'devices/system/cpu');
  const cpuEntries = listDir(cpuDir);
  if (cpuEntries === undefined) {
    throw new InputError(`${sysRoot} does not look like a sysfs root: ${cpuDir} does not exist`);
  }

  const cpus: SysfsFacts['cpus'] = [];
  for (const id of numberedEntries(cpuEntries, 'cpu')) {
    const topologyDir = join(cpuDir, `cpu${id}`, 'topology');
    if (listDir(topologyDir) === undefined) continue; // offline: the kernel removed the directory
    cpus.push({
      id,
      // Missing ids (some virtual platforms) fall back to "its own core, package 0"; pinning
      // only relies on siblings, which fall back to the CPU alone.
      coreId: readIntFile(join(topologyDir, 'core_id')) ?? id,
      packageId: readIntFile(join(topologyDir, 'physical_package_id')) ?? 0,
      siblings: readCpuListFile(join(topologyDir, 'thread_siblings_list')) ?? [id],
    });
  }

  const nodeDir = join(sysRoot, 'devices/system/node');
  const nodeEntries = listDir(nodeDir);
  const nodes = nodeEntries === undefined
    ? undefined
    : numberedEntries(nodeEntries, 'node').map((id) => {
      const dir = join(nodeDir, `node${id}`);
      return { id, cpus: readCpuListFile(join(dir, 'cpulist')) ?? [], hugepages: readHugepages(join(dir, 'hugepages')) };
    });

  return {
    online: readCpuListFile(join(cpuDir, 'online')),
    cpus,
    nodes,
    globalHugepages: nodes !== undefined && nodes.length > 0 ? [] : readHugepages(join(sysRoot, 'kernel/mm/hugepages')),
  };
}

/** `hugepages-<size>kB/{nr,free}_hugepages` under dir, ascending by page size. */
function readHugepages(dir: string): HugepagePool[] {
  const pools: HugepagePool[] = [];
  for (const name of listDir(dir) ?? []) {
    const match = /^hugepages-(\d+)kB$/.exec(name);
    if (match === null) continue;
    pools.push({
      sizeKiB: Number(match[1]),
      total: readIntFile(join(dir, name, 'nr_hugepages')) ?? 0,
      free: readIntFile(join(dir, name, 'free_hugepages')) ?? 0,
    });
  }
  return pools.sort((a, b) => a.sizeKiB - b.sizeKiB);
}

/** Ids of the `<prefix>N` entries, ascending (readdir order is not numeric). */
function numberedEntries(names: string[], prefix: string): number[] {
  const pattern = new RegExp(`^${prefix}(\\d+)$`);
  const ids: number[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match !== null) ids.push(Number(match[1]));
  }
  return ids.sort((a, b) => a - b);
}
