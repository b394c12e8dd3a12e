/**
 * Child process of bench/chain.ts: the first runChain call in a fresh process, on the reference
 * KubeVirt domain. `cold`: nothing ran before. `warm:N`: after N runs of the server's start-up
 * warm-up (the server does 1 today). `demo:N`: after N chain runs on the bundled dedicated-CPU
 * demo domain (NUMA, emulator, iothread: the code paths a real migration takes).
 * Prints {importMs, warmMs, firstUs} as JSON.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './lib.js';

const [, warmKind, warmRuns] = /^(warm|demo):(\d+)$/.exec(process.argv[2] ?? '') ?? [];
const t0 = performance.now();
const { runChain } = await import('../src/chain.js');
const { readHostTopology } = await import('../src/topology/sysfs.js');
const importMs = performance.now() - t0;

const root = repoRoot();
const host = readHostTopology(join(root, 'test/fixtures/sysfs/2s-smt2-interleaved'));
const xml = readFileSync(join(root, '..', 'shared', 'corpus', 'kubevirt', 'kv-synth-dedicated-numa-10k.xml'), 'utf8');
const tw = performance.now();
if (warmKind === 'warm') {
  const { warmUp } = await import('../src/server/warmup.js');
  for (let i = 0; i < Number(warmRuns); i++) warmUp(runChain, host, {});
} else if (warmKind === 'demo') {
  const demo = readFileSync(join(root, 'assets', 'demo-domain.xml'), 'utf8');
  for (let i = 0; i < Number(warmRuns); i++) runChain(demo, { cpuset: host.online, host });
}
const warmMs = performance.now() - tw;
const t1 = performance.now();
runChain(xml, { cpuset: host.online, host });
const firstUs = (performance.now() - t1) * 1000;
process.stdout.write(`${JSON.stringify({ importMs, warmMs, firstUs })}\n`);
