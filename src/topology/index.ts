/** Host topology, CPU lists and cgroup cpusets: what the hooks need to know about the target node. */
export type { CgroupCpuset, CpusetSource, HostCpu, HostTopology, HugepagePool, NumaCell } from './types.js';
export { MAX_CPU_ID_EXCLUSIVE, formatCpuList, parseCpuList } from './cpulist.js';
export { buildHostTopology, readHostTopology, readSysfsFacts, type SysfsFacts } from './sysfs.js';
export {
  parseMountinfo,
  parseProcCgroup,
  pathUnderMount,
  readCgroupCpuset,
  readCgroupCpusetOfPid,
  type CgroupReadOptions,
  type MountEntry,
  type ProcCgroup,
} from './cgroup.js';
export { describeTopology } from './describe.js';
