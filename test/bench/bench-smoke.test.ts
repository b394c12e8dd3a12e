/**
 * `npm run bench` still starts and produces well-formed results: the whole runner in quick mode
 * (BENCH_QUICK=1, one short iteration per figure) against the real built CLI, server, webhook and
 * client, writing into a temporary BENCH_OUT_DIR. Timing is never asserted (quick numbers mean
 * nothing); the shape of the results is. bench/RESULTS.md must come out untouched.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import type { Results } from '../../bench/report.js';

const ROOT = process.cwd();
const RUNNER = path.join(ROOT, 'dist', 'bench', 'run.js');
const REPO_RESULTS = ['RESULTS.md', 'results.json', 'scaling.svg'].map((f) => path.join(ROOT, 'bench', f));

const SECTIONS = ['chain', 'hook', 'webhook', 'footprint', 'scaling'];
/** Figures every full run must report (ids are stable; labels carry measured details). */
const REQUIRED_FIGURES = [
  'chain.kubevirt-reference',
  'chain.kubevirt-corpus',
  'chain.libvirt-corpus',
  'chain.first-call-cold',
  'chain.first-call-server',
  'hook.xml-roundtrip',
  'hook.non-xml-op',
  'hook.bin-true',
  'webhook.fixed-rate',
  'webhook.saturation',
  'webhook.cold-start',
  'webhook.idle-rss',
  'footprint.server-idle-rss',
  'footprint.client-size',
  'footprint.sidecar-start',
  'scaling.chain-256',
  'scaling.webhook-50',
];
/** Figures whose goal the issue states: each must carry a goal and a verdict. */
const WITH_GOAL = REQUIRED_FIGURES.filter((id) => !['chain.libvirt-corpus', 'hook.bin-true', 'webhook.saturation'].includes(id) && !id.startsWith('scaling.'));

function snapshot(files: string[]): Array<string | undefined> {
  return files.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : undefined));
}

interface Run {
  code: number | null;
  stderr: string;
}

function runQuick(outDir: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER], {
      cwd: ROOT,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_OUT_DIR: outDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('npm run bench, quick mode (BENCH_QUICK=1) into a temporary directory', () => {
  let out: string;
  let run: Run;
  let before: Array<string | undefined>;
  let results: Results;

  beforeAll(async () => {
    if (!existsSync(RUNNER)) throw new Error(`${RUNNER} missing: run \`npm run build\` first`);
    before = snapshot(REPO_RESULTS);
    out = mkdtempSync(path.join(tmpdir(), 'pmh-bench-smoke-'));
    run = await runQuick(out);
    results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;
  }, 300_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test('every section runs to the end (exit 0)', () => {
    expect({ code: run.code, failed: run.stderr.split('\n').filter((l) => l.includes('FAILED')) }).toEqual({ code: 0, failed: [] });
  });

  test('results.json has every section, marked quick, with the machine described', () => {
    expect(results.sections.map((s) => s.name)).toEqual(SECTIONS);
    for (const s of results.sections) {
      expect(s.quick).toBe(true);
      expect(Number.isNaN(Date.parse(s.date))).toBe(false);
      expect(s.figures.length).toBeGreaterThan(0);
    }
    expect(results.machine.cpuModel.length).toBeGreaterThan(0);
    expect(results.machine.logicalCpus).toBeGreaterThanOrEqual(1);
    expect(results.machine.node).toMatch(/^v\d+\./);
  });

  test('every figure is a well-formed number: finite, non-negative, p99 ≥ median, n ≥ 1, a verdict with every goal', () => {
    const figures = results.sections.flatMap((s) => s.figures.map((f) => ({ section: s.name, ...f })));
    for (const f of figures) {
      expect(f.id.startsWith(`${f.section}.`)).toBe(true);
      expect(Number.isFinite(f.median) && f.median >= 0).toBe(true);
      expect(Number.isInteger(f.n) && f.n >= 1).toBe(true);
      if (f.p99 !== undefined) expect(Number.isFinite(f.p99) && f.p99 >= f.median).toBe(true);
      expect(f.goal === undefined).toBe(f.met === undefined);
    }
    const ids = figures.map((f) => f.id);
    expect(ids).toEqual(expect.arrayContaining(REQUIRED_FIGURES));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of WITH_GOAL) expect(typeof figures.find((f) => f.id === id)?.met).toBe('boolean');
  });

  test('RESULTS.md names the machine, warns that quick numbers mean nothing, and lists every figure with its verdict', () => {
    const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain(`${results.machine.logicalCpus} logical CPUs`);
    expect(md).toContain(`Node ${results.machine.node}`);
    expect(md).toContain('Quick mode (BENCH_QUICK=1)');
    for (const f of results.sections.flatMap((s) => s.figures)) {
      const line = md.split('\n').find((l) => l.startsWith(`| ${f.label} |`));
      expect(line).toBeDefined();
      if (f.met !== undefined) expect(line).toContain(f.met ? '✅ met' : '❌ **missed**');
    }
    expect(md).toContain('](scaling.svg)');
  });

  test('scaling.svg is well-formed SVG with one point per measured size', () => {
    const svg = readFileSync(path.join(out, 'scaling.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<circle /g)?.length).toBe(5 + 3);
  });

  test('the repository copy of the results is left untouched', () => {
    expect(snapshot(REPO_RESULTS)).toEqual(before);
  });
});
