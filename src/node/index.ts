/** The only readers of node facts: sysfs for the topology, /proc and cgroup files for the cpuset. */
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
