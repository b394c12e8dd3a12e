/**
 * The sidecar under its shipped limits (the webhook's default sidecar CPU and memory, in a real cgroup: bench/cgroup.ts),
 * beside bare `node` serving a unix socket under the same limits, in the same run, interleaved:
 *   - start → the socket answers GET /healthz 200 (budget ≤ 1.5× bare Node);
 *   - the first migrate-begin on a fresh server (must sit well within the client's 2 s deadline);
 *   - an exec probe of /healthz run inside the same cgroup (budget ≤ 50 ms): the static client's
 *     `--probe` (the built client, or BENCH_PROBE_CLIENT; BENCH_PROBE_CLIENT=none skips it), and
 *     `curl --unix-socket` beside it;
 *   - RSS idle and after 200 requests (budgets ≤ 1.2× and ≤ 1.4× bare Node).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCgroup, peakMemoryMiB, SHIPPED_LIMITS, throttledUs, type Cgroup } from './cgroup.js';

/** `100m CPU / 96Mi`, from the limits the webhook injects. */
const LIMITS_TEXT = `${SHIPPED_LIMITS.cpuQuotaUs / 100}m CPU / ${SHIPPED_LIMITS.memoryBytes / 2 ** 20}Mi`;
import { roundTripInput } from './hook-roundtrip.js';
import { atMost, pick, row, sleep, stats, type Figure } from './lib.js';
import { cliPath, clientPath, memoryOf, stop, unixGet, unixRequest, type Memory } from './procs.js';

/** The floor: the smallest Node program that answers on a unix socket. */
const BARE_SERVER = "require('node:http').createServer((q, s) => { q.resume(); s.setHeader('Content-Type', 'application/json'); s.end('{\"status\":\"ok\"}'); }).listen(process.argv[1])";

interface Round {
  readyMs: number;
  child: ChildProcess;
}

async function startIn(cg: Cgroup, argv: string[], socket: string): Promise<Round> {
  rmSync(socket, { force: true });
  const t0 = performance.now();
  const [cmd, ...args] = cg.wrap(argv) as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: 'ignore' });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${argv.slice(0, 3).join(' ')} exited ${child.exitCode} during start`);
    if (existsSync(socket) && (await unixGet(socket, '/healthz')) === 200) break;
    if (performance.now() - t0 > 60_000) throw new Error('not ready after 60 s');
    await sleep(2);
  }
  return { readyMs: performance.now() - t0, child };
}

function timeExec(cg: Cgroup, argv: string[]): number {
  const [cmd, ...args] = cg.wrap(argv) as [string, ...string[]];
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv[0]} exited ${r.status}`);
  return t;
}

export interface LimitedResult {
  figures: Figure[];
  lines: string[];
}

