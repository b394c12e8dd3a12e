/**
 * `npm run bench`: run the benchmark sections (all, or those named on the command line) and
 * rewrite each one's section of bench/RESULTS.md. Add a benchmark: one entry in SECTIONS.
 */
import { RESULTS_FILE, writeSection } from './lib.js';

const SECTIONS: Array<{ name: string; run: () => Promise<string> }> = [
  { name: 'chain', run: async () => (await import('./chain.js')).chainSection() },
];

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((n) => !SECTIONS.some((s) => s.name === n));
  if (unknown.length) {
    process.stderr.write(`unknown bench section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  for (const section of SECTIONS.filter((s) => argv.length === 0 || argv.includes(s.name))) {
    const t0 = performance.now();
    process.stderr.write(`bench ${section.name}: running…\n`);
    const body = await section.run();
    writeSection(section.name, body);
    process.stdout.write(`${body}\n\n`);
    process.stderr.write(`bench ${section.name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${RESULTS_FILE()}\n`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
