/**
 * `npm run bench`: run the benchmark sections (all, or those named on the command line), then
 * rewrite RESULTS.md and results.json (in BENCH_OUT_DIR, default bench/). BENCH_QUICK=1 runs one
 * short iteration of each, for the smoke test. Add a benchmark: one entry in SECTIONS.
 *
 * Exit status: 0 when every section ran (missed goals are results, not failures), 1 when a
 * section threw (its error is recorded in RESULTS.md), 2 for an unknown section name.
 */
import { join } from 'node:path';
import { otherLoadProbe, machineInfo, outDir, quick, type SectionResult } from './lib.js';
import { mergeResults, readResults, RESULTS_MD, writeResults, type SectionRecord } from './report.js';

interface Section {
  name: string;
  title: string;
  run: () => Promise<SectionResult>;
}

const SECTIONS: Section[] = [
  { name: 'chain', title: '1. Chain: mutate per domain (`bench/chain.ts`)', run: async () => (await import('./chain.js')).chainSection() },
  { name: 'hook', title: '2. Hook round trip: client → server → stdout (`bench/hook-roundtrip.ts`)', run: async () => (await import('./hook-roundtrip.js')).hookRoundTripSection() },
  { name: 'webhook', title: '3. Webhook under HTTPS load (`bench/webhook.ts`)', run: async () => (await import('./webhook.js')).webhookSection() },
  { name: 'footprint', title: '4. Footprint in a target pod (`bench/footprint.ts`)', run: async () => (await import('./footprint.js')).footprintSection() },
  { name: 'scaling', title: '5. Scaling with domain and pod size (`bench/scaling.ts`)', run: async () => (await import('./scaling.js')).scalingSection() },
];

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown bench section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const dir = outDir();
  const chosen = SECTIONS.filter((s) => argv.length === 0 || argv.includes(s.name));
  const fresh: SectionRecord[] = [];
  let failed = 0;
  const t0 = performance.now();
  for (const section of chosen) {
    const ts = performance.now();
    const otherLoad = otherLoadProbe();
    process.stderr.write(`bench ${section.name}: running${quick() ? ' (quick)' : ''}…\n`);
    let result: SectionResult;
    try {
      result = await section.run();
    } catch (err) {
      failed++;
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`bench ${section.name}: FAILED: ${message}\n`);
      result = { figures: [], markdown: `**This section failed to run:** ${message.split('\n')[0]}` };
    }
    const seconds = (performance.now() - ts) / 1000;
    fresh.push({ name: section.name, title: section.title, date: new Date().toISOString(), seconds, quick: quick(), loadPerCpu: otherLoad(), ...result });
    for (const f of result.figures) {
      const verdict = f.met === undefined ? '' : f.met ? '  met' : '  MISSED';
      process.stderr.write(`  ${f.label}: ${f.median.toFixed(f.unit === 'bytes' ? 0 : 2)} ${f.unit}${f.p99 !== undefined ? ` (p99 ${f.p99.toFixed(2)})` : ''}${f.goal ? `  goal ${f.goal}${verdict}` : ''}\n`);
    }
    process.stderr.write(`bench ${section.name}: done in ${seconds.toFixed(1)} s\n`);
  }
  // Sections not run this time keep their last results, so the summary stays whole.
  const previous = argv.length === 0 ? undefined : readResults(dir);
  writeResults(
    dir,
    mergeResults(previous, machineInfo(), fresh, SECTIONS.map((s) => s.name)),
  );
  process.stderr.write(`bench: ${((performance.now() - t0) / 1000).toFixed(0)} s in all → ${join(dir, RESULTS_MD)}\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
