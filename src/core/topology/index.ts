/** Host topology and CPU lists: the pure model of the target node that the hooks read. */
export type { CgroupCpuset, CpusetSource, HostCpu, HostTopology, HugepagePool, NumaCell } from './types.js';
export { MAX_CPU_ID_EXCLUSIVE, MAX_CPU_LIST_ENTRIES, formatCpuList, parseCpuList } from './cpulist.js';
export { describeTopology } from './describe.js';
