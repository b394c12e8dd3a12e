/**
 * Hook round trip and in-pod footprint (issue 3 §5, issue 6 §2 and §4):
 * - spawn the real client → real server over the unix socket → XML on stdout, for a 10 KB
 *   KubeVirt domain, p50/p99 (goal p50 ≤ 5 ms);
 * - a non-XML op (`prepare begin`) beside spawning /bin/true in the same run (goal ≤ 2 ms and
 *   ≤ 2× /bin/true, the physical limit of "spawn a process");
 * - the first call to a fresh server against the median (what the warm-up buys);
 * - server start → /healthz answering (goal ≤ 500 ms), idle RSS (goal ≤ 50 MB), client size (≤ 1 MiB).
 *
 * The client reads the cpuset of its real cgroup and the server the real /sys, as in a pod. The
 * corpus domain has 8 dedicated vCPUs; it is fitted to 2 vCPUs so that it is placed (200) on any
 * machine with 2 CPUs rather than refused, keeping its ~10 KB of devices.
 *
 *   node dist/bench/hook-roundtrip.js [iterations]       (also run by bench/run.ts when present)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { machineLine, repoRoot, stats, us, writeSection, type Stats } from './lib.js';

export const SECTION = 'hook-roundtrip';

export interface RoundTripOptions {
  /** Client invocations per measured series (default 300). */
  iterations?: number;
  /** Server cold starts to time (default 5). */
  starts?: number;
  /** Rewrite the section of bench/RESULTS.md (default true). */
  write?: boolean;
}

export interface RoundTripResult {
  xmlBytes: number;
  xmlStatus: string;
  xmlRoundTrip: Stats;
  firstCallUs: number;
  nonXmlOp: Stats;
  binTrue: Stats;
  startupMs: Stats;
  idleMemory: { afterStart: Memory; afterLoad: Memory; bareNode: Memory };
  clientBytes: number;
  markdown: string;
}

function corpusDomain(root: string): string {
  const candidates = [
    path.join(root, '..', 'shared', 'corpus', 'kubevirt', 'kv-synth-dedicated-numa-10k.xml'),
    path.join(root, 'test', 'fixtures', 'kubevirt', 'kv-synth-dedicated-numa-10k.xml'),
    path.join(root, 'test', 'fixtures', 'corpus', 'kubevirt', 'kv-synth-dedicated-numa-10k.xml'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`kv-synth-dedicated-numa-10k.xml not found (looked in ${candidates.join(', ')})`);
  return readFileSync(found, 'utf8');
}

/** The corpus domain reduced to 2 dedicated vCPUs on one guest cell; everything else kept. */
export function fitToTwoCpus(xml: string): string {
  return xml
    .replace(/<vcpu placement='static'>\d+<\/vcpu>/, "<vcpu placement='static'>2</vcpu>")
    .replace(/\s*<iothreads>\d+<\/iothreads>/, '')
    .replace(/<cputune>[\s\S]*?<\/cputune>/, "<cputune>\n    <vcpupin vcpu='0' cpuset='36'/>\n    <vcpupin vcpu='1' cpuset='37'/>\n  </cputune>")
    .replace(/\s*<numatune>[\s\S]*?<\/numatune>/, '')
    .replace(/\s*<numa>[\s\S]*?<\/numa>/, '')
    .replace(/nodeset='0-1'/g, "nodeset='0'")
    .replace(/<topology [^/]*\/>/, "<topology sockets='1' dies='1' cores='2' threads='1'/>");
}

interface Memory {
  /** Resident set, MiB. */
  rss: number;
  /** Of which anonymous (heap, stacks, JIT code): the part that is the server's alone, MiB. */
  anon: number;
}

/** Most of a Node process's RSS is file-backed pages of the node binary, shared and reclaimable. */
function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss') / 1024, anon: kb('Anonymous') / 1024 };
}

