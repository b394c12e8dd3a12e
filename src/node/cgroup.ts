/**
 * The cpuset a process may run on, from its cgroup (docs/topology.md).
 *
 * The fixed paths /sys/fs/cgroup/cpuset.cpus.effective (v2) and /sys/fs/cgroup/cpuset/cpuset.cpus
 * (v1) are right only inside a container whose cgroup namespace makes its own cgroup the root of
 * the mount. To be right on a host and in tests too, the cgroup path from /proc/<pid>/cgroup is
 * joined with the mount point from /proc/self/mountinfo; the fixed paths and Cpus_allowed_list
 * are fallbacks.
 *
 * Order: cgroup2 → cgroup1 → fixed in-container paths (own process only) → Cpus_allowed_list.
 * The first source that yields a non-empty list wins. cgroup2 goes first because in hybrid mode
 * (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) the cpuset controller lives in
 * exactly one hierarchy, and the v2 one has no cpuset files unless it owns the controller.
 */
import { join } from 'node:path';
import { InputError } from '../core/errors.js';
import { parseCpuListAt, readCpuListFile, readText } from './fsread.js';
import type { CgroupCpuset, CpusetSource } from '../core/topology/index.js';

export interface CgroupReadOptions {
  /** Directory that plays /proc (default '/proc'). */
  procRoot?: string;
  /** Directory that plays '/': mount points from mountinfo and the fixed paths are joined under it (default '/'). */
  fsRoot?: string;
}

/** The cpuset of this process. */
export function readCgroupCpuset(opts: CgroupReadOptions = {}): CgroupCpuset {
  return readCpuset('self', opts);
}

/**
 * The cpuset of another process, e.g. `compute`'s from a sidecar sharing its PID namespace.
 * The fixed in-container paths are skipped: they describe our own cgroup, not the target's.
 */
export function readCgroupCpusetOfPid(pid: number, opts: CgroupReadOptions = {}): CgroupCpuset {
  if (!Number.isInteger(pid) || pid <= 0) throw new InputError(`invalid PID ${pid}`);
  return readCpuset(pid, opts);
}

function readCpuset(pid: number | 'self', opts: CgroupReadOptions): CgroupCpuset {
  const procRoot = opts.procRoot ?? '/proc';
  const fsRoot = opts.fsRoot ?? '/';
  const tried: string[] = [];
  const attempt = (source: CpusetSource, path: string): CgroupCpuset | undefined => {
    tried.push(path);
    const cpus = readCpuListFile(path);
    return cpus !== undefined && cpus.length > 0 ? { cpus, source, path } : undefined;
  };

  // /proc/<pid>/cgroup paths are relative to the *reader's* cgroup namespace, so they pair with
  // our own mount table, whichever process they describe.
  const membership = parseProcCgroup(readText(join(procRoot, String(pid), 'cgroup')) ?? '');
  const mounts = parseMountinfo(readText(join(procRoot, 'self', 'mountinfo')) ?? '');

  if (membership.v2Path !== undefined) {
    for (const mount of mounts.filter((m) => m.fsType === 'cgroup2')) {
      const rel = pathUnderMount(membership.v2Path, mount.root);
      if (rel === undefined) continue;
      // Where the cpuset controller is not enabled for a subtree, its tasks use the nearest
      // ancestor's cpuset, and the file is missing (or, on some kernels, empty) below it.
      for (let depth = rel.length; depth >= 0; depth--) {
        const found = attempt('cgroup2', join(fsRoot, mount.mountPoint, ...rel.slice(0, depth), 'cpuset.cpus.effective'));
        if (found) return found;
      }
    }
  }
  if (membership.v1CpusetPath !== undefined) {
    for (const mount of mounts.filter((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpuset'))) {
      const rel = pathUnderMount(membership.v1CpusetPath, mount.root);
      if (rel === undefined) continue;
      const found = readV1(attempt, join(fsRoot, mount.mountPoint, ...rel));
      if (found) return found;
    }
  }
  if (pid === 'self') {
    const found = attempt('cgroup2', join(fsRoot, 'sys/fs/cgroup/cpuset.cpus.effective'))
      ?? readV1(attempt, join(fsRoot, 'sys/fs/cgroup/cpuset'));
    if (found) return found;
  }

  const statusPath = join(procRoot, String(pid), 'status');
  tried.push(statusPath);
  const allowed = /^Cpus_allowed_list:[ \t]*(.*)$/m.exec(readText(statusPath) ?? '');
  if (allowed !== null) {
    const cpus = parseCpuListAt(statusPath, allowed[1] as string);
    if (cpus.length > 0) return { cpus, source: 'proc-status', path: statusPath };
  }
  throw new InputError(`no cpuset found for ${pid === 'self' ? 'this process' : `PID ${pid}`}; tried ${tried.join(', ')}`);
}

/**
 * A v1 cpuset directory: cpuset.effective_cpus first, as it is what the kernel actually lets the
 * tasks use (in legacy mode it equals cpuset.cpus; with cpuset_v2_mode only it excludes offline
 * CPUs), then cpuset.cpus for kernels without it.
 */
function readV1(attempt: (source: CpusetSource, path: string) => CgroupCpuset | undefined, dir: string): CgroupCpuset | undefined {
  return attempt('cgroup1', join(dir, 'cpuset.effective_cpus')) ?? attempt('cgroup1', join(dir, 'cpuset.cpus'));
}

export interface ProcCgroup {
  /** Path of the `0::<path>` line (cgroup2). */
  v2Path?: string;
  /** Path of the v1 hierarchy whose controllers include cpuset (`N:cpuset[,…]:<path>`). */
  v1CpusetPath?: string;
}

/** Parses /proc/<pid>/cgroup: `hierarchy-id:controller,list:path` per line. */
export function parseProcCgroup(text: string): ProcCgroup {
  const result: ProcCgroup = {};
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1); // may itself contain ':'
    if (id === '0' && controllers === '') result.v2Path = path;
    else if (controllers.split(',').includes('cpuset')) result.v1CpusetPath = path;
  }
  return result;
}

export interface MountEntry {
  /** Path inside the mounted file system that is the root of this mount. */
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/<pid>/mountinfo (proc(5)): optional fields end at a lone `-`. */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (separator < 0 || fields.length < separator + 4) continue;
    mounts.push({
      root: unescapeMountField(fields[3] as string),
      mountPoint: unescapeMountField(fields[4] as string),
      fsType: fields[separator + 1] as string,
      superOptions: (fields[separator + 3] as string).split(','),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Segments of cgroupPath below a mount whose root is mountRoot, or undefined when the cgroup is
 * not visible through that mount (another subtree, or `..` outside our cgroup namespace).
 */
export function pathUnderMount(cgroupPath: string, mountRoot: string): string[] | undefined {
  const segments = (p: string): string[] => p.split('/').filter((s) => s !== '');
  const path = segments(cgroupPath);
  const root = segments(mountRoot);
  if (path.includes('..') || path.includes('.')) return undefined;
  if (root.some((segment, i) => path[i] !== segment)) return undefined;
  return path.slice(root.length);
}
