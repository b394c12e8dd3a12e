import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/core/errors.js';
import {
  parseMountinfo,
  parseProcCgroup,
  pathUnderMount,
  readCgroupCpuset,
  readCgroupCpusetOfPid,
  type CgroupReadOptions,
} from '../../src/node/index.js';

const CGROUP = join(process.cwd(), 'test/fixtures/cgroup');
const roots = (name: string): Required<CgroupReadOptions> => ({
  procRoot: join(CGROUP, name, 'proc'),
  fsRoot: join(CGROUP, name, 'fs'),
});
const under = (name: string, path: string): string => join(CGROUP, name, path);

describe('readCgroupCpuset on fixture trees', () => {
  it('v2: joins the 0:: path with the cgroup2 mount point', () => {
    expect(readCgroupCpuset(roots('v2'))).toEqual({
      cpus: [0, 1, 2, 3, 4, 5],
      source: 'cgroup2',
      path: under('v2', 'fs/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/cri-containerd-aaa.scope/cpuset.cpus.effective'),
    });
  });

  it('v2: walks up past a missing and an empty cpuset.cpus.effective', () => {
    expect(readCgroupCpuset(roots('v2-walkup'))).toEqual({
      cpus: [4, 5, 6, 7, 8, 9, 10, 11],
      source: 'cgroup2',
      path: under('v2-walkup', 'fs/sys/fs/cgroup/system.slice/cpuset.cpus.effective'),
    });
  });

  it('v2: strips a mount root that is the container cgroup and unescapes the mount point', () => {
    expect(readCgroupCpuset(roots('v2-bind-root'))).toEqual({
      cpus: [1, 3],
      source: 'cgroup2',
      path: under('v2-bind-root', 'fs/sys/fs/my cgroup/cpuset.cpus.effective'),
    });
  });

  it('v1 in hybrid mode: skips the cpuset-less cgroup2 mount and prefers cpuset.effective_cpus', () => {
    expect(readCgroupCpuset(roots('v1-hybrid'))).toEqual({
      cpus: [8, 9],
      source: 'cgroup1',
      path: under('v1-hybrid', 'fs/sys/fs/cgroup/cpuset/kubepods/pod7/ctr2/cpuset.effective_cpus'),
    });
  });

  it('v1 co-mounted with cpu,cpuacct and without effective_cpus: reads cpuset.cpus', () => {
    expect(readCgroupCpuset(roots('v1-comounted'))).toEqual({
      cpus: [0, 1, 2, 3],
      source: 'cgroup1',
      path: under('v1-comounted', 'fs/sys/fs/cgroup/cpuset,cpu,cpuacct/user.slice/cpuset.cpus'),
    });
  });

  it('falls back to the fixed in-container cgroup2 path without a mount table', () => {
    expect(readCgroupCpuset(roots('fixed-v2'))).toEqual({
      cpus: [5],
      source: 'cgroup2',
      path: under('fixed-v2', 'fs/sys/fs/cgroup/cpuset.cpus.effective'),
    });
  });

  it('falls back to the fixed in-container cgroup1 path before Cpus_allowed_list', () => {
    expect(readCgroupCpuset(roots('fixed-v1'))).toEqual({
      cpus: [0, 1],
      source: 'cgroup1',
      path: under('fixed-v1', 'fs/sys/fs/cgroup/cpuset/cpuset.cpus'),
    });
  });

  it('falls back to Cpus_allowed_list when no hierarchy has a cpuset', () => {
    expect(readCgroupCpuset(roots('proc-status'))).toEqual({
      cpus: [0, 1, 2, 7],
      source: 'proc-status',
      path: under('proc-status', 'proc/self/status'),
    });
  });

  it('reads another process\'s cgroup through our own mount table', () => {
    expect(readCgroupCpusetOfPid(4242, roots('v2'))).toEqual({
      cpus: [6, 7],
      source: 'cgroup2',
      path: under('v2', 'fs/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/cri-containerd-bbb.scope/cpuset.cpus.effective'),
    });
  });

  it('does not use our own fixed paths for another process', () => {
    // fixed-v1 has only our fixed path and our status; PID 4242 has neither.
    expect(() => readCgroupCpusetOfPid(4242, roots('fixed-v1'))).toThrow(/no cpuset found for PID 4242; tried .*4242\/status$/);
  });

  it.each([0, -1, 1.5])('refuses PID %p', (pid) => {
    expect(() => readCgroupCpusetOfPid(pid, roots('v2'))).toThrow(InputError);
  });
});

describe('readCgroupCpuset errors', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'topology-cgroup-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('lists every place it looked when nothing is found', () => {
    const opts = { procRoot: join(tmp, 'proc'), fsRoot: tmp };
    expect(() => readCgroupCpuset(opts)).toThrow(InputError);
    expect(() => readCgroupCpuset(opts)).toThrow(
      `no cpuset found for this process; tried ${tmp}/sys/fs/cgroup/cpuset.cpus.effective, ` +
      `${tmp}/sys/fs/cgroup/cpuset/cpuset.effective_cpus, ${tmp}/sys/fs/cgroup/cpuset/cpuset.cpus, ${tmp}/proc/self/status`,
    );
  });

  it('names the cgroup file holding a malformed list instead of falling through', () => {
    cpSync(join(CGROUP, 'v2'), tmp, { recursive: true });
    const file = join(tmp, 'fs/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/cri-containerd-aaa.scope/cpuset.cpus.effective');
    writeFileSync(file, '0-5,\n');
    expect(() => readCgroupCpuset({ procRoot: join(tmp, 'proc'), fsRoot: join(tmp, 'fs') }))
      .toThrow(`${file}: invalid CPU list "0-5,\\n": an empty element is not a CPU id or range`);
  });
});

describe('cgroup parsing helpers', () => {
  it('parseProcCgroup finds the v2 line and the v1 cpuset line, paths with colons intact', () => {
    expect(parseProcCgroup('12:cpuset,cpu:/a:b\n3:memory:/m\n0::/x/y\n')).toEqual({ v1CpusetPath: '/a:b', v2Path: '/x/y' });
    expect(parseProcCgroup('1:name=systemd:/\n2:cpuacct:/\n')).toEqual({});
    expect(parseProcCgroup('')).toEqual({});
  });

  it('parseMountinfo handles optional fields and octal escapes', () => {
    const text = '36 35 98:0 /mnt\\0401 /mnt\\0402 rw,noatime master:1 shared:2 - cgroup cg\\011x rw,cpuset,cpu\nbroken line\n';
    expect(parseMountinfo(text)).toEqual([{ root: '/mnt 1', mountPoint: '/mnt 2', fsType: 'cgroup', superOptions: ['rw', 'cpuset', 'cpu'] }]);
  });

  it.each<[string, string, string[] | undefined]>([
    ['/a/b', '/', ['a', 'b']],
    ['/', '/', []],
    ['/a/b', '/a', ['b']],
    ['/a/b', '/a/b', []],
    ['/ab/c', '/a', undefined],
    ['/a', '/a/b', undefined],
    ['/../other', '/', undefined],
    ['/a/./b', '/', undefined],
  ])('pathUnderMount(%j, %j)', (path, root, expected) => {
    expect(pathUnderMount(path, root)).toEqual(expected);
  });
});
