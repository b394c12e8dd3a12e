/**
 * End to end under a real libvirt: a live migration of a TCG guest from daemon A
 * to daemon B on this machine, with our real hook client in B's /etc/libvirt/hooks/qemu.d/
 * and our real hook server (`node dist/src/cli/main.js serve`) on a socket B can reach.
 *
 * B runs inside its own cpuset cgroup (a CPU that A's pins do not use), so the client measures
 * a different cpuset exactly as it would inside a launcher pod, and libvirt on B can only start
 * the guest if the pins were rewritten. How it works: docs/testing.md.
 *
 * No skips: without root or libvirt the suite fails with the reason (CI has both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runChain } from '../../src/core/chain.js';
import { compileSiteHooks, renderDelivery } from '../../src/core/site-hooks/index.js';
import { parseCpuList } from '../../src/core/topology/index.js';
import { readHostTopology } from '../../src/node/sysfs.js';
import type { OnErrorPolicy } from '../../src/protocol/policy.js';
import { CLI, CLIENT, requireBuilt } from '../integration/server-harness.js';
import {
  CLOUD_INIT_DIR,
  Daemon,
  EPHEMERAL_DIR,
  GUEST,
  NVRAM_DIR,
  kubevirtGuestXml,
  POD_RUN_DIR,
  VNC_PASSWORD,
  checkPrerequisites,
  createCpusetCgroup,
  guestXml,
  killPid,
  pinsOf,
  removeStaleCgroups,
  removeTree,
  sleep,
  vcpuAffinity,
  type CpusetCgroup,
  type Run,
} from './libvirt-pair.js';

/** qemu capabilities survive between runs here (the first probe costs ~8 s per daemon). */
const CAPS_CACHE = '/var/tmp/premigration-hooks-e2e-cache';
const CGROUP_PREFIX = 'premigration-hooks-e2e-';

interface HookServer {
  child: ChildProcess;
  policy: OnErrorPolicy;
  /** Extra serve flags (the pod facts of a decentralized target). */
  extra: string[];
  stderr(): string;
  logs(): Array<Record<string, unknown>>;
  exited: Promise<void>;
}

let root = '';
let podRun = '';
let cgroup: CpusetCgroup | undefined;
let A: Daemon | undefined;
let B: Daemon | undefined;
let server: HookServer | undefined;
/** The policy in the client.conf the last server wrote (it stays when the server stops). */
let confPolicy: OnErrorPolicy | undefined;
const allServerLogs: string[] = [];

let online: number[] = [];
let aCpu = 0;
let bCpu = 0;

function daemons(): { a: Daemon; b: Daemon } {
  if (!A || !B) throw new Error('daemons not started (see the beforeAll error)');
  return { a: A, b: B };
}

async function startServer(policy: OnErrorPolicy, extra: string[] = []): Promise<HookServer> {
  const { b } = daemons();
  const child = spawn(
    process.execPath,
    [
      CLI, 'serve',
      '--socket', path.join(podRun, 'hooks.sock'),
      '--client-conf', path.join(podRun, 'client.conf'),
      '--install-client', path.join(b.hooksDir, 'qemu.d'),
      '--client-binary', CLIENT,
      '--on-error', policy,
      '--timeout-ms', '10000',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
  );
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const s: HookServer = {
    child,
    policy,
    extra,
    stderr: () => err,
    logs: () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
  allServerLogs.push('');
  const index = allServerLogs.length - 1;
  child.stderr?.on('data', () => (allServerLogs[index] = err));
  const until = Date.now() + 20_000;
  while (!s.logs().some((l) => l.msg === 'hook server ready')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`hook server exited during start:\n${err}`);
    if (Date.now() > until) throw new Error(`hook server not ready within 20 s:\n${err}`);
    await sleep(50);
  }
  confPolicy = policy;
  return s;
}

async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.child.pid === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  killPid(s.child.pid, 'SIGTERM');
  await s.exited;
}

