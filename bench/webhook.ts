/**
 * Webhook benchmark: HTTPS load with a realistic dedicated-CPU target-pod
 * AdmissionReview (KubeVirt 1.7 golden fixture), driven by autocannon from this process against
 * the real `premigration-hooks webhook` in its own process:
 * - throughput at saturation;
 * - p50/p99 at a fixed 200 req/s (goal p99 ≤ 10 ms);
 * - cold start, process start → /readyz 200 (goal ≤ 500 ms);
 * - idle RSS (goal ≤ 80 MB).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { atMost, pick, quick, repoRoot, row, sleep, stats, us, type Figure, type SectionResult, type Stats } from './lib.js';
import { cliPath, freePort, heapFromMetrics, httpsPost, memoryOf, memText, requireBuilt, startWebhook, stop, type Memory, type Started, type WebhookPorts } from './procs.js';
import { pacedLoad, type PacedResult } from './paced.js';
import { cpuProfFlags, importCostMarkdown, importCosts, monotonicUs, profileMarkdown, readProfiles, summarize, type Window } from './profile.js';

export const P99_GOAL_MS = 10;
export const COLD_START_GOAL_MS = 500;
/** 80 MB (decimal, as the goal is written) in MiB. */
export const RSS_GOAL_MIB = 80e6 / 1048576;
export const FIXED_RATE = 200;
export const REVIEW = 'test/golden/webhook/kv17-dedicated-cpu/review.json';
/** The webhook's entry module and its third-party dependencies, for the import-cost table. */
const WEBHOOK_IMPORTS = ['dist/src/webhook/main.js', '@kubernetes/client-node', 'express', 'prom-client', 'pino', 'fast-json-patch'];

function autocannonVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(repoRoot(), 'node_modules', 'autocannon', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

export function readReview(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(repoRoot(), REVIEW), 'utf8')) as Record<string, unknown>;
}

export async function webhookPorts(): Promise<WebhookPorts> {
  const port = await freePort();
  let metricsPort = await freePort();
  while (metricsPort === port) metricsPort = await freePort();
  let reportPort = await freePort();
  while (reportPort === port || reportPort === metricsPort) reportPort = await freePort();
  return { port, metricsPort, reportPort };
}

