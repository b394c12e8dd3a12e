/**
 * results.json ↔ RESULTS.md. The JSON keeps every section's figures and Markdown, so running one
 * section (`node dist/bench/run.js chain`) replaces that section and RESULTS.md is re-rendered
 * whole, summary table included, from what the other sections last measured.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatValue, machineLine, row, type Figure, type MachineInfo, type SectionResult } from './lib.js';

export interface SectionRecord extends SectionResult {
  name: string;
  title: string;
  date: string;
  seconds: number;
  quick: boolean;
  /** Share of all CPUs used by processes outside the bench during the section (> 0.25: other work competed). */
  loadPerCpu: number;
}

export interface Results {
  machine: MachineInfo;
  sections: SectionRecord[];
}

export const RESULTS_JSON = 'results.json';
export const RESULTS_MD = 'RESULTS.md';

export function readResults(dir: string): Results | undefined {
  const file = join(dir, RESULTS_JSON);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch {
    return undefined;
  }
}

/** Replace the named sections (keeping the others and the order of `order`). */
export function mergeResults(previous: Results | undefined, machine: MachineInfo, fresh: SectionRecord[], order: readonly string[]): Results {
  const byName = new Map<string, SectionRecord>();
  for (const s of previous?.sections ?? []) byName.set(s.name, s);
  for (const s of fresh) byName.set(s.name, s);
  const sections = [...byName.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { machine, sections };
}

function verdict(f: Figure): string {
  if (f.met === undefined) return '';
  return f.met ? '✅ met' : '❌ **missed**';
}

export function figureRow(f: Figure): string {
  return row([f.label, formatValue(f.median, f.unit), f.p99 !== undefined ? formatValue(f.p99, f.unit) : '', f.n, f.goal ?? '', verdict(f)]);
}

export const FIGURE_HEADER = [row(['figure', 'median', 'p99', 'n', 'goal', '']), row(['---', '---:', '---:', '---:', '---', '---'])];

export function renderMarkdown(results: Results): string {
  const all = results.sections.flatMap((s) => s.figures);
  const goals = all.filter((f) => f.met !== undefined);
  const missed = goals.filter((f) => f.met === false);
  const dates = results.sections.map((s) => s.date).sort();
  const lines: string[] = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (`node dist/bench/run.js [section…]`, sections: ' +
      results.sections.map((s) => `\`${s.name}\``).join(', ') +
      '). Do not edit by hand: the script rewrites this file from `bench/results.json`.',
    '',
    `- **Machine:** ${machineLine(results.machine)}.`,
    `- **Date:** ${dates.length ? (dates[0] === dates[dates.length - 1] ? dates[0] : `${dates[0]} … ${dates[dates.length - 1]}`) : '—'}.`,
    `- **Goals:** ${goals.length - missed.length} of ${goals.length} met${missed.length ? ` (${missed.length} missed, marked ❌ below; each missed goal's section shows where the time or memory goes)` : ''}.`,
  ];
  if (results.sections.some((s) => s.quick)) {
    lines.push('', '> **Quick mode (BENCH_QUICK=1): one short iteration per figure, to prove the scripts run. These numbers mean nothing.**');
  }
  const busy = results.sections.filter((s) => s.loadPerCpu > 0.25);
  if (busy.length) {
    lines.push(
      '',
      `> Other work was running (share of all CPUs used outside the bench's own processes during ${busy.map((s) => `${s.name}: ${s.loadPerCpu.toFixed(2)}`).join(', ')}); tails (p99) and some medians are inflated. Re-run on a quiet machine.`,
    );
  }
  lines.push('', '## Summary', '', 'Medians unless said otherwise; p99 where a tail matters; n = samples.', '', ...FIGURE_HEADER);
  for (const f of all) lines.push(figureRow(f));
  for (const s of results.sections) {
    lines.push('', `## ${s.title}`, '', `_Section \`${s.name}\`, ${s.date}, ${s.seconds.toFixed(0)} s${s.quick ? ', quick mode' : ''}._`, '', s.markdown.trim());
  }
  return `${lines.join('\n')}\n`;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function writeResults(dir: string, results: Results): void {
  mkdirSync(dir, { recursive: true });
  writeAtomic(join(dir, RESULTS_JSON), `${JSON.stringify(results, null, 2)}\n`);
  writeAtomic(join(dir, RESULTS_MD), renderMarkdown(results));
}
