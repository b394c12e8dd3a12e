/** One logical CPU (hardware thread) of the host, as sysfs describes it. */
export interface HostCpu {
  id: number;
  /** NUMA node (cell) id, or 0 when the host exposes no node directory. */
  node: number;
  coreId: number;
  packageId: number;
  /** thread_siblings_list, parsed, ascending; contains `id` itself. */
  siblings: number[];
}

export interface HugepagePool {
  sizeKiB: number;
  total: number;
  free: number;
}

export interface NumaCell {
  id: number;
  /** Online CPUs of this cell, ascending. Empty for a memory-only node. */
  cpus: number[];
  hugepages: HugepagePool[];
  memoryOnly: boolean;
}

export interface HostTopology {
  /** Online CPUs, ascending. */
  online: number[];
  /** Cells ascending by id (memory-only cells included). */
  cells: NumaCell[];
  /** Online CPUs by id. */
  cpus: Map<number, HostCpu>;
}

export type CpusetSource = 'cgroup2' | 'cgroup1' | 'proc-status';

export interface CgroupCpuset {
  cpus: number[];
  source: CpusetSource;
  /** File the cpuset was read from. */
  path: string;
}
