/**
 * Child process of bench/chain.ts: the first runChain call in a fresh process, on the reference
 * KubeVirt domain. The hook server serves about one migration in its life, so this is the call
 * that counts.
 *
 *   node dist/bench/chain-first-call.js <mode> [profile-out]
 *
 * mode: `cold` (nothing ran before) | `warm:N` (after N runs of the server's start-up warm-up; the
 * server does 1) | `demo:N` (after N chain runs on the bundled dedicated-CPU demo domain, which
 * takes the NUMA, emulator and iothread paths a real migration takes).
 * With profile-out, the first call runs under the CPU profiler and the profile is written there.
 * Prints {importMs, warmMs, firstUs} as JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, FIXTURE, REFERENCE_DOMAIN, repoRoot } from './lib.js';

const [, warmKind, warmRuns] = /^(warm|demo):(\d+)$/.exec(process.argv[2] ?? '') ?? [];
const profileOut = process.argv[3];
// Loaded before the clock starts so that profiling, when asked, does not count as import time.
const profiler = profileOut ? await import('./profile.js') : undefined;

const t0 = performance.now();
const { runChain } = await import('../src/core/chain.js');
const { readHostTopology } = await import('../src/node/sysfs.js');
const importMs = performance.now() - t0;

const root = repoRoot();
const host = readHostTopology(join(root, FIXTURE));
const xml = readFileSync(join(corpusDir(), 'kubevirt', REFERENCE_DOMAIN), 'utf8');
const tw = performance.now();
if (warmKind === 'warm') {
  // warm:0 = the server's warm-up as shipped (WARMUP_ROUNDS); warm:N = N rounds of it.
  const { warmUp } = await import('./warmup.js');
  if (Number(warmRuns) === 0) warmUp(runChain, {});
  else warmUp(runChain, {}, Number(warmRuns));
} else if (warmKind === 'demo') {
  const demo = readFileSync(join(root, 'assets', 'demo-domain.xml'), 'utf8');
  for (let i = 0; i < Number(warmRuns); i++) runChain(demo, { cpuset: host.online, host });
}
const warmMs = performance.now() - tw;
const first = (): void => {
  runChain(xml, { cpuset: host.online, host });
};
let firstUs = Number.NaN;
if (profiler && profileOut) {
  writeFileSync(profileOut, JSON.stringify(await profiler.profileHere(first)));
} else {
  const t1 = performance.now();
  first();
  firstUs = (performance.now() - t1) * 1000;
}
process.stdout.write(`${JSON.stringify({ importMs, warmMs, firstUs })}\n`);
