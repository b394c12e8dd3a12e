/**
 * Shared benchmark helpers: where results go, the quick mode, timing loops and statistics,
 * machine facts, a least-squares fit, and the Figure every section reports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this file with a package.json (works from bench/ and dist/bench/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the bench directory');
    dir = parent;
  }
  return dir;
}

/**
 * BENCH_QUICK=1: one short iteration of everything, so a test can prove the scripts still run
 * end to end. Its numbers mean nothing and RESULTS.md says so.
 */
export function quick(): boolean {
  const v = process.env.BENCH_QUICK;
  return v !== undefined && v !== '' && v !== '0';
}

/** `full` normally, `short` under BENCH_QUICK. */
export function pick<T>(full: T, short: T): T {
  return quick() ? short : full;
}

/** Where RESULTS.md, results.json and scaling.svg are written: BENCH_OUT_DIR, else bench/. */
export function outDir(): string {
  return process.env.BENCH_OUT_DIR || join(repoRoot(), 'bench');
}

/** The KubeVirt-sized reference domain (8 dedicated vCPUs, 2 guest NUMA cells, ~11 KB). */
export const REFERENCE_DOMAIN = 'kv-synth-dedicated-numa-10k.xml';
/** Target topology of the chain benchmarks: 2 sockets, SMT-2, 16 CPUs, interleaved cells. */
export const FIXTURE = 'test/fixtures/sysfs/2s-smt2-interleaved';

/** ../shared/corpus next to the repository. */
export function corpusDir(): string {
  return join(repoRoot(), '..', 'shared', 'corpus');
}

export interface Stats {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Statistics of a sample (any unit). p99 is the nearest-rank percentile. */
export function stats(sample: readonly number[]): Stats {
  if (sample.length === 0) throw new Error('empty sample');
  const sorted = [...sample].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { n: sorted.length, median, p99: at(0.99), min: sorted[0] as number, max: sorted[sorted.length - 1] as number, mean: sorted.reduce((s, v) => s + v, 0) / sorted.length };
}

/** Run `fn` `warmup` times, then time `iterations` single calls; returns microseconds per call. */
export function timeCalls(fn: () => unknown, iterations: number, warmup = Math.min(200, iterations)): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    fn();
    out[i] = (performance.now() - t0) * 1000;
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination: 1 = the points lie on the line. */
  r2: number;
}

/** Ordinary least squares y = slope·x + intercept. */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length;
  if (n !== ys.length || n < 2) throw new Error('linearFit needs two or more (x, y) pairs');
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}

export type Unit = 'µs' | 'ms' | 'MiB' | 'bytes' | 'req/s';

/** One reported number: its headline value (a median, or the single value), its goal and verdict. */
export interface Figure {
  /** Stable key, `section.name`. */
  id: string;
  label: string;
  unit: Unit;
  /** The median (or the single measured value), in `unit`. */
  median: number;
  p99?: number;
  /** Samples behind the median. */
  n: number;
  /** The goal as shown, e.g. "≤ 320 µs". */
  goal?: string;
  met?: boolean;
}

/** A goal `value ≤ limit`: the Figure fields for it. */
export function atMost(value: number, limit: number, shown: string): Pick<Figure, 'goal' | 'met'> {
  return { goal: shown, met: value <= limit };
}

export function us(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(value < 10 ? 1 : 0)} µs`;
}

export function ms(value: number): string {
  return value < 1 ? us(value * 1000) : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'µs':
      return us(value);
    case 'ms':
      return ms(value);
    case 'MiB':
      return `${value.toFixed(1)} MiB`;
    case 'bytes':
      return value >= 1024 ? `${value.toLocaleString('en-US')} B (${(value / 1048576).toFixed(2)} MiB)` : `${value} B`;
    case 'req/s':
      return `${value.toFixed(0)} req/s`;
  }
}

export interface MachineInfo {
  cpuModel: string;
  logicalCpus: number;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
  date: string;
}

function kernel(): string {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    logicalCpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    kernel: kernel(),
    date: new Date().toISOString(),
  };
}

export function machineLine(m: MachineInfo = machineInfo()): string {
  return `${m.cpuModel}, ${m.logicalCpus} logical CPUs, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}, kernel ${m.kernel})`;
}

/** Busy jiffies of the whole machine (/proc/stat) and of this process plus its reaped children. */
function cpuJiffies(): { machine: number; ours: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // user nice system idle iowait irq softirq steal …: everything but idle and iowait is busy.
  const machine = cpu.reduce((a, v, i) => (i === 3 || i === 4 ? a : a + v), 0);
  // /proc/self/stat fields 14-17 (utime stime cutime cstime) follow the parenthesised command name.
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ours = [11, 12, 13, 14].reduce((a, i) => a + Number(f[i]), 0);
  return { machine, ours };
}

/**
 * How busy the machine was with *other* work while a section ran: the CPU time nobody in the
 * bench's own process tree used, as a share of all CPUs (1.0 = every CPU busy with other work).
 * The load average would count the bench's own load generators and servers. Children still
 * running at the end are not yet in our share, so this errs towards reporting "busy".
 */
export function otherLoadProbe(): () => number {
  try {
    const t0 = performance.now();
    const a = cpuJiffies();
    return () => {
      const b = cpuJiffies();
      const ticks = ((performance.now() - t0) / 1000) * 100 * Math.max(1, cpus().length); // USER_HZ = 100 on Linux
      return Math.max(0, (b.machine - a.machine - (b.ours - a.ours)) / ticks);
    };
  } catch {
    return () => Number.NaN;
  }
}

export function row(cells: ReadonlyArray<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

/** The one thing every section hands back to the runner. */
export interface SectionResult {
  figures: Figure[];
  /** The section's Markdown body (no top-level heading: the runner adds it). */
  markdown: string;
}