export async function limitedFootprint(): Promise<LimitedResult> {
  const name = `pmh-bench-${process.pid}`;
  const cg = createCgroup(name, SHIPPED_LIMITS);
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-lim-'));
  try {
    const socket = path.join(dir, 'hooks.sock');
    const serveArgv = [process.execPath, cliPath(), 'serve', '--socket', socket, '--install-client', path.join(dir, 'bin'), '--client-binary', clientPath(), '--client-conf', path.join(dir, 'client.conf'), '--log-level', 'warn'];
    const bareArgv = [process.execPath, '-e', BARE_SERVER, socket];
    const rounds = pick(7, 2);
    const bare: number[] = [];
    const serve: number[] = [];
    const first: number[] = [];
    const { xml, cpuset, cpusetSource } = roundTripInput();
    const headers = { 'x-premigration-op': 'migrate', 'x-premigration-cpuset': cpuset, 'x-premigration-cpuset-source': cpusetSource, 'x-premigration-domain': 'bench' };
    const requests = pick(200, 10);
    let bareIdle: Memory | undefined;
    let bareLoaded: Memory | undefined;
    let idle: Memory | undefined;
    let loaded: Memory | undefined;
    const probeClient = process.env.BENCH_PROBE_CLIENT === 'none' ? undefined : (process.env.BENCH_PROBE_CLIENT ?? clientPath());
    const probeMs: number[] = [];
    const curlMs: number[] = [];
    const throttled0 = throttledUs(name) ?? 0;
    const hostileStatus: number[] = [];
    let hostilePeak: number | undefined;
    let hostileAfter = false;
    for (let i = 0; i < rounds; i++) {
      const last = i === rounds - 1;
      const b = await startIn(cg, bareArgv, socket);
      bare.push(b.readyMs);
      if (last) {
        await sleep(1000);
        bareIdle = memoryOf(b.child.pid as number);
        for (let k = 0; k < requests; k++) await unixGet(socket, '/healthz');
        await sleep(500);
        bareLoaded = memoryOf(b.child.pid as number);
      }
      await stop(b.child);

      const s = await startIn(cg, serveArgv, socket);
      serve.push(s.readyMs);
      const t1 = performance.now();
      const a = await unixRequest(socket, '/v1/migrate-begin', xml, headers);
      first.push(performance.now() - t1);
      if (a.status !== 200) throw new Error(`first request answered ${a.status}: ${a.body.slice(0, 200)}`);
      if (last) {
        await sleep(1000);
        idle = memoryOf(s.child.pid as number);
        for (let k = 0; k < pick(20, 3); k++) {
          if (probeClient) probeMs.push(timeExec(cg, [probeClient, '--probe', '--socket', socket, '--timeout-ms', '2000']));
          curlMs.push(timeExec(cg, ['curl', '-sf', '-o', '/dev/null', '--unix-socket', socket, 'http://localhost/healthz']));
        }
        for (let k = 0; k < requests; k++) {
          const r = await unixRequest(socket, '/v1/migrate-begin', xml, headers);
          if (r.status !== 200) throw new Error(`request answered ${r.status}`);
        }
        await sleep(500);
        loaded = memoryOf(s.child.pid as number);
        // The largest hostile request the limits allow: 4 MiB, just under the element limit, one huge attribute.
        const n = 49_000;
        const hostile = `<domain type='kvm'><name>h</name>${'<a/>'.repeat(n)}<b x="${'y'.repeat(4 * 1024 * 1024 - 4 * n - 200)}"/></domain>`;
        for (let k = 0; k < 3; k++) hostileStatus.push((await unixRequest(socket, '/v1/migrate-begin', hostile, headers)).status);
        hostilePeak = peakMemoryMiB(name);
        hostileAfter = (await unixGet(socket, '/healthz')) === 200;
      }
      await stop(s.child);
    }
    const throttledMs = ((throttledUs(name) ?? 0) - throttled0) / 1000;
    const sb = stats(bare);
    const ss = stats(serve);
    const sf = stats(first);
    const m = (x: Memory | undefined): Memory => x ?? { rss: NaN, anon: NaN, file: NaN };
    const [bi, bl, si, sl] = [m(bareIdle), m(bareLoaded), m(idle), m(loaded)];
    const figures: Figure[] = [
      { id: 'footprint.limited-start-bare', label: `under ${LIMITS_TEXT}: bare \`node\` serving a unix socket, start → /healthz 200`, unit: 'ms', median: sb.median, n: sb.n },
      { id: 'footprint.limited-start', label: `under ${LIMITS_TEXT}: hook server start → /healthz 200 (${(ss.median / sb.median).toFixed(2)}× bare Node)`, unit: 'ms', median: ss.median, n: ss.n, ...atMost(ss.median, 1.5 * sb.median, `≤ 1.5× bare Node (${(1.5 * sb.median).toFixed(0)} ms)`) },
      { id: 'footprint.limited-first-call', label: `under ${LIMITS_TEXT}: first migrate-begin on a fresh server (no warm-up)`, unit: 'ms', median: sf.median, n: sf.n, ...atMost(sf.median, 500, '≤ 500 ms (a quarter of the 2 s deadline)') },
      { id: 'footprint.limited-rss-idle', label: `under ${LIMITS_TEXT}: hook server idle RSS (${(si.rss / bi.rss).toFixed(2)}× bare Node)`, unit: 'MiB', median: si.rss, n: 1, ...atMost(si.rss, 1.2 * bi.rss, `≤ 1.2× bare Node (${(1.2 * bi.rss).toFixed(1)} MiB)`) },
      { id: 'footprint.limited-rss-loaded', label: `under ${LIMITS_TEXT}: hook server RSS after ${requests} requests (${(sl.rss / bl.rss).toFixed(2)}× bare Node after ${requests})`, unit: 'MiB', median: sl.rss, n: 1, ...atMost(sl.rss, 1.4 * bl.rss, `≤ 1.4× bare Node (${(1.4 * bl.rss).toFixed(1)} MiB)`) },
    ];
    if (probeMs.length) {
      const sp = stats(probeMs);
      figures.push({ id: 'footprint.limited-probe', label: `under ${LIMITS_TEXT}: exec probe \`premigration-hooks-client --probe\` (/healthz)`, unit: 'ms', median: sp.median, p99: sp.max, n: sp.n, ...atMost(sp.median, 50, '≤ 50 ms') });
    }
    const sc = stats(curlMs);
    figures.push({ id: 'footprint.limited-probe-curl', label: `under ${LIMITS_TEXT}: exec probe stand-in \`curl --unix-socket\` (/healthz)`, unit: 'ms', median: sc.median, p99: sc.max, n: sc.n, ...(probeMs.length ? {} : atMost(sc.median, 50, '≤ 50 ms')) });

    const lines: string[] = [];
    lines.push(`**Under the shipped limits.** ${cg.describe}; each process is moved into the group by a shell that then execs it (the shell's ~1 ms is in both columns). ${rounds} starts each, bare Node and the hook server interleaved in one run; the quota really bit: ${throttledMs.toFixed(0)} ms throttled in total. The hook server ran ${existsSync(path.join(path.dirname(cliPath()), '..', 'server', 'bundle', 'main.js')) ? 'from its bundle (`dist/src/server/bundle/`, `npm run build:bundle`)' : 'unbundled (no `dist/src/server/bundle/`: esbuild not installed)'}. Bare Node is \`node -e '<http.createServer(…).listen(socket)>'\`. The probes run inside the same cgroup, as a kubelet exec probe runs in the container${probeMs.length ? '' : '; the static client\'s `--probe` was not measured (BENCH_PROBE_CLIENT=none), so `curl --unix-socket` stands in'}.`);
    lines.push('');
    lines.push(row([`under ${LIMITS_TEXT}`, 'bare Node', 'hook server', 'ratio', 'budget']));
    lines.push(row(['---', '---:', '---:', '---:', '---']));
    lines.push(row(['start → /healthz 200 (median, max)', `${sb.median.toFixed(0)} ms (${sb.max.toFixed(0)})`, `${ss.median.toFixed(0)} ms (${ss.max.toFixed(0)})`, `${(ss.median / sb.median).toFixed(2)}×`, '≤ 1.5×']));
    lines.push(row(['RSS idle', `${bi.rss.toFixed(1)} MiB`, `${si.rss.toFixed(1)} MiB`, `${(si.rss / bi.rss).toFixed(2)}×`, '≤ 1.2×']));
    lines.push(row([`RSS after ${requests} requests`, `${bl.rss.toFixed(1)} MiB`, `${sl.rss.toFixed(1)} MiB`, `${(sl.rss / bl.rss).toFixed(2)}×`, '≤ 1.4×']));
    lines.push(row(['anonymous memory idle / loaded', `${bi.anon.toFixed(1)} / ${bl.anon.toFixed(1)} MiB`, `${si.anon.toFixed(1)} / ${sl.anon.toFixed(1)} MiB`, '', '']));
    lines.push(row(['first migrate-begin (10.5 KB domain, re-pinned)', '', `${sf.median.toFixed(1)} ms (max ${sf.max.toFixed(1)})`, '', '≪ 2 s deadline']));
    if (probeMs.length) {
      const sp = stats(probeMs);
      lines.push(row(['exec probe: `premigration-hooks-client --probe`', '', `${sp.median.toFixed(1)} ms (max ${sp.max.toFixed(1)})`, '', '≤ 50 ms']));
    }
    lines.push(row(['exec probe: `curl --unix-socket …/healthz`', '', `${sc.median.toFixed(1)} ms (max ${sc.max.toFixed(1)})`, '', probeMs.length ? '' : '≤ 50 ms (stand-in)']));
    lines.push('');
    lines.push(`Then 3 maximum-size hostile requests (4 MiB: 49,000 elements and one 3.8 MB attribute) answered ${hostileStatus.join(', ')}; the cgroup's peak memory over the whole run (both servers): ${hostilePeak === undefined ? 'not available' : `${hostilePeak.toFixed(1)} MiB`} of the 128 MiB limit; /healthz after them: ${hostileAfter ? '200' : 'no answer'}.`);
    if (hostilePeak !== undefined) figures.push({ id: 'footprint.limited-hostile-peak', label: `under ${LIMITS_TEXT}: cgroup peak memory, including 3 maximum-size hostile requests`, unit: 'MiB', median: hostilePeak, n: 1, ...atMost(hostilePeak, SHIPPED_LIMITS.memoryBytes / 2 ** 20, `≤ ${SHIPPED_LIMITS.memoryBytes / 2 ** 20} MiB (the limit)`) });
    return { figures, lines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sleep(100);
    cg.remove();
  }
}

/** Is the limited run possible here (root, a writable cgroup tree)? */
export function canLimit(): boolean {
  return process.getuid?.() === 0 && existsSync('/sys/fs/cgroup');
}
