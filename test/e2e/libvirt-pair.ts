/**
 * Two real root `libvirtd` daemons on this machine, A (source) and B (target), as
 * docs/testing.md describes: each in its own mount namespace with private /etc/libvirt,
 * /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt, sharing the
 * network namespace. B additionally sees a private /run/premigration-hooks (where the hook
 * client reads its config, as in a launcher pod) and runs inside its own cpuset cgroup,
 * so the client measures a real, different cpuset.
 *
 * Everything started here is tracked by PID and killed by PID in `destroy()`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never rejects (the exit status is in the result). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && typeof err.code !== 'number' ? `\n${err.message}` : '') });
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function which(bin: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = path.join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** What this test needs from the machine; a clear error instead of a skip (CI has all of it). */
export function checkPrerequisites(): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('must run as root (mount namespaces, cgroups, root libvirtd)');
  for (const bin of ['libvirtd', 'virsh', 'qemu-system-x86_64', 'unshare', 'mount']) {
    if (!which(bin)) problems.push(`${bin} not found`);
  }
  if (problems.length > 0) {
    throw new Error(
      `the libvirt end-to-end test cannot run here: ${problems.join('; ')}.\n` +
        'Install the packages with test/setup/install-system-deps.sh and run the tests as root (CI does both).',
    );
  }
}

/** The five per-daemon libvirt directories: host mount point → name of the private dir. */
const LIBVIRT_DIRS: Array<[string, string]> = [
  ['/etc/libvirt', 'etc'],
  ['/run/libvirt', 'run'],
  ['/var/lib/libvirt', 'lib'],
  ['/var/log/libvirt', 'log'],
  ['/var/cache/libvirt', 'cache'],
];
/** Where the hook client reads client.conf in a launcher pod (src/webhook/admission/names.ts RUN_DIR). */
export const POD_RUN_DIR = '/run/premigration-hooks';

const LIBVIRTD_CONF = (uuid: string): string => `host_uuid = "${uuid}"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_filters = "1:util.hook"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
`;

const QEMU_CONF = `user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
`;

export interface DaemonOptions {
  name: string;
  /** Work directory of this daemon (private libvirt dirs live below it). */
  dir: string;
  /** Persistent qemu capabilities cache (saves ~8 s of probing per start). */
  cacheDir: string;
  /** Extra bind mounts inside the namespace: host dir → mount point. */
  binds?: Array<[string, string]>;
  /** A cgroup directory whose `cgroup.procs` the daemon joins before exec. */
  cgroup?: string;
}

export class Daemon {
  readonly name: string;
  readonly dir: string;
  readonly uri: string;
  private child: ChildProcess | undefined;
  private stderr = '';

  constructor(private readonly opts: DaemonOptions) {
    this.name = opts.name;
    this.dir = opts.dir;
    this.uri = `qemu+unix:///system?socket=${path.join(opts.dir, 'run', 'libvirt-sock')}`;
  }

  /** Host path of a directory that the daemon sees at `mountPoint` (one of the five). */
  hostPath(mountPoint: string, ...rest: string[]): string {
    const entry = LIBVIRT_DIRS.find(([m]) => m === mountPoint);
    if (!entry) throw new Error(`not a private libvirt dir: ${mountPoint}`);
    return path.join(this.dir, entry[1], ...rest);
  }

  get hooksDir(): string {
    return this.hostPath('/etc/libvirt', 'hooks');
  }

  prepare(): void {
    for (const [mountPoint, sub] of LIBVIRT_DIRS) {
      mkdirSync(mountPoint, { recursive: true }); // empty mount targets on the host
      if (sub !== 'cache') mkdirSync(path.join(this.dir, sub), { recursive: true });
    }
    mkdirSync(this.opts.cacheDir, { recursive: true });
    mkdirSync(path.join(this.hooksDir, 'qemu.d'), { recursive: true });
    writeFileSync(this.hostPath('/etc/libvirt', 'libvirtd.conf'), LIBVIRTD_CONF(randomUUID()));
    writeFileSync(this.hostPath('/etc/libvirt', 'qemu.conf'), QEMU_CONF);
    for (const [, target] of this.opts.binds ?? []) mkdirSync(target, { recursive: true });
  }