/** A certificate directory as a mounted Secret would provide it (tls.crt, tls.key). */
export function makeCertDir(parent: string): string {
  const dir = mkdtempSync(path.join(parent, 'tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt'), '-days', '2',
    '-subj', '/CN=premigration-hooks-bench', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return dir;
}

/** One POST: the answer must be allowed with a JSONPatch (else the load would measure a skip path). */
export async function checkInjects(port: number, body: string): Promise<number> {
  const a = await httpsPost(port, '/mutate', body);
  const review = JSON.parse(a.body) as { response?: { allowed?: boolean; patch?: string } };
  if (a.status !== 200 || review.response?.allowed !== true || !review.response.patch) {
    throw new Error(`the webhook did not inject (HTTP ${a.status}): ${a.body.slice(0, 200)}`);
  }
  return (JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as unknown[]).length;
}

export interface Load {
  /** Per-request latencies, ms (autocannon's raw response times, not its integer histogram). */
  latency: Stats;
  times: number[];
  /** 2xx answers per second over the run. */
  throughput: number;
  requests: number;
  errors: number;
  non2xx: number;
  seconds: number;
}

/** autocannon against POST /mutate; `rate` fixes the overall request rate, else it saturates. */
export async function load(port: number, body: string, seconds: number, opts: { connections: number; rate?: number }): Promise<Load> {
  const times: number[] = [];
  const instance = autocannon({
    url: `https://127.0.0.1:${port}/mutate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: opts.connections,
    duration: seconds,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
  });
  // A connection's first request also waits for the TLS handshake; the apiserver keeps its
  // connections to a webhook open, so that one is counted in the throughput but not timed.
  const seen = new Set<unknown>();
  let ok = 0;
  instance.on('response', (client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status >= 300) return;
    ok++;
    if (seen.has(client)) times.push(ms);
    else seen.add(client);
  });
  const r = await instance;
  if (times.length === 0) throw new Error(`no successful answer under load (errors ${r.errors}, non-2xx ${r.non2xx})`);
  return { latency: stats(times), times, throughput: ok / r.duration, requests: ok, errors: r.errors + r.timeouts, non2xx: r.non2xx, seconds: r.duration };
}

async function coldStarts(ports: WebhookPorts, runs: number, tlsDir?: string): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await startWebhook(ports, { logLevel: 'warn', ...(tlsDir ? { tlsDir } : {}) });
    samples.push(s.readyMs);
    await stop(s.child);
  }
  return stats(samples);
}

async function metricsMemory(ports: WebhookPorts): Promise<Record<string, number>> {
  try {
    const res = await fetch(`http://127.0.0.1:${ports.metricsPort}/metrics`);
    return heapFromMetrics(await res.text());
  } catch {
    return {};
  }
}

export async function webhookSection(): Promise<SectionResult> {
  requireBuilt(cliPath());
  const body = JSON.stringify(readReview());
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-wh-'));
  try {
    const ports = await webhookPorts();
    const certDir = makeCertDir(dir);
    const starts = pick(5, 1);
    const coldDev = await coldStarts(ports, starts);
    const coldTls = await coldStarts(ports, starts, certDir);

    const server: Started = await startWebhook(ports, { tlsDir: certDir });
    let idle: Memory;
    let loaded: Memory;
    let heap: Record<string, number>;
    let fixed: PacedResult;
    let bursts: Load | undefined;
    let saturated: Load;
    let patchOps: number;
    try {
      await sleep(pick(1000, 100));
      idle = memoryOf(server.child.pid as number);
      patchOps = await checkInjects(ports.port, body);
      if (!quick()) await pacedLoad(ports.port, '/mutate', body, { rate: FIXED_RATE, seconds: 2, connections: 4 }); // JIT warm-up
      fixed = await pacedLoad(ports.port, '/mutate', body, { rate: FIXED_RATE, seconds: pick(15, 1), connections: 4 });
      // For comparison only: what autocannon's own rate limit measures (per-second bursts).
      if (!quick()) bursts = await load(ports.port, body, 5, { connections: 8, rate: FIXED_RATE });
      saturated = await load(ports.port, body, pick(10, 1), { connections: 16 });
      await sleep(pick(500, 50));
      loaded = memoryOf(server.child.pid as number);
      heap = await metricsMemory(ports);
    } finally {
      await stop(server.child);
    }

    const figures: Figure[] = [
      { id: 'webhook.fixed-rate', label: `webhook latency at a fixed ${FIXED_RATE} req/s (HTTPS POST /mutate, ${body.length} B review)`, unit: 'ms', median: fixed.latency.median, p99: fixed.latency.p99, n: fixed.latency.n, ...atMost(fixed.latency.p99, P99_GOAL_MS, 'p99 ≤ 10 ms') },
      { id: 'webhook.saturation', label: `webhook throughput at saturation (16 connections; p50 ${us(saturated.latency.median * 1000)}, p99 ${us(saturated.latency.p99 * 1000)})`, unit: 'req/s', median: saturated.throughput, n: saturated.requests },
      { id: 'webhook.cold-start', label: 'webhook cold start, process start → /readyz 200 (`--dev-self-signed`: includes generating the certificate)', unit: 'ms', median: coldDev.median, p99: coldDev.max, n: coldDev.n, ...atMost(coldDev.median, COLD_START_GOAL_MS, '≤ 500 ms') },
      { id: 'webhook.cold-start-tls-dir', label: 'webhook cold start with a mounted certificate (`--tls-cert-dir`, as deployed)', unit: 'ms', median: coldTls.median, p99: coldTls.max, n: coldTls.n, ...atMost(coldTls.median, COLD_START_GOAL_MS, '≤ 500 ms') },
      { id: 'webhook.idle-rss', label: 'webhook idle RSS (after start)', unit: 'MiB', median: idle.rss, n: 1, ...atMost(idle.rss, RSS_GOAL_MIB, '≤ 80 MB (76.3 MiB)') },
      { id: 'webhook.rss-after-load', label: 'webhook RSS after the load runs', unit: 'MiB', median: loaded.rss, n: 1, ...atMost(loaded.rss, RSS_GOAL_MIB, '≤ 80 MB (76.3 MiB)') },
    ];

    const lines: string[] = [];
    lines.push(`Server: \`node dist/src/cli/main.js webhook --tls-cert-dir <dir> --gate-source always --sidecar-mode native --namespace-limits ignore\` (log level info), in its own process. Load from the benchmark process, HTTPS to 127.0.0.1, with the AdmissionReview \`${REVIEW}\` (KubeVirt 1.7 dedicated-CPU target pod, Guaranteed QoS); every answer is allowed with a ${patchOps}-operation JSONPatch.`);
    lines.push('');
    lines.push(`- **Fixed rate:** an open-loop generator (\`bench/paced.ts\`) sends one request every ${(1000 / FIXED_RATE).toFixed(0)} ms over keep-alive connections opened beforehand, whether or not earlier ones have answered, as an apiserver does while pods are created at a steady rate; latency = request sent → response read. Its own scheduler fired late by ${fixed.schedulerLagP99.toFixed(2)} ms at p99${fixed.schedulerLagP99 > 2 ? ': the generator itself was starved of CPU at times, so the spacing was uneven (the machine was busy)' : ''}.`);
    lines.push(`- **Saturation:** autocannon ${autocannonVersion()}, 16 connections, each sending its next request as soon as the last one is answered. Each connection's first request (which also waits for the TLS handshake) is counted but not timed.`);
    lines.push(`- autocannon's own \`overallRate\` is not used for the fixed rate: it gives each connection a per-second budget and spends it back to back, so its "200 req/s" is a burst at the start of every second (shown in the last row for comparison).`);
    lines.push('');
    lines.push(row(['load', 'requests', 'rate', 'p50', 'p99', 'max', 'errors', 'non-2xx']));
    lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
    const loadRow = (label: string, l: Load | PacedResult): string =>
      row([label, l.requests, `${l.throughput.toFixed(0)} req/s`, us(l.latency.median * 1000), us(l.latency.p99 * 1000), us(l.latency.max * 1000), l.errors, l.non2xx]);
    lines.push(loadRow(`fixed ${FIXED_RATE} req/s, evenly paced, ${fixed.seconds.toFixed(1)} s`, fixed));
    lines.push(loadRow(`saturation, autocannon, 16 connections, ${saturated.seconds.toFixed(1)} s`, saturated));
    if (bursts) lines.push(loadRow(`for comparison: autocannon \`overallRate: ${FIXED_RATE}\`, 8 connections (per-second bursts), ${bursts.seconds.toFixed(1)} s`, bursts));
    lines.push('');
    lines.push(`Cold start over ${starts} starts each: \`--dev-self-signed\` median ${coldDev.median.toFixed(0)} ms (max ${coldDev.max.toFixed(0)}), \`--tls-cert-dir\` median ${coldTls.median.toFixed(0)} ms (max ${coldTls.max.toFixed(0)}). Memory: idle ${memText(idle)}; after load ${memText(loaded)}; V8 (prom-client metrics): ${Object.entries(heap).map(([k, v]) => `${k} ${v.toFixed(1)} MiB`).join(', ') || 'not exported'}.`);

    const missed = figures.filter((f) => f.met === false);
    // Quick mode (the smoke test) skips the diagnostics that start more webhooks: a start costs
    // seconds, and the same profiling code runs in the hook sections.
    if (missed.some((f) => f.id === 'webhook.fixed-rate') && !quick()) {
      const profDir = mkdtempSync(path.join(dir, 'prof-'));
      const s = await startWebhook(ports, { tlsDir: certDir, nodeFlags: cpuProfFlags(profDir) });
      let window: Window;
      try {
        await pacedLoad(ports.port, '/mutate', body, { rate: FIXED_RATE, seconds: 2, connections: 4 }); // JIT warm-up
        const fromUs = monotonicUs();
        await pacedLoad(ports.port, '/mutate', body, { rate: FIXED_RATE, seconds: 5, connections: 4 });
        window = { fromUs, toUs: monotonicUs() };
      } finally {
        await stop(s.child);
      }
      lines.push('');
      lines.push(`**Missed: p99 at ${FIXED_RATE} req/s.** Compare p50 with p99: the median request is fast, the tail is queueing behind garbage collection and other work on a shared machine when the two differ widely.`);
      lines.push('');
      lines.push(profileMarkdown(`webhook process during 5 s at ${FIXED_RATE} req/s after a warm-up (\`node --cpu-prof\`, samples inside the load window)`, summarize(readProfiles(profDir), 12, window)));
    }
    if (missed.some((f) => f.id.startsWith('webhook.cold-start')) && !quick()) {
      const profDir = mkdtempSync(path.join(dir, 'prof-'));
      const s = await startWebhook(ports, { nodeFlags: cpuProfFlags(profDir) });
      await stop(s.child);
      lines.push('');
      lines.push('**Missed: cold start.** Module compilation and loading (`compileSourceTextModule`, `wrapSafe`, file system calls of the loader) dominate; time in `execFileSync`/`spawnSync` is the openssl run that generates the development certificate (only with `--dev-self-signed`). The import table below says which modules.');
      lines.push('');
      lines.push(profileMarkdown('webhook start (`--dev-self-signed`) → ready → stop (`node --cpu-prof`)', summarize(readProfiles(profDir), 12)));
    }
    if (missed.some((f) => f.id.includes('rss'))) {
      lines.push('');
      lines.push(`**Missed: RSS.** Anonymous memory (V8 heap and code of every loaded module) is ${idle.anon.toFixed(1)} MiB of the idle ${idle.rss.toFixed(1)} MiB; the rest is file-backed pages of the node binary, shared and reclaimable. The import table below says which modules.`);
    }
    if (missed.some((f) => f.id.startsWith('webhook.cold-start') || f.id.includes('rss'))) {
      lines.push('');
      lines.push(importCostMarkdown(importCosts(pick(WEBHOOK_IMPORTS, WEBHOOK_IMPORTS.slice(-1)), pick(3, 1))));
    }
    return { figures, markdown: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