/** A running server whose client.conf says `policy`, started with `extra` flags. */
async function serverUp(policy: OnErrorPolicy, extra: string[] = []): Promise<HookServer> {
  if (server?.policy !== policy || server.extra.join(' ') !== extra.join(' ')) {
    await stopServer();
    server = await startServer(policy, extra);
  }
  return server;
}

/** No server listening, with a client.conf that says `policy` (written by a real server start). */
async function serverDown(policy: OnErrorPolicy): Promise<void> {
  if (confPolicy !== policy) await serverUp(policy);
  await stopServer();
}

async function must(what: string, r: Promise<Run>): Promise<string> {
  const res = await r;
  if (res.code !== 0) throw new Error(`${what} failed (${res.code}): ${res.stderr}\nB log:\n${B?.logTail() ?? ''}`);
  return res.stdout;
}

/** Starts the guest on A with these vCPU pins and returns the migratable XML libvirt will send. */
async function startGuestOnA(pins: number[]): Promise<string> {
  const { a } = daemons();
  const file = path.join(root, `${GUEST}-${pins.join('_')}.xml`);
  writeFileSync(file, guestXml(pins));
  await must('virsh create on A', a.virsh('create', file));
  // What the hook receives is the migratable XML (the passwords come along, but pins are what matter here).
  return must('virsh dumpxml --migratable on A', a.virsh('dumpxml', '--migratable', GUEST));
}

function migrate(): Promise<Run> {
  const { a, b } = daemons();
  return a.virsh('migrate', '--live', GUEST, b.uri, '--migrateuri', 'tcp://127.0.0.1', '--listen-address', '127.0.0.1');
}

async function domstate(d: Daemon): Promise<string> {
  const r = await d.virsh('domstate', GUEST);
  return r.code === 0 ? r.stdout.trim() : `absent (${r.stderr.trim()})`;
}

/** The vCPU pins as CPU lists (`vcpupin n=list`), to compare with /proc. */
function vcpuPins(xml: string): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const pin of pinsOf(xml)) {
    const m = /^vcpupin (\d+)=(.+)$/.exec(pin);
    if (m) out.set(Number(m[1]), parseCpuList(m[2] as string));
  }
  return out;
}

function affinityOnB(): Map<number, number[]> {
  const { b } = daemons();
  const aff = vcpuAffinity(b.qemuPid(GUEST));
  return new Map([...aff].map(([vcpu, list]) => [vcpu, parseCpuList(list)]));
}

function migrateBeginLines(s: HookServer): Array<Record<string, unknown>> {
  return s.logs().filter((l) => l.msg === 'migrate-begin');
}

const host = (): ReturnType<typeof readHostTopology> => readHostTopology('/sys');

beforeAll(async () => {
  checkPrerequisites();
  requireBuilt(CLI, CLIENT);
  online = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  if (online.length < 2) throw new Error(`the e2e test needs at least 2 online CPUs, this machine has ${online.length}`);
  aCpu = online[0] as number;
  bCpu = online[online.length - 1] as number;

  root = mkdtempSync('/tmp/pmh-e2e-');
  podRun = path.join(root, 'B', 'pod-run');
  mkdirSync(podRun, { recursive: true });
  removeStaleCgroups(CGROUP_PREFIX);
  cgroup = createCpusetCgroup(`${CGROUP_PREFIX}${process.pid}`, String(bCpu));
  // Each daemon sees its own /run/kubevirt-ephemeral-disks, as each launcher pod has its own.
  const ephemeral = (d: string): string => path.join(root, d, 'ephemeral-disks');
  mkdirSync(ephemeral('A'), { recursive: true });
  mkdirSync(ephemeral('B'), { recursive: true });
  A = new Daemon({ name: 'A', dir: path.join(root, 'A'), cacheDir: path.join(CAPS_CACHE, 'A'), binds: [[ephemeral('A'), EPHEMERAL_DIR]] });
  B = new Daemon({
    name: 'B',
    dir: path.join(root, 'B'),
    cacheDir: path.join(CAPS_CACHE, 'B'),
    // In a launcher pod the client reads /var/run/premigration-hooks/client.conf (libvirt scrubs the env).
    binds: [[podRun, POD_RUN_DIR], [ephemeral('B'), EPHEMERAL_DIR]],
    cgroup: cgroup.dir,
  });
  A.prepare();
  B.prepare();
  // The server installs the client into B's qemu.d/ before B starts: libvirt discovers hooks at start.
  server = await startServer('pass');
  expect(statSync(path.join(B.hooksDir, 'qemu.d', 'premigration-hooks-client')).mode & 0o777).toBe(0o755);
  A.start();
  B.start();
  await Promise.all([A.waitReady(90_000), B.waitReady(90_000)]);
}, 150_000);