  /** Starts libvirtd as our child (so it is waited on and killed by PID). */
  start(): void {
    const binds: Array<[string, string]> = LIBVIRT_DIRS.map(([mountPoint, sub]) => [
      sub === 'cache' ? this.opts.cacheDir : path.join(this.dir, sub),
      mountPoint,
    ]);
    binds.push(...(this.opts.binds ?? []));
    // Arguments are passed positionally, never interpolated into the script.
    const script = [
      'set -e',
      'cg="$1"; shift',
      'while [ "$#" -gt 1 ]; do mount --bind "$1" "$2"; shift 2; done',
      'if [ -n "$cg" ]; then echo $$ > "$cg/cgroup.procs"; fi',
      'exec libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid',
    ].join('\n');
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', this.opts.cgroup ?? '', ...binds.flat()], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-8192);
    });
    this.child = child;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private exited(): boolean {
    return !this.child || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until virsh can talk to the daemon. */
  async waitReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last: Run | undefined;
    while (Date.now() < until) {
      if (this.exited()) throw new Error(`libvirtd ${this.name} exited during start:\n${this.stderr}\n${this.logTail()}`);
      last = await run('virsh', ['-c', this.uri, 'uri'], 10_000);
      if (last.code === 0) return;
      await sleep(200);
    }
    throw new Error(`libvirtd ${this.name} not ready within ${timeoutMs} ms: ${last?.stderr ?? ''}\n${this.stderr}\n${this.logTail()}`);
  }

  virsh(...args: string[]): Promise<Run> {
    return run('virsh', ['-c', this.uri, ...args], 90_000);
  }

  logTail(lines = 30): string {
    const log = this.hostPath('/var/log/libvirt', 'libvirtd.log');
    if (!existsSync(log)) return '';
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  qemuLog(domain: string): string {
    const log = this.hostPath('/var/log/libvirt', 'qemu', `${domain}.log`);
    return existsSync(log) ? readFileSync(log, 'utf8') : '';
  }

  /** PIDs of the qemu processes this daemon started (they outlive the daemon). */
  qemuPids(): number[] {
    const dir = this.hostPath('/run/libvirt', 'qemu');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => Number(readFileSync(path.join(dir, f), 'utf8').trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 1);
  }

  qemuPid(domain: string): number {
    const file = this.hostPath('/run/libvirt', 'qemu', `${domain}.pid`);
    return Number(readFileSync(file, 'utf8').trim());
  }

  /** Kills qemu processes and the daemon, by PID; waits for the daemon to be gone. */
  async stop(): Promise<void> {
    for (const pid of this.qemuPids()) killPid(pid, 'SIGKILL');
    const child = this.child;
    if (!child || this.exited() || child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killPid(child.pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      gone.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 5000))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killPid(child.pid, 'SIGKILL');
      await gone;
    }
    // qemu processes may have been started while we were stopping.
    for (const pid of this.qemuPids()) killPid(pid, 'SIGKILL');
  }
}

export function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---- cgroups ----

export interface CpusetCgroup {
  dir: string;
  version: 1 | 2;
  setCpus(list: string): void;
  remove(): Promise<void>;
}

/**
 * Removes empty cgroups named `<prefix>*` left by an earlier run that was killed before its
 * clean-up; rmdir refuses a cgroup that still has tasks, so a live run is never touched.
 */
export function removeStaleCgroups(prefix: string): void {
  for (const parent of ['/sys/fs/cgroup/cpuset', '/sys/fs/cgroup']) {
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent)) {
      if (!entry.startsWith(prefix)) continue;
      try {
        rmdirSync(path.join(parent, entry));
      } catch {
        /* in use, or not ours to remove */
      }
    }
  }
}

/**
 * A child cpuset cgroup with `cpus`, on cgroup v1 (cpuset hierarchy) or v2 (cpuset enabled
 * in the root's subtree_control). Throws with the reason if neither can be made here.
 */
export function createCpusetCgroup(name: string, cpus: string): CpusetCgroup {
  const v1Root = '/sys/fs/cgroup/cpuset';
  const v2Root = '/sys/fs/cgroup';
  let dir: string;
  let version: 1 | 2;
  if (existsSync(path.join(v1Root, 'cpuset.cpus'))) {
    version = 1;
    dir = path.join(v1Root, name);
    mkdirSync(dir);
    // v1 needs both set before a task may join.
    writeFileSync(path.join(dir, 'cpuset.mems'), readFileSync(path.join(v1Root, 'cpuset.mems'), 'utf8').trim());
  } else if (existsSync(path.join(v2Root, 'cgroup.controllers'))) {
    version = 2;
    if (!readFileSync(path.join(v2Root, 'cgroup.subtree_control'), 'utf8').includes('cpuset')) {
      writeFileSync(path.join(v2Root, 'cgroup.subtree_control'), '+cpuset');
    }
    dir = path.join(v2Root, name);
    mkdirSync(dir);
  } else {
    throw new Error('no cgroup v1 cpuset hierarchy at /sys/fs/cgroup/cpuset and no cgroup v2 at /sys/fs/cgroup');
  }
  const setCpus = (list: string): void => writeFileSync(path.join(dir, 'cpuset.cpus'), list);
  setCpus(cpus);
  return {
    dir,
    version,
    setCpus,
    async remove() {
      // rmdir fails while a task is still inside (a qemu being reaped); retry briefly.
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          await sleep(100);
        }
      }
      rmdirSync(dir);
    },
  };
}

