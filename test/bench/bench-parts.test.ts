/**
 * The pure parts of the benchmarks: statistics, the least-squares fit, the report renderer, the
 * profile summary, the chart, and the synthesized scaling inputs (which must still be valid for
 * the code they feed: placed by the chain, injected by admit()).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { runChain } from '../../src/core/chain.js';
import { admit } from '../../src/webhook/admission/admit.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { linearFit, stats, type Figure } from '../../bench/lib.js';
import { renderMarkdown, mergeResults, type SectionRecord } from '../../bench/report.js';
import { summarize, type CpuProfile } from '../../bench/profile.js';
import { domainWithVcpus, flatHost, reviewWithPodSize } from '../../bench/scaling.js';
import { chartSvg, ticks } from '../../bench/svg.js';
import { fitToCpus } from '../../bench/hook-roundtrip.js';

const REFERENCE = readFileSync(path.join(process.cwd(), '..', 'shared', 'corpus', 'kubevirt', 'kv-synth-dedicated-numa-10k.xml'), 'utf8');
const REVIEW = JSON.parse(readFileSync(path.join(process.cwd(), 'test/golden/webhook/kv17-dedicated-cpu/review.json'), 'utf8')) as Record<string, unknown>;
type Json = Record<string, unknown>;

describe('stats', () => {
  test('median of odd and even samples, nearest-rank p99, min, max, mean', () => {
    expect(stats([3, 1, 2])).toMatchObject({ n: 3, median: 2, min: 1, max: 3, mean: 2 });
    expect(stats([4, 1, 3, 2]).median).toBe(2.5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(stats(hundred).p99).toBe(99);
    expect(stats([...hundred, 1000]).p99).toBe(100);
  });
  test('an empty sample is an error, not NaN', () => {
    expect(() => stats([])).toThrow('empty sample');
  });
});

describe('linearFit', () => {
  test('points on a line: its slope and intercept, R² = 1', () => {
    const fit = linearFit([1, 8, 32, 128, 256], [1, 8, 32, 128, 256].map((x) => 5 * x + 300));
    expect(fit.slope).toBeCloseTo(5, 10);
    expect(fit.intercept).toBeCloseTo(300, 8);
    expect(fit.r2).toBeCloseTo(1, 12);
  });
  test('a quadratic over the same sizes fits worse than a line does', () => {
    const xs = [1, 8, 32, 128, 256];
    expect(linearFit(xs, xs.map((x) => x * x)).r2).toBeLessThan(0.95);
  });
  test('fewer than two points is an error', () => {
    expect(() => linearFit([1], [2])).toThrow();
  });
});

describe('report', () => {
  const fig = (id: string, median: number, goal?: [number, string]): Figure => ({
    id,
    label: `label of ${id}`,
    unit: 'µs',
    median,
    n: 10,
    ...(goal ? { goal: goal[1], met: median <= goal[0] } : {}),
  });
  const section = (name: string, figures: Figure[]): SectionRecord => ({ name, title: `Title ${name}`, date: '2026-01-01T00:00:00.000Z', seconds: 1, quick: false, loadPerCpu: 0.1, figures, markdown: `body of ${name}` });
  const machine = { cpuModel: 'Test CPU', logicalCpus: 4, memoryGiB: 8, node: 'v20.0.0', platform: 'linux/x64', kernel: '6.0', date: '2026-01-01T00:00:00.000Z' };

  test('every figure gets a row with median, goal and a met/missed marker; the goal count is right', () => {
    const md = renderMarkdown({ machine, sections: [section('a', [fig('a.fast', 100, [320, '≤ 320 µs']), fig('a.slow', 400, [320, '≤ 320 µs']), fig('a.info', 5)])] });
    expect(md).toContain('| label of a.fast | 100 µs |  | 10 | ≤ 320 µs | ✅ met |');
    expect(md).toContain('| label of a.slow | 400 µs |  | 10 | ≤ 320 µs | ❌ **missed** |');
    expect(md).toContain('| label of a.info | 5.0 µs |  | 10 |  |  |');
    expect(md).toContain('1 of 2 met');
    expect(md).toContain('Test CPU, 4 logical CPUs, 8 GiB, Node v20.0.0');
    expect(md).not.toContain('Quick mode');
  });
  test('running one section replaces it and keeps the others, in the runner order', () => {
    const previous = { machine, sections: [section('b', [fig('b.x', 1)]), section('a', [fig('a.x', 1)])] };
    const merged = mergeResults(previous, machine, [section('a', [fig('a.y', 2)])], ['a', 'b']);
    expect(merged.sections.map((s) => s.figures.map((f) => f.id))).toEqual([['a.y'], ['b.x']]);
  });
});

describe('profile summary', () => {
  // root → main → {hot, cold}; samples every 100 µs.
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
      { id: 2, callFrame: { functionName: 'main', scriptId: '1', url: 'file:///x/app.js', lineNumber: 0, columnNumber: 0 }, children: [3, 4] },
      { id: 3, callFrame: { functionName: 'hot', scriptId: '1', url: 'file:///x/app.js', lineNumber: 9, columnNumber: 0 } },
      { id: 4, callFrame: { functionName: '(idle)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 } },
    ],
    startTime: 1000,
    endTime: 2000,
    samples: [3, 3, 3, 2, 4, 4, 3],
    timeDeltas: [100, 100, 100, 100, 100, 100, 100],
  };
  test('self time per function, highest first, idle left out', () => {
    const s = summarize([profile]);
    expect(s.top.map((f) => [f.name, f.selfMs])).toEqual([
      ['hot', 0.4],
      ['main', 0.1],
    ]);
    expect(s.top[0]?.where).toBe('/x/app.js:10');
    expect(s.totalMs).toBeCloseTo(0.5, 10);
    expect(s.groups).toEqual([{ group: '/x/app.js', selfMs: 0.5, share: 1 }]);
  });
  test('a window keeps only the samples stamped inside it', () => {
    // Sample times: 1100, 1200, …, 1700.
    const s = summarize([profile], 10, { fromUs: 1350, toUs: 1450 });
    expect(s.top.map((f) => f.name)).toEqual(['main']);
  });
});

describe('chart', () => {
  test('round ticks that cover the maximum', () => {
    expect(ticks(256)).toEqual([0, 100, 200, 300]);
    expect(ticks(1590)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(ticks(0)).toEqual([0, 1]);
  });
  test('well-formed SVG with a point per measurement and escaped text', () => {
    const svg = chartSvg([
      { title: 'a < b & c', xLabel: 'x', yLabel: 'y', points: [{ x: 1, y: 2 }, { x: 2, y: 4 }], fit: { slope: 2, intercept: 0, r2: 1 }, yFormat: String },
      { title: 'second', xLabel: 'x', yLabel: 'y', points: [{ x: 1, y: 1 }], fit: { slope: 0, intercept: 1, r2: 1 }, yFormat: String },
    ]);
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg.match(/<circle /g)?.length).toBe(3);
    expect(svg).toContain('a &lt; b &amp; c');
  });
});

describe('synthesized benchmark inputs stay valid for the code they measure', () => {
  test.each([1, 8, 256])('a %i-vCPU domain is placed by the real chain: one pin per vCPU plus the emulator', (n) => {
    const xml = domainWithVcpus(REFERENCE, n);
    expect(xml.match(/<vcpupin /g)?.length).toBe(n);
    const host = flatHost(264);
    const r = runChain(xml, { cpuset: host.online, host });
    expect(r.changed).toBe(true);
    expect(r.xml.match(/<vcpupin /g)?.length).toBe(n);
  });
  test.each([1, 2])('the round-trip domain fitted to %i CPU(s) is placed on that many and is still ~10 KB', (n) => {
    const xml = fitToCpus(REFERENCE, n);
    expect(xml).toContain(`<vcpu placement='static'>${n}</vcpu>`);
    expect(xml.match(/<vcpupin /g)?.length).toBe(n);
    expect(Buffer.byteLength(xml)).toBeGreaterThan(9000);
    const host = flatHost(n);
    expect(runChain(xml, { cpuset: host.online, host }).changed).toBe(true);
  });
  test.each([1, 10, 50])('a pod with %i containers and volumes is injected by the real admit()', (n) => {
    const review = reviewWithPodSize(REVIEW, n);
    const spec = ((review.request as Json).object as Json).spec as Json;
    expect((spec.containers as Json[]).length).toBe(n);
    expect((spec.volumes as Json[]).length).toBe(n);
    const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example/x:1']).inject;
    const { outcome, review: out } = admit(review, { gate: { mode: 'inject', gateEnabled: true, reason: 'test' }, settings });
    expect(outcome.result).toBe('injected');
    expect(out.response.patch).toBeDefined();
  });
});