afterAll(async () => {
  await stopServer();
  await Promise.all([A?.stop(), B?.stop()]);
  await cgroup?.remove();
  if (root) removeTree(root);
  // Only secrets-free logs: the VNC password must never have reached any server log.
  for (const log of allServerLogs) expect(log).not.toContain(VNC_PASSWORD);
}, 60_000);

afterEach(async () => {
  if (!A || !B) return;
  await Promise.all([A.virsh('destroy', GUEST), B.virsh('destroy', GUEST)]);
  rmSync(path.join(B.hooksDir, 'qemu'), { force: true });
  cgroup?.setCpus(String(bCpu));
}, 60_000);

/** KubeVirt 1.5–1.7 ship a hooks/qemu shell script that acts only on `release end migrated` (a stand-in for it). */
function upstreamScript(callsFile: string, marker: string): string {
  return `#!/bin/sh
echo "$*" >> '${callsFile}'
if [ "$2" = release ] && [ "$3" = end ] && [ "$4" = migrated ]; then touch '${marker}'; fi
exit 0
`;
}

describe(`live migration A → B under real libvirtd, B in a cpuset cgroup`, () => {
  test.each([
    { layout: 'hooks/qemu absent (KubeVirt ≤ 1.4)', upstream: false },
    { layout: 'a pass-through hooks/qemu script present (KubeVirt 1.5–1.7 stand-in)', upstream: true },
  ])('$layout: the migration succeeds and B runs with the pins the chain computes', async ({ upstream }) => {
    const { a, b } = daemons();
    const s = await serverUp('pass');
    const calls = path.join(root, 'upstream-hook.calls');
    rmSync(calls, { force: true });
    if (upstream) writeFileSync(path.join(b.hooksDir, 'qemu'), upstreamScript(calls, path.join(root, 'marker')), { mode: 0o755 });

    const migratable = await startGuestOnA([aCpu]);
    const expected = runChain(migratable, { cpuset: [bCpu], host: host() }).xml;
    // The test can fail: the chain must move the pin, from A's CPU to B's.
    expect(pinsOf(expected)).not.toEqual(pinsOf(migratable));
    const logBefore = b.qemuLog(GUEST).length;
    const linesBefore = migrateBeginLines(s).length;

    const m = await migrate();
    expect({ code: m.code, stderr: m.stderr }).toEqual({ code: 0, stderr: '' });

    const live = await must('virsh dumpxml on B', b.virsh('dumpxml', GUEST));
    expect(pinsOf(live)).toEqual(pinsOf(expected));
    expect(affinityOnB()).toEqual(vcpuPins(expected));
    expect(b.qemuLog(GUEST).slice(logBefore)).toMatch(/tainted: hook-script/);
    expect(await domstate(b)).toBe('running');
    expect(await domstate(a)).toMatch(/^absent/);

    // The client measured B's cgroup, not A's and not the whole machine.
    const lines = migrateBeginLines(s).slice(linesBefore);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      op: 'migrate',
      domain: GUEST,
      status: 200,
      cpuset: String(bCpu),
      cpusetSource: cgroup?.version === 2 ? 'cgroup2' : 'cgroup1',
    });
    if (upstream) expect(readFileSync(calls, 'utf8')).toContain(`${GUEST} migrate begin -`);
  }, 90_000);

  test('control: without our client in qemu.d, B cannot run the guest with A\'s pins (its cpuset is real)', async () => {
    const { a, b } = daemons();
    await serverUp('pass');
    const installed = path.join(b.hooksDir, 'qemu.d', 'premigration-hooks-client');
    const aside = path.join(root, 'client-aside');
    renameSync(installed, aside);
    try {
      await startGuestOnA([aCpu]);
      const m = await migrate();
      expect(m.code).not.toBe(0);
      expect(m.stderr).toMatch(/affinity/i);
      expect(await domstate(a)).toBe('running');
    } finally {
      renameSync(aside, installed);
    }
  }, 90_000);

  test('server stopped, on_error=pass: the migration succeeds with the pins unchanged', async () => {
    const { b } = daemons();
    await serverDown('pass');
    // Let B use every CPU, and pin the guest to the one the chain would NOT pick, so that
    // "unchanged" and "re-pinned" are told apart.
    cgroup?.setCpus(online.join(','));
    const migratable = await startGuestOnA([bCpu]);
    const hooked = runChain(migratable, { cpuset: online, host: host() }).xml;
    expect(pinsOf(hooked)).not.toEqual(pinsOf(migratable));
    const logBefore = b.qemuLog(GUEST).length;

    const m = await migrate();
    expect({ code: m.code, stderr: m.stderr }).toEqual({ code: 0, stderr: '' });

    const live = await must('virsh dumpxml on B', b.virsh('dumpxml', GUEST));
    expect(pinsOf(live)).toEqual(pinsOf(migratable));
    expect(affinityOnB()).toEqual(new Map([[0, [bCpu]]]));
    expect(b.qemuLog(GUEST).slice(logBefore)).not.toMatch(/tainted: hook-script/);
  }, 90_000);

  test('server stopped, on_error=abort: the migration fails and the guest keeps running on A', async () => {
    const { a, b } = daemons();
    await serverDown('abort');
    await startGuestOnA([aCpu]);

    const m = await migrate();
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/premigration-hooks: cannot connect to the hook server at \S+hooks\.sock/);
    expect(m.stderr).toContain('on_error=abort');
    expect(await domstate(a)).toBe('running');
    expect(await domstate(b)).toMatch(/^absent/);
  }, 90_000);

  test('a refusal (more dedicated vCPUs than B has CPUs), on_error=abort: the migration fails with our message', async () => {
    const { a, b } = daemons();
    const s = await serverUp('abort');
    const migratable = await startGuestOnA([aCpu, bCpu]);
    // The project's own chain refuses this domain for B's cpuset; the test relies on that.
    expect(() => runChain(migratable, { cpuset: [bCpu], host: host() })).toThrow(/not enough exclusive threads provided, could not fit 1 core\(s\)/);
    const linesBefore = migrateBeginLines(s).length;

    const m = await migrate();
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain('premigration-hooks: the hook server refused the domain: cpu-dedicated: not enough exclusive threads provided, could not fit 1 core(s): ');
    expect(await domstate(a)).toBe('running');
    expect(await domstate(b)).toMatch(/^absent/);
    expect(migrateBeginLines(s).slice(linesBefore)).toMatchObject([{ status: 422, result: 'refused', domain: GUEST }]);
  }, 90_000);

  test('a site hook repoints a file disk: the guest runs on B from the new path', async () => {
    const { a, b } = daemons();
    await stopServer();
    // One image, copied to the "node-local" path the site hook names; same content, so the guest is unaffected.
    const disks = path.join(root, 'disks');
    mkdirSync(path.join(disks, 'node-b'), { recursive: true });
    const image = Buffer.alloc(1024 * 1024);
    writeFileSync(path.join(disks, 'shared.img'), image);
    writeFileSync(path.join(disks, 'node-b', 'worker-b.img'), image);
    const delivery = renderDelivery(compileSiteHooks([{
      name: 'node-local-disk',
      spec: { edits: [{ select: "devices/disk[target/@dev='vdb']/source/@file", set: `${disks}/node-b/\${node.name}.img`, require: true }] },
    }]));
    server = await startServer('abort', ['--site-hooks-json', delivery, '--node-name', 'worker-b']);
    const s = server;
    const file = path.join(root, `${GUEST}-disk.xml`);
    const disk = `    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      <source file='${disks}/shared.img'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n`;
    writeFileSync(file, guestXml([aCpu]).replace('  <devices>\n', `  <devices>\n${disk}`));
    await must('virsh create on A', a.virsh('create', file));
    const linesBefore = migrateBeginLines(s).length;

    // Same machine, same filesystem: --unsafe only silences libvirt's cache-mode check for non-shared storage.
    const m = await a.virsh('migrate', '--live', '--unsafe', GUEST, b.uri, '--migrateuri', 'tcp://127.0.0.1', '--listen-address', '127.0.0.1');
    expect({ code: m.code, stderr: m.stderr }).toEqual({ code: 0, stderr: '' });

    const live = await must('virsh dumpxml on B', b.virsh('dumpxml', GUEST));
    expect(live).toContain(`<source file='${disks}/node-b/worker-b.img'`);
    expect(live).not.toContain(`${disks}/shared.img`);
    // QEMU on B has the new file open, not the old one.
    const fds = readdirSync(`/proc/${b.qemuPid(GUEST)}/fd`).map((fd) => { try { return readlinkSync(`/proc/${b.qemuPid(GUEST)}/fd/${fd}`); } catch { return ''; } });
    expect(fds).toContain(`${disks}/node-b/worker-b.img`);
    expect(fds).not.toContain(`${disks}/shared.img`);
    expect(await domstate(b)).toBe('running');
    const lines = migrateBeginLines(s).slice(linesBefore);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ status: 200, hooks: ['cpu-dedicated', 'site:node-local-disk'] });
    await stopServer();
  }, 90_000);

  test('a site hook adds <iotune> to a disk: libvirt accepts it on migration (the ABI guard\'s iotune rule)', async () => {
    const { a, b } = daemons();
    await stopServer();
    const disks = path.join(root, 'disks-iotune');
    mkdirSync(disks, { recursive: true });
    writeFileSync(path.join(disks, 'd.img'), Buffer.alloc(1024 * 1024));
    const delivery = renderDelivery(compileSiteHooks([{
      name: 'iotune', spec: { edits: [{ select: "devices/disk[target/@dev='vdb']", appendXML: '<iotune><total_iops_sec>500</total_iops_sec></iotune>', require: true }] },
    }]));
    server = await startServer('abort', ['--site-hooks-json', delivery]);
    const file = path.join(root, `${GUEST}-iotune.xml`);
    const disk = `    <disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      <source file='${disks}/d.img'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n`;
    writeFileSync(file, guestXml([aCpu]).replace('  <devices>\n', `  <devices>\n${disk}`));
    await must('virsh create on A', a.virsh('create', file));
    const m = await a.virsh('migrate', '--live', '--unsafe', GUEST, b.uri, '--migrateuri', 'tcp://127.0.0.1', '--listen-address', '127.0.0.1');
    expect({ code: m.code, stderr: m.stderr }).toEqual({ code: 0, stderr: '' });
    const live = await must('virsh dumpxml on B', b.virsh('dumpxml', GUEST));
    expect(live).toMatch(/<iotune>\s*<total_iops_sec>500<\/total_iops_sec>/);
    expect(await must('virsh blkdeviotune on B', b.virsh('blkdeviotune', GUEST, 'vdb'))).toMatch(/total_iops_sec\s*:\s*500/);
    await stopServer();
  }, 90_000);
});