// ---- the guest ----

export const GUEST = 'pmh-e2e';
/** Must never appear in the hook server's log (the hook's stdin carries it). */
/** libvirt allows at most 8 characters for a VNC password. */
export const VNC_PASSWORD = 'pmhS3cr8';

/** A tiny TCG guest with dedicated-CPU pins: no disk, no NIC, nothing to boot. */
export function guestXml(pins: number[]): string {
  return `<domain type='qemu'>
  <name>${GUEST}</name>
  <memory unit='MiB'>64</memory>
  <vcpu placement='static'>${pins.length}</vcpu>
  <cputune>
${pins.map((cpu, vcpu) => `    <vcpupin vcpu='${vcpu}' cpuset='${cpu}'/>`).join('\n')}
  </cputune>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <cpu>
    <topology sockets='${pins.length}' dies='1' cores='1' threads='1'/>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='${VNC_PASSWORD}'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Where virt-launcher keeps cloud-init ISOs (each daemon gets its own, as each launcher pod has). */
export const EPHEMERAL_DIR = '/run/kubevirt-ephemeral-disks';
export const CLOUD_INIT_DIR = '/var/run/kubevirt-ephemeral-disks/cloud-init-data';
/** KubeVirt's NVRAM directory for a root launcher; it lies in each daemon's private /var/lib/libvirt. */
export const NVRAM_DIR = '/var/lib/libvirt/qemu/nvram';

export interface KubevirtGuest {
  /** `<namespace>_<vmi>`, as KubeVirt names domains. */
  name: string;
  /** Cloud-init ISO paths (as the daemon sees them), one file-backed disk each. */
  isos: string[];
  /** EFI: the pflash "firmware" image (any file both daemons can read) and the NVRAM path. */
  efi?: { loader: string; nvram: string };
}

/**
 * A TCG guest shaped like KubeVirt's converter output where identity matters: cloud-init ISOs
 * under `<ns>/<vmi>/`, and optionally an EFI loader with `<nvram><dir>/<vmi>_VARS.fd</nvram>`
 * (no template: the file must exist where the XML says).
 */
export function kubevirtGuestXml(g: KubevirtGuest): string {
  const os = g.efi
    ? `    <loader readonly='yes' type='pflash'>${g.efi.loader}</loader>\n    <nvram>${g.efi.nvram}</nvram>\n`
    : '';
  const disks = g.isos
    .map((iso, i) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' error_policy='stop'/>
      <source file='${iso}'/>
      <target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/>
    </disk>
`)
    .join('');
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
${os}  </os>
${g.efi ? '  <features>\n    <acpi/>\n  </features>\n' : ''}  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
${disks}    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** The `<vcpupin>` / `<emulatorpin>` set of a domain XML, normalised for comparison. */
export function pinsOf(xml: string): string[] {
  const cputune = /<cputune>([\s\S]*?)<\/cputune>/.exec(xml)?.[1] ?? '';
  const out: string[] = [];
  for (const m of cputune.matchAll(/<(vcpupin|emulatorpin|iothreadpin)\b([^>]*)\/>/g)) {
    const attrs = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)=['"]([^'"]*)['"]/g)].map((a) => [a[1], a[2]]));
    const id = attrs.vcpu ?? attrs.iothread ?? '';
    out.push(`${m[1]}${id === '' ? '' : ` ${id}`}=${attrs.cpuset ?? ''}`);
  }
  return out.sort();
}

/** `Cpus_allowed_list` of each vCPU thread of a qemu process, by vCPU index (TCG names them "CPU n/TCG"). */
export function vcpuAffinity(qemuPid: number): Map<number, string> {
  const out = new Map<number, string>();
  const taskDir = `/proc/${qemuPid}/task`;
  for (const tid of readdirSync(taskDir)) {
    let comm: string;
    let status: string;
    try {
      comm = readFileSync(path.join(taskDir, tid, 'comm'), 'utf8').trim();
      status = readFileSync(path.join(taskDir, tid, 'status'), 'utf8');
    } catch {
      continue; // thread ended meanwhile
    }
    const m = /^CPU (\d+)\/(TCG|KVM)$/.exec(comm);
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
    if (m && allowed) out.set(Number(m[1]), allowed);
  }
  return out;
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
