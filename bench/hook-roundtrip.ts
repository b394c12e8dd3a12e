/**
 * Hook round trip (issue 6 §2, issue 3 §5): spawn the real client → real server over the unix
 * socket → XML on stdout, for a ~10 KB KubeVirt domain, p50/p99 (goal p50 ≤ 5 ms); a non-XML op
 * (`prepare begin`) beside spawning /bin/true in the same run (goal ≤ 2 ms and ≤ 2× /bin/true,
 * the physical limit of "start a process").
 *
 * The client reads the cpuset of its real cgroup and the server the real /sys, as in a pod; the
 * config path comes from PREMIGRATION_HOOKS_CLIENT_CONF (the test-only override; libvirt scrubs
 * the environment in production). The corpus domain has 8 dedicated vCPUs; it is fitted to 2 so
 * that it is placed (200 with XML) on any machine with 2 CPUs rather than refused, keeping its
 * ~10 KB of devices.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { atMost, corpusDir, pick, REFERENCE_DOMAIN, row, stats, us, type Figure, type SectionResult, type Stats } from './lib.js';
import { cliPath, clientPath, hookServerPaths, requireBuilt, startHookServer, stop, type HookServerPaths } from './procs.js';
import { cpuProfFlags, monotonicUs, profileMarkdown, readProfiles, summarize, type Window } from './profile.js';

export const XML_GOAL_US = 5000;
export const NON_XML_GOAL_US = 2000;

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

interface Spawned {
  us: number;
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** One spawn, timed from just before spawn to its exit, in µs. */
function timeSpawn(cmd: string, args: string[], input: string | undefined, env: NodeJS.ProcessEnv): Spawned {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { input, env, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return { us: (performance.now() - t0) * 1000, status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8').trim() };
}

/** durationMs of the server's per-request log lines (JSON, one per request). */
function serverDurations(log: string): number[] {
  const out: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes('"durationMs"') || !line.includes('migrate-begin')) continue;
    try {
      const d = (JSON.parse(line) as { durationMs?: unknown }).durationMs;
      if (typeof d === 'number') out.push(d * 1000);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

interface Series {
  xml: Stats;
  nonXml: Stats;
  binTrue: Stats;
  server: Stats | undefined;
  first: Spawned;
  /** The measured loop, on the profile clock. */
  window: Window;
}

const XML_ARGS = ['default_ubuntu-amd', 'migrate', 'begin', '-'];
const NON_XML_ARGS = ['default_ubuntu-amd', 'prepare', 'begin', '-'];

async function measure(p: HookServerPaths, xml: string, iterations: number, nodeFlags: string[] = []): Promise<Series> {
  const server = await startHookServer(p, { captureLog: true, nodeFlags });
  try {
    const env = { PATH: '/usr/bin:/bin', LC_ALL: 'C', PREMIGRATION_HOOKS_CLIENT_CONF: p.conf };
    const client = clientPath();
    const first = timeSpawn(client, XML_ARGS, xml, env);
    if (first.status !== 0 || first.stdout.length === 0) {
      throw new Error(`the client did not print re-pinned XML (exit ${first.status}, ${first.stdout.length} bytes on stdout): ${first.stderr || 'no message'}`);
    }
    const xmlRt: number[] = [];
    const nonXml: number[] = [];
    const binTrue: number[] = [];
    const fromUs = monotonicUs();
    // Interleaved, so that machine noise hits the three series alike.
    for (let i = 0; i < iterations; i++) {
      xmlRt.push(timeSpawn(client, XML_ARGS, xml, env).us);
      nonXml.push(timeSpawn(client, NON_XML_ARGS, xml, env).us);
      binTrue.push(timeSpawn('/bin/true', [], undefined, env).us);
    }
    const window = { fromUs, toUs: monotonicUs() };
    const durations = serverDurations(server.log()).slice(1); // the first call is reported apart
    return { xml: stats(xmlRt), nonXml: stats(nonXml), binTrue: stats(binTrue), server: durations.length ? stats(durations) : undefined, first, window };
  } finally {
    await stop(server.child);
  }
}

export async function hookRoundTripSection(): Promise<SectionResult> {
  requireBuilt(cliPath(), clientPath());
  const xml = fitToTwoCpus(readFileSync(path.join(corpusDir(), 'kubevirt', REFERENCE_DOMAIN), 'utf8'));
  const iterations = pick(300, 3);
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-hook-'));
  try {
    const p = hookServerPaths(dir);
    const s = await measure(p, xml, iterations);
    const ratio = s.nonXml.median / s.binTrue.median;
    const figures: Figure[] = [
      { id: 'hook.xml-roundtrip', label: `hook round trip, \`migrate begin\` with a ${Buffer.byteLength(xml)} B domain (client → server → stdout)`, unit: 'µs', median: s.xml.median, p99: s.xml.p99, n: s.xml.n, ...atMost(s.xml.median, XML_GOAL_US, 'p50 ≤ 5 ms') },
      { id: 'hook.first-call', label: 'hook round trip, first call to a freshly started (warmed-up) server', unit: 'µs', median: s.first.us, n: 1 },
      {
        id: 'hook.non-xml-op',
        label: `hook client, non-XML op (\`prepare begin\`): ${ratio.toFixed(2)}× /bin/true`,
        unit: 'µs',
        median: s.nonXml.median,
        p99: s.nonXml.p99,
        n: s.nonXml.n,
        goal: `≤ 2 ms and ≤ 2× /bin/true (${us(2 * s.binTrue.median)})`,
        met: s.nonXml.median <= NON_XML_GOAL_US && ratio <= 2,
      },
      { id: 'hook.bin-true', label: 'spawn `/bin/true` in the same run (the physical limit)', unit: 'µs', median: s.binTrue.median, p99: s.binTrue.p99, n: s.binTrue.n },
    ];
    if (s.server) figures.push({ id: 'hook.server-time', label: 'hook server, time per `migrate begin` request (its own log, body read → answer)', unit: 'µs', median: s.server.median, p99: s.server.p99, n: s.server.n });

    const lines: string[] = [];
    lines.push(`Real client binary (\`hookclient/target/release/premigration-hooks-client\`) → real server (\`node dist/src/cli.js serve\`, real /sys, log level info) → stdout. The client reads its real cgroup cpuset. Domain: \`${REFERENCE_DOMAIN}\` fitted to 2 dedicated vCPUs (${Buffer.byteLength(xml)} bytes); the answer is 200 with the re-pinned XML (${s.first.stdout.length} bytes). Times are wall clock from just before \`spawnSync\` to the child's exit, so each includes Node's own spawn cost, the same for /bin/true. ${iterations} rounds, the three series interleaved.`);
    lines.push('');
    const server = s.server?.median ?? 0;
    lines.push('Where the median round trip goes (differences of medians):');
    lines.push('');
    lines.push(row(['part', 'median']));
    lines.push(row(['---', '---:']));
    lines.push(row(['spawn and reap a process (`/bin/true`)', us(s.binTrue.median)]));
    lines.push(row(['the client starting, routing its arguments and exiting (`prepare begin` − /bin/true)', us(s.nonXml.median - s.binTrue.median)]));
    lines.push(row(['the server handling the request (its own log: body read → chain → answer)', us(server)]));
    lines.push(row(['the rest: stdin, cgroup and config reads, connect, HTTP over the socket, stdout', us(s.xml.median - s.nonXml.median - server)]));

    if (figures.some((f) => f.met === false)) {
      lines.push('');
      const missed = figures.filter((f) => f.met === false).map((f) => f.label);
      lines.push(`**Missed:** ${missed.join('; ')}. The table above splits the time; the profile below is the server during ${Math.min(iterations, pick(100, 3))} round trips.`);
      const profDir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-prof-'));
      try {
        const profiled = await measure(hookServerPaths(mkdtempSync(path.join(dir, 'prof-'))), xml, Math.min(iterations, pick(100, 3)), cpuProfFlags(profDir));
        lines.push('');
        lines.push(profileMarkdown('hook server process during the round trips only (`node --cpu-prof`, samples inside the loop)', summarize(readProfiles(profDir), 12, profiled.window)));
      } finally {
        rmSync(profDir, { recursive: true, force: true });
      }
    }
    return { figures, markdown: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