/**
 * A decentralized migration (KubeVirt 1.6+) as libvirt runs it: the source migrates with
 * `DestName` = `<target ns>_<target VMI>` (here `virsh migrate --dname`), libvirt on B renames the
 * domain before it calls the hook, and the target pod's files exist only under the target's
 * identity. `--unsafe`: the file-backed disks are local to each daemon, as they are per pod.
 */
describe('decentralized migration: ns-a/vm-a on A arrives on B as ns-b/vm-b (--dname ns-b_vm-b)', () => {
  const SRC = 'ns-a_vm-a';
  const DST = 'ns-b_vm-b';
  /** The pod facts the webhook passes a decentralized target's server. */
  const POD = ['--pod-namespace', 'ns-b', '--vmi-name', 'vm-b'];
  const iso = (ns: string, vm: string, file = 'noCloud.iso'): string => `${CLOUD_INIT_DIR}/${ns}/${vm}/${file}`;
  const nvram = (vm: string): string => `${NVRAM_DIR}/${vm}_VARS.fd`;
  const placed: string[] = [];

  /** The host path of a file daemon `d` sees at `inDaemon`. */
  function hostFile(d: Daemon, inDaemon: string): string {
    if (inDaemon.startsWith(`${CLOUD_INIT_DIR}/`)) return path.join(root, d.name, 'ephemeral-disks', 'cloud-init-data', inDaemon.slice(CLOUD_INIT_DIR.length + 1));
    if (inDaemon.startsWith('/var/lib/libvirt/')) return d.hostPath('/var/lib/libvirt', inDaemon.slice('/var/lib/libvirt/'.length));
    throw new Error(`no host path for ${inDaemon}`);
  }
  function place(d: Daemon, inDaemon: string, bytes = Buffer.alloc(128 * 1024)): void {
    const file = hostFile(d, inDaemon);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    placed.push(file);
  }
  /** A pflash "firmware" of `hlt` instructions: the CPU halts at the reset vector and stays there. */
  function firmware(): string {
    const file = path.join(root, 'fw', 'HLT_CODE.fd');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, Buffer.alloc(128 * 1024, 0xf4));
    return file;
  }
  function migrateRenamed(): Promise<Run> {
    const { a, b } = daemons();
    return a.virsh('migrate', '--live', '--unsafe', SRC, b.uri, '--dname', DST, '--migrateuri', 'tcp://127.0.0.1', '--listen-address', '127.0.0.1');
  }
  async function stateOf(d: Daemon, name: string): Promise<string> {
    const r = await d.virsh('domstate', name);
    return r.code === 0 ? r.stdout.trim() : 'absent';
  }
  /** What a failed migration says, without the timestamps qemu puts in it. */
  const normalised = (stderr: string): string => stderr.replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?/g, '<time>').trim();
  const sources = (xml: string): string[] => [...xml.matchAll(/<source file='([^']*)'/g)].map((m) => m[1] as string);
  const nvramOf = (xml: string): string | undefined => /<nvram[^>]*>([^<]*)<\/nvram>/.exec(xml)?.[1];

  afterEach(async () => {
    if (!A || !B) return;
    await Promise.all([A.virsh('destroy', SRC), B.virsh('destroy', SRC), A.virsh('destroy', DST), B.virsh('destroy', DST)]);
    for (const f of placed.splice(0)) rmSync(f, { force: true });
  }, 60_000);

  test('cloud-init ISO and NVRAM exist on B only under ns-b/vm-b: the migration succeeds and B runs with the new paths', async () => {
    const { a, b } = daemons();
    const s = await serverUp('pass', POD);
    place(a, iso('ns-a', 'vm-a'));
    place(a, nvram('vm-a'));
    place(b, iso('ns-b', 'vm-b'));
    place(b, nvram('vm-b'));
    const file = path.join(root, `${SRC}.xml`);
    writeFileSync(file, kubevirtGuestXml({ name: SRC, isos: [iso('ns-a', 'vm-a')], efi: { loader: firmware(), nvram: nvram('vm-a') } }));
    await must('virsh create on A', a.virsh('create', file));
    const linesBefore = migrateBeginLines(s).length;

    const m = await migrateRenamed();
    expect({ code: m.code, stderr: m.stderr }).toEqual({ code: 0, stderr: '' });

    const live = await must('virsh dumpxml on B', b.virsh('dumpxml', DST));
    expect(sources(live)).toEqual([iso('ns-b', 'vm-b')]);
    expect(nvramOf(live)).toBe(nvram('vm-b'));
    expect(await stateOf(b, DST)).toBe('running');
    expect(await stateOf(a, SRC)).toBe('absent');
    // libvirt on B made no file at the old paths: it opened the ones the hook pointed at.
    expect(existsSync(hostFile(b, nvram('vm-a')))).toBe(false);
    expect(existsSync(hostFile(b, iso('ns-a', 'vm-a')))).toBe(false);
    // The hook was called with the renamed domain, and reported both moves.
    expect(migrateBeginLines(s).slice(linesBefore)).toMatchObject([
      {
        domain: DST,
        status: 200,
        hooks: ['disk-namespace'],
        changes: [
          `/domain/devices/disk[@dev='vda']/source/@file: ${iso('ns-a', 'vm-a')}→${iso('ns-b', 'vm-b')}`,
          `/domain/os/nvram: ${nvram('vm-a')}→${nvram('vm-b')}`,
        ],
      },
    ]);
  }, 90_000);

  test('control: without our client, the same migration fails (B has no files under ns-a/vm-a)', async () => {
    const { a, b } = daemons();
    await serverUp('pass', POD);
    place(a, iso('ns-a', 'vm-a'));
    place(b, iso('ns-b', 'vm-b'));
    const file = path.join(root, `${SRC}-control.xml`);
    writeFileSync(file, kubevirtGuestXml({ name: SRC, isos: [iso('ns-a', 'vm-a')] }));
    await must('virsh create on A', a.virsh('create', file));
    const installed = path.join(b.hooksDir, 'qemu.d', 'premigration-hooks-client');
    const aside = path.join(root, 'client-aside');
    renameSync(installed, aside);
    try {
      const m = await migrateRenamed();
      expect(m.code).not.toBe(0);
      expect(m.stderr).toContain(iso('ns-a', 'vm-a'));
      expect(await stateOf(a, SRC)).toBe('running');
      expect(await stateOf(b, DST)).toBe('absent');
    } finally {
      renameSync(aside, installed);
    }
  }, 90_000);

  test('ambiguous source identity (ISOs under ns-a and ns-c): the domain is left unchanged and the migration fails exactly as without us', async () => {
    const { a, b } = daemons();
    const s = await serverUp('pass', POD);
    const isosA = [iso('ns-a', 'vm-a'), iso('ns-c', 'vm-a', 'configdrive.iso')];
    for (const f of isosA) place(a, f);
    place(b, iso('ns-b', 'vm-b'));
    place(b, iso('ns-b', 'vm-b', 'configdrive.iso'));
    const file = path.join(root, `${SRC}-ambiguous.xml`);
    writeFileSync(file, kubevirtGuestXml({ name: SRC, isos: isosA }));
    await must('virsh create on A', a.virsh('create', file));
    const linesBefore = migrateBeginLines(s).length;

    const withUs = await migrateRenamed();
    expect(withUs.code).not.toBe(0);
    expect(await stateOf(a, SRC)).toBe('running');
    expect(await stateOf(b, DST)).toBe('absent');
    expect(migrateBeginLines(s).slice(linesBefore)).toMatchObject([
      { domain: DST, status: 204, result: 'unchanged', hooks: ['disk-namespace'], changeCount: 0, notes: [expect.stringMatching(/^disk-namespace: left the domain unchanged: the source identity is ambiguous: the paths name the namespaces ns-a, ns-c/)] },
    ]);

    // The same migration of the same running guest, with our client out of qemu.d/.
    const installed = path.join(b.hooksDir, 'qemu.d', 'premigration-hooks-client');
    const aside = path.join(root, 'client-aside');
    renameSync(installed, aside);
    let withoutUs: Run;
    try {
      withoutUs = await migrateRenamed();
    } finally {
      renameSync(aside, installed);
    }
    expect(withoutUs.code).toBe(withUs.code);
    expect(normalised(withUs.stderr)).toBe(normalised(withoutUs.stderr));
    // Both fail on a source path that B does not have.
    expect(isosA.some((f) => withUs.stderr.includes(`'${f}'`))).toBe(true);
    expect(await stateOf(a, SRC)).toBe('running');
  }, 120_000);
});
