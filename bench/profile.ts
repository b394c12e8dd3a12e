/**
 * CPU profiles for missed goals: "where the time goes" as the functions with the most self
 * time. Two sources, one summary:
 * - in this process, around one piece of code, through the inspector (exact window);
 * - a whole child process run with `node --cpu-prof` (servers: written when they exit cleanly).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, row, stats } from './lib.js';

export type CpuProfile = Profiler.Profile;

export interface HotFunction {
  name: string;
  /** Repository-relative file (or node:internal/…, or node_modules/<pkg>/…) and line. */
  where: string;
  selfMs: number;
  /** Of all non-idle samples. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  top: HotFunction[];
  /** Self time by package (node_modules/<pkg>), repository file, Node internals, or the VM itself. */
  groups: Array<{ group: string; selfMs: number; share: number }>;
}

/** Sampling interval in µs: fine enough to see a few-ms window (V8's default is 1000). */
export const SAMPLING_US = 50;

/** Profile `fn` in this process. */
export async function profileHere(fn: () => unknown, intervalUs = SAMPLING_US): Promise<CpuProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    await fn();
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

/** Node flags that make a child write its profile into `dir` when it exits. */
export function cpuProfFlags(dir: string, intervalUs = 100): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${intervalUs}`];
}

/** The profile(s) a `--cpu-prof` child left in `dir`, merged into one summary. */
export function readProfiles(dir: string): CpuProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
}

function shortUrl(url: string, root: string): string {
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  return u.replace(/^dist\//, '');
}

const IGNORED = new Set(['(idle)', '(root)']);
/** The in-process profiler's own frames (profileHere, the inspector session): not the code under test. */
const PROFILER_URL = /^(bench\/profile\.js|node:inspector)/;

/** node_modules/@scope/pkg/… → @scope/pkg; src/core/xml/parse.js → src/core/xml/parse.js; node:… → Node internals. */
function groupOf(url: string): string {
  if (!url) return 'V8 and native code (GC, compiler, syscalls)';
  if (url.startsWith('node:')) return 'Node internals (node:*)';
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `package ${m[1]}`;
  return url;
}

/**
 * Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC, µs), which libuv's hrtime
 * also reads: a parent can mark a window in a child's `--cpu-prof` profile.
 */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface Window {
  fromUs: number;
  toUs: number;
}

/** Self time per function (by name and location), highest first; only samples inside `window` when given. */
export function summarize(profiles: readonly CpuProfile[], top = 10, window?: Window): ProfileSummary {
  const root = repoRoot();
  const self = new Map<string, { name: string; where: string; us: number }>();
  const groups = new Map<string, number>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const samples = p.samples ?? [];
    const deltas = p.timeDeltas ?? [];
    let t = p.startTime;
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i] ?? 0;
      if (window && (t < window.fromUs || t > window.toUs)) continue;
      const node = byId.get(samples[i] as number);
      if (!node) continue;
      const name = node.callFrame.functionName || '(anonymous)';
      if (IGNORED.has(name)) continue;
      // A sample stands for the time until the next one (as DevTools counts it).
      const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
      const url = node.callFrame.url ? shortUrl(node.callFrame.url, root) : '';
      if (PROFILER_URL.test(url)) continue;
      const where = url ? `${url}:${node.callFrame.lineNumber + 1}` : '';
      const key = `${name}@${where}`;
      const entry = self.get(key) ?? { name, where, us: 0 };
      entry.us += dt;
      self.set(key, entry);
      const group = groupOf(url);
      groups.set(group, (groups.get(group) ?? 0) + dt);
      total += dt;
    }
  }
  const sorted = [...self.values()].sort((a, b) => b.us - a.us).slice(0, top);
  return {
    totalMs: total / 1000,
    top: sorted.map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: total > 0 ? e.us / total : 0 })),
    groups: [...groups]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([group, t]) => ({ group, selfMs: t / 1000, share: total > 0 ? t / total : 0 })),
  };
}

/** A Markdown block: what was profiled, then the hot functions. */
export function profileMarkdown(title: string, summary: ProfileSummary): string {
  const lines = [`**Profile — ${title}** (${summary.totalMs.toFixed(1)} ms of non-idle samples; top self time):`, ''];
  lines.push(row(['self time', 'share', 'function', 'where']));
  lines.push(row(['---:', '---:', '---', '---']));
  for (const f of summary.top) {
    lines.push(row([`${f.selfMs.toFixed(2)} ms`, `${(f.share * 100).toFixed(1)} %`, `\`${f.name}\``, f.where ? `\`${f.where}\`` : '']));
  }
  lines.push('', `By where the code lives: ${summary.groups.map((g) => `${g.group} ${(g.share * 100).toFixed(0)} %`).join('; ')}.`);
  return lines.join('\n');
}

export interface ImportCost {
  what: string;
  /** Median wall time of `await import(what)` in a fresh process. */
  ms: number;
  /** RSS after the import minus RSS of a process that imported nothing, MiB. */
  rssMiB: number;
}

const IMPORT_PROBE = `const t = performance.now(); if (process.argv[1] !== 'nothing') await import(process.argv[1]); const ms = performance.now() - t; globalThis.gc?.(); process.stdout.write(JSON.stringify({ ms, rss: process.memoryUsage().rss }));`;

function probe(specifier: string): { ms: number; rss: number } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', IMPORT_PROBE, specifier], { cwd: repoRoot(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`importing ${specifier} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return JSON.parse(r.stdout) as { ms: number; rss: number };
}

/**
 * What loading each module costs on its own, in fresh processes (`runs` each, median): the usual
 * culprit when a Node server starts slowly or holds much memory. `specifiers` are package names or
 * repository-relative files (e.g. dist/src/webhook/main.js).
 */
export function importCosts(specifiers: readonly string[], runs = 3): ImportCost[] {
  const root = repoRoot();
  const baseline = stats(Array.from({ length: runs }, () => probe('nothing').rss)).median;
  return specifiers.map((what) => {
    const spec = what.startsWith('dist/') ? pathToFileURL(join(root, what)).href : what;
    const samples = Array.from({ length: runs }, () => probe(spec));
    return { what, ms: stats(samples.map((s) => s.ms)).median, rssMiB: (stats(samples.map((s) => s.rss)).median - baseline) / 1048576 };
  });
}

export function importCostMarkdown(costs: readonly ImportCost[]): string {
  const lines = ['**Import cost, each alone in a fresh process** (median wall time of `await import()`; RSS over a process that imported nothing):', ''];
  lines.push(row(['module', 'import time', 'RSS added']));
  lines.push(row(['---', '---:', '---:']));
  for (const c of costs) lines.push(row([`\`${c.what}\``, `${c.ms.toFixed(0)} ms`, `${c.rssMiB.toFixed(1)} MiB`]));
  return lines.join('\n');
}