function healthz(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/healthz', headers: { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

interface Started {
  child: ChildProcess;
  ms: number;
}

async function startServer(cli: string, client: string, dir: string): Promise<Started> {
  const socket = path.join(dir, 'hooks.sock');
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [cli, 'serve', '--socket', socket, '--install-client', path.join(dir, 'bin'), '--client-binary', client, '--client-conf', path.join(dir, 'client.conf'), '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} during start`);
    if (existsSync(socket) && (await healthz(socket)) === 200) return { child, ms: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** RSS of a bare `node` that only waits: the floor any Node server starts from. */
async function bareNodeMemory(): Promise<Memory> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const m = memoryOf(child.pid as number);
  await stopServer(child);
  return m;
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

/** One spawn, timed from just before spawn to its exit, in µs. */
function timeSpawn(cmd: string, args: string[], input: string | undefined, env: NodeJS.ProcessEnv): { us: number; status: number | null; stdout: Buffer } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { input, env, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return { us: (performance.now() - t0) * 1000, status: r.status, stdout: r.stdout };
}

export async function run(opts: RoundTripOptions = {}): Promise<RoundTripResult> {
  const iterations = opts.iterations ?? 300;
  const starts = opts.starts ?? 5;
  const root = repoRoot();
  const cli = path.join(root, 'dist', 'src', 'cli.js');
  const client = path.join(root, 'hookclient', 'target', 'release', 'premigration-hooks-client');
  for (const f of [cli, client]) if (!existsSync(f)) throw new Error(`${f} missing: run \`npm run build\``);

  const xml = fitToTwoCpus(corpusDomain(root));
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-'));
  try {
    const startupMs: number[] = [];
    for (let i = 0; i < starts - 1; i++) {
      const s = await startServer(cli, client, dir);
      startupMs.push(s.ms);
      await stopServer(s.child);
    }
    const server = await startServer(cli, client, dir);
    startupMs.push(server.ms);
    const pid = server.child.pid as number;
    await new Promise((r) => setTimeout(r, 200));
    const memAfterStart = memoryOf(pid);

    try {
      const env = { PATH: '/usr/bin:/bin', LC_ALL: 'C', PREMIGRATION_HOOKS_CLIENT_CONF: path.join(dir, 'client.conf') };
      const xmlArgs = ['default_ubuntu-amd', 'migrate', 'begin', '-'];
      const first = timeSpawn(client, xmlArgs, xml, env);
      const xmlStatus = first.status !== 0 ? `exit ${first.status}` : first.stdout.length > 0 ? '200 (re-pinned XML on stdout)' : '204 or policy pass (no stdout)';

      const xmlRoundTrip: number[] = [];
      const nonXmlOp: number[] = [];
      const binTrue: number[] = [];
      // Interleaved, so that machine noise hits the three series alike.
      for (let i = 0; i < iterations; i++) {
        xmlRoundTrip.push(timeSpawn(client, xmlArgs, xml, env).us);
        nonXmlOp.push(timeSpawn(client, ['default_ubuntu-amd', 'prepare', 'begin', '-'], xml, env).us);
        binTrue.push(timeSpawn('/bin/true', [], undefined, env).us);
      }
      const memAfterLoad = memoryOf(pid);
      const result = {
        xmlBytes: Buffer.byteLength(xml),
        xmlStatus,
        xmlRoundTrip: stats(xmlRoundTrip),
        firstCallUs: first.us,
        nonXmlOp: stats(nonXmlOp),
        binTrue: stats(binTrue),
        startupMs: stats(startupMs),
        idleMemory: { afterStart: memAfterStart, afterLoad: memAfterLoad, bareNode: await bareNodeMemory() },
        clientBytes: statSync(client).size,
      };
      const markdown = render(result, iterations);
      if (opts.write ?? true) writeSection(SECTION, markdown);
      return { ...result, markdown };
    } finally {
      await stopServer(server.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mem(m: Memory): string {
  return `${m.rss.toFixed(1)} MiB (${m.anon.toFixed(1)} MiB anonymous)`;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**missed**';
}

function render(r: Omit<RoundTripResult, 'markdown'>, iterations: number): string {
  const ratio = r.nonXmlOp.median / r.binTrue.median;
  const mib = r.clientBytes / (1024 * 1024);
  return [
    '## Hook round trip and in-pod footprint',
    '',
    `Machine: ${machineLine()}. Real client binary → real server (\`serve\`, real /sys, the client's real cgroup cpuset) → stdout.`,
    `Domain: \`kv-synth-dedicated-numa-10k.xml\` fitted to 2 dedicated vCPUs (${r.xmlBytes} bytes); answer: ${r.xmlStatus}.`,
    '',
    '| figure | median | p99 | n | goal | |',
    '|---|---|---|---|---|---|',
    `| XML round trip (\`migrate begin\`) | ${us(r.xmlRoundTrip.median)} | ${us(r.xmlRoundTrip.p99)} | ${r.xmlRoundTrip.n} | p50 ≤ 5 ms | ${verdict(r.xmlRoundTrip.median <= 5000)} |`,
    `| first call to a fresh (warmed-up) server | ${us(r.firstCallUs)} | | 1 | ≈ median | ${(r.firstCallUs / r.xmlRoundTrip.median).toFixed(1)}× median |`,
    `| non-XML op (\`prepare begin\`) | ${us(r.nonXmlOp.median)} | ${us(r.nonXmlOp.p99)} | ${r.nonXmlOp.n} | ≤ 2 ms and ≤ 2× /bin/true | ${verdict(r.nonXmlOp.median <= 2000 && ratio <= 2)} (${ratio.toFixed(2)}×) |`,
    `| spawn \`/bin/true\` (the physical limit) | ${us(r.binTrue.median)} | ${us(r.binTrue.p99)} | ${r.binTrue.n} | | |`,
    `| server start → /healthz 200 | ${r.startupMs.median.toFixed(0)} ms | max ${r.startupMs.max.toFixed(0)} ms | ${r.startupMs.n} | ≤ 500 ms | ${verdict(r.startupMs.median <= 500)} |`,
    `| server idle RSS | ${mem(r.idleMemory.afterStart)} after start; ${mem(r.idleMemory.afterLoad)} after ${iterations} XML requests | | | ≤ 50 MB | ${verdict(r.idleMemory.afterLoad.rss * 1.048576 <= 50)} |`,
    `| client binary size | ${r.clientBytes} bytes (${mib.toFixed(2)} MiB) | | | ≤ 1 MiB | ${verdict(r.clientBytes <= 1024 * 1024)} |`,
    '',
    `RSS counts the file-backed pages of the node binary (shared, reclaimable); "anonymous" is what the server holds alone. A bare \`node\` process that only waits: ${mem(r.idleMemory.bareNode)}.`,
    '',
    'Times are wall clock from just before `spawnSync` to the child\'s exit, so each includes Node\'s own spawn cost (the same for /bin/true).',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const iterations = process.argv[2] ? Number(process.argv[2]) : undefined;
  run(iterations ? { iterations } : {}).then(
    (r) => process.stdout.write(`${r.markdown}\n`),
    (err: unknown) => {
      process.stderr.write(`hook-roundtrip: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
