/**
 * A real cgroup with a CPU and memory limit, as the kubelet sets them for a container with
 * the webhook's default Guaranteed-pod limits (`--sidecar-cpu`/`--sidecar-memory`): cgroup v2 `cpu.max "10000 100000"` and `memory.max`, or
 * on cgroup v1 `cpu.cfs_quota_us 10000` / `cpu.cfs_period_us 100000` and
 * `memory.limit_in_bytes`. Needs root (the benchmark machine runs as root). A command runs inside
 * it from its exec on: a shell writes its own pid into the group, then execs the command.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseQuantity } from '../src/core/pod/quantity.js';
import { parseWebhookSettings } from '../src/webhook/config/settings.js';

export interface Limits {
  /** CPU quota per 100 ms period, in µs (10000 = 100m); absent: no CPU limit. */
  cpuQuotaUs?: number;
  memoryBytes: number;
}

/** The limits the webhook injects by default, read from its own settings so the two cannot drift. */
export const SHIPPED_LIMITS: Required<Limits> = shippedLimits();

function shippedLimits(): Required<Limits> {
  const { cpu, memory } = parseWebhookSettings(['--dev-self-signed', '--image', 'bench']).inject.guaranteed;
  const cpuNano = parseQuantity(cpu);
  const memoryNano = parseQuantity(memory);
  if (cpuNano === undefined || memoryNano === undefined) throw new Error(`unreadable default sidecar limits ${cpu} / ${memory}`);
  // parseQuantity gives nano-units; the CFS quota is µs of CPU per 100 ms period (1 CPU = 100000).
  return { cpuQuotaUs: Number(cpuNano / 10_000n), memoryBytes: Number(memoryNano / 1_000_000_000n) };
}

export interface Cgroup {
  /** Text for the report: which files were written. */
  describe: string;
  /** `sh -c` prefix that moves the shell into the group before it execs the command. */
  wrap(argv: string[]): string[];
  /** The group's peak memory so far, bytes (v2 memory.peak, v1 memory.max_usage_in_bytes). */
  peakBytes(): number;
  /** OOM kills inside the group so far. */
  oomKills(): number;
  remove(): void;
}

const ROOT = '/sys/fs/cgroup';

function ownV1Path(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, ctrls, p] = line.split(':');
    if (ctrls?.split(',').includes(controller)) return p ?? '/';
  }
  return '/';
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function createCgroup(name: string, limits: Limits): Cgroup {
  const period = 100_000;
  if (existsSync(path.join(ROOT, 'cgroup.controllers'))) {
    const own = readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)?.[1] ?? '/';
    // A new group beside our own leaf: v2 allows processes only in leaves.
    const parent = path.join(ROOT, path.dirname(own));
    const dir = path.join(parent, name);
    mkdirSync(dir);
    if (limits.cpuQuotaUs !== undefined) writeFileSync(path.join(dir, 'cpu.max'), `${limits.cpuQuotaUs} ${period}`);
    writeFileSync(path.join(dir, 'memory.max'), String(limits.memoryBytes));
    writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    const procs = path.join(dir, 'cgroup.procs');
    const read = (file: string): string => readFileSync(path.join(dir, file), 'utf8');
    return {
      describe: `cgroup v2 ${dir}: ${limits.cpuQuotaUs !== undefined ? `cpu.max "${limits.cpuQuotaUs} ${period}", ` : ''}memory.max ${limits.memoryBytes}`,
      wrap: (argv) => ['/bin/sh', '-c', `echo $$ > ${procs} && exec ${argv.map(shellQuote).join(' ')}`],
      peakBytes: () => Number(read('memory.peak').trim()),
      oomKills: () => Number(/oom_kill (\d+)/.exec(read('memory.events'))?.[1] ?? 0),
      remove: () => rmdirSync(dir),
    };
  }
  const cpu = limits.cpuQuotaUs !== undefined ? path.join(ROOT, 'cpu', ownV1Path('cpu'), name) : undefined;
  const mem = path.join(ROOT, 'memory', ownV1Path('memory'), name);
  if (cpu !== undefined) {
    mkdirSync(cpu);
    writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(period));
    writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(limits.cpuQuotaUs));
  }
  mkdirSync(mem);
  writeFileSync(path.join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes));
  const into = [cpu, mem].filter((d) => d !== undefined).map((d) => `echo $$ > ${path.join(d, 'cgroup.procs')}`).join(' && ');
  const read = (file: string): string => readFileSync(path.join(mem, file), 'utf8');
  return {
    describe: `cgroup v1 ${cpu !== undefined ? `${cpu} (cpu.cfs_quota_us ${limits.cpuQuotaUs}, cpu.cfs_period_us ${period}) and ` : ''}${mem} (memory.limit_in_bytes ${limits.memoryBytes})`,
    wrap: (argv) => ['/bin/sh', '-c', `${into} && exec ${argv.map(shellQuote).join(' ')}`],
    peakBytes: () => Number(read('memory.max_usage_in_bytes').trim()),
    oomKills: () => Number(/oom_kill (\d+)/.exec(read('memory.oom_control'))?.[1] ?? 0),
    remove: () => {
      if (cpu !== undefined) rmdirSync(cpu);
      rmdirSync(mem);
    },
  };
}

/** The group's peak memory so far (v2 memory.peak, v1 memory.max_usage_in_bytes), MiB. */
export function peakMemoryMiB(name: string): number | undefined {
  const v2 = path.join(ROOT, path.dirname(readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)?.[1] ?? '/'), name, 'memory.peak');
  const v1 = path.join(ROOT, 'memory', ownV1Path('memory'), name, 'memory.max_usage_in_bytes');
  for (const f of [v2, v1]) if (existsSync(f)) return Number(readFileSync(f, 'utf8').trim()) / 1048576;
  return undefined;
}

/** Throttled time so far (cpu.stat), µs, to show the quota really bit. */
export function throttledUs(name: string): number | undefined {
  const v2 = path.join(ROOT, path.dirname(readFileSync('/proc/self/cgroup', 'utf8').match(/^0::(.*)$/m)?.[1] ?? '/'), name, 'cpu.stat');
  const v1 = path.join(ROOT, 'cpu', ownV1Path('cpu'), name, 'cpu.stat');
  for (const f of [v2, v1]) {
    if (!existsSync(f)) continue;
    const t = readFileSync(f, 'utf8');
    const usec = /^throttled_usec (\d+)/m.exec(t)?.[1];
    if (usec) return Number(usec);
    const ns = /^throttled_time (\d+)/m.exec(t)?.[1];
    if (ns) return Number(ns) / 1000;
  }
  return undefined;
}
