/**
 * Shared benchmark helpers: timing loops and statistics, machine facts, and a writer that
 * rewrites one named section of bench/RESULTS.md (between `<!-- section:NAME -->` and
 * `<!-- /section:NAME -->`) so each benchmark owns its section and leaves the others alone.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

export interface Stats {
  n: number;
  median: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Statistics of a sample (any unit). */
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

export function us(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`;
}

export interface MachineInfo {
  cpuModel: string;
  logicalCpus: number;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    logicalCpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    date: new Date().toISOString(),
  };
}

export function machineLine(m: MachineInfo = machineInfo()): string {
  return `${m.cpuModel}, ${m.logicalCpus} logical CPUs, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}), ${m.date}`;
}

export const RESULTS_FILE = (): string => join(repoRoot(), 'bench', 'RESULTS.md');

const HEADER = `# Benchmark results

Written by \`npm run bench\` (\`node dist/bench/run.js [section…]\`). Each section is rewritten by its
own benchmark; the rest of the file is left alone. Numbers come from a shared 2-core machine, so
read medians, not single runs.
`;

/** Replace (or append) section `name` of RESULTS.md with `body`. */
export function writeSection(name: string, body: string, file = RESULTS_FILE()): void {
  const open = `<!-- section:${name} -->`;
  const close = `<!-- /section:${name} -->`;
  const block = `${open}\n${body.trim()}\n${close}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const start = current.indexOf(open);
  const end = current.indexOf(close);
  const next = start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + close.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
