/**
 * The real processes the benchmarks drive: the hook server (`serve`) and the webhook, started
 * from dist/src/cli/main.js exactly as a pod starts them, plus their memory as the kernel counts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { quick, repoRoot, sleep } from './lib.js';

export function cliPath(): string {
  return path.join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
}

export function clientPath(): string {
  return path.join(repoRoot(), 'hookclient', 'target', 'release', 'premigration-hooks-client');
}

export function requireBuilt(...files: string[]): void {
  for (const f of files) if (!existsSync(f)) throw new Error(`${f} missing: run \`npm run build\``);
}

export interface Memory {
  /** Resident set, MiB. */
  rss: number;
  /** Of which anonymous (heap, stacks, JIT code): the part that is this process's alone, MiB. */
  anon: number;
  /** File-backed (mostly the node binary's pages: shared, reclaimable), MiB. */
  file: number;
}

/** Most of a Node process's RSS is file-backed pages of the node binary. */
export function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const rss = kb('Rss') / 1024;
  const anon = kb('Anonymous') / 1024;
  return { rss, anon, file: rss - anon };
}

export function memText(m: Memory): string {
  return `${m.rss.toFixed(1)} MiB (${m.anon.toFixed(1)} anonymous, ${m.file.toFixed(1)} file-backed)`;
}

/** Node's own memory figures from a Prometheus text exposition (prom-client default metrics, any prefix). */
export function heapFromMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes']) {
    const m = new RegExp(`^\\w*${name} (\\S+)$`, 'm').exec(text);
    if (m) out[name] = Number(m[1]) / 1048576;
  }
  return out;
}

/** RSS of a bare `node` that only waits: the floor any Node server starts from. */
export async function bareNodeMemory(): Promise<Memory> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await sleep(500);
  const m = memoryOf(child.pid as number);
  await stop(child);
  return m;
}

/** SIGTERM by pid and wait for the exit (both servers drain and exit 0 on SIGTERM). */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

/** Poll `probe` every 2 ms until it says 200; fails if the child exits first or `limitMs` passes. */
async function until(child: ChildProcess, what: string, probe: () => Promise<number>, limitMs = 30_000): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} during start`);
    if ((await probe()) === 200) return;
    if (performance.now() - t0 > limitMs) throw new Error(`${what} not ready after ${limitMs} ms`);
    await sleep(2);
  }
}

export function unixGet(socketPath: string, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: urlPath, headers: { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export interface Answer {
  status: number;
  body: string;
}

function collectAnswer(res: http.IncomingMessage, resolve: (a: Answer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
}

/** GET or POST over the hook server's unix socket, reading the whole answer. */
export function unixRequest(socketPath: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: urlPath, method: body === undefined ? 'GET' : 'POST', headers: { Connection: 'close', ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } },
      (res) => collectAnswer(res, resolve),
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function httpsGet(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: urlPath, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export function httpsPost(port: number, urlPath: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method: 'POST', rejectUnauthorized: false, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => collectAnswer(res, resolve),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A TCP port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  /** Process start (just before spawn) → first 200 from the readiness endpoint. */
  readyMs: number;
  /** What the child wrote on stderr (its JSON log lines). */
  log: () => string;
}

export interface StartOptions {
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Keep the whole log (stderr) after the exit, e.g. to read per-request durations. */
  captureLog?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * The child's stderr (its JSON logs) goes to a file, not a pipe: the benchmark blocks in
 * spawnSync while it times the hook client, and a pipe nobody drains would stall the server's
 * synchronous log writes, and with them its answers.
 */
function spawnCli(args: string[], opts: StartOptions): { child: ChildProcess; log: () => string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'pmh-bench-log-'));
  const file = path.join(dir, 'stderr.log');
  const fd = openSync(file, 'w');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...(opts.nodeFlags ?? []), cliPath(), ...args], {
      stdio: ['ignore', 'ignore', fd],
      env: { ...process.env, ...(opts.env ?? {}) },
    });
  } finally {
    closeSync(fd);
  }
  let kept = '';
  const read = (): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return kept;
    }
  };
  child.once('exit', (code) => {
    kept = opts.captureLog ? read() : read().slice(-4000);
    if (code !== 0 && code !== null && kept) process.stderr.write(`bench: ${args[0]} exited ${code}: ${kept.slice(-2000)}\n`);
    rmSync(dir, { recursive: true, force: true });
  });
  return { child, log: read };
}

export interface HookServerPaths {
  dir: string;
  socket: string;
  conf: string;
}

export function hookServerPaths(dir: string): HookServerPaths {
  return { dir, socket: path.join(dir, 'hooks.sock'), conf: path.join(dir, 'client.conf') };
}

/**
 * `premigration-hooks serve` as the sidecar runs it: installs the client, writes its config,
 * reads the real /sys, warms up, listens. Ready = the socket answers GET /healthz with 200.
 */
export async function startHookServer(p: HookServerPaths, opts: StartOptions & { logLevel?: string } = {}): Promise<Started> {
  const t0 = performance.now();
  const { child, log } = spawnCli(
    [
      'serve', '--socket', p.socket, '--install-client', path.join(p.dir, 'bin'), '--client-binary', clientPath(), '--client-conf', p.conf, '--log-level', opts.logLevel ?? 'info',
      // The product's 2 s client deadline, except in quick mode: the smoke test runs beside the
      // whole test suite, and a deadline hit there would be a false failure, not a finding.
      ...(quick() ? ['--timeout-ms', '15000'] : []),
    ],
    opts,
  );
  await until(child, 'hook server', async () => (existsSync(p.socket) ? unixGet(p.socket, '/healthz') : 0));
  return { child, readyMs: performance.now() - t0, log };
}

export interface WebhookPorts {
  port: number;
  metricsPort: number;
  /** /report's own listener; a fixed default would collide with anything else on 8444. */
  reportPort: number;
}

/**
 * `premigration-hooks webhook` with a static gate (no cluster here). Ready = GET /readyz 200 over
 * HTTPS. `tlsDir` serves a prepared certificate as in production; without it --dev-self-signed
 * generates one at start (an openssl run inside the measured start).
 */
export async function startWebhook(ports: WebhookPorts, opts: StartOptions & { tlsDir?: string; logLevel?: string } = {}): Promise<Started> {
  const tls = opts.tlsDir ? ['--tls-cert-dir', opts.tlsDir] : ['--dev-self-signed'];
  const t0 = performance.now();
  const { child, log } = spawnCli(
    [
      // No cluster here: a fixed sidecar shape and no namespace-limit watches (both need an apiserver).
      'webhook', ...tls, '--gate-source', 'always', '--image', 'registry.example/premigration-hooks:bench',
      '--sidecar-mode', 'native', '--namespace-limits', 'ignore',
      '--port', String(ports.port), '--metrics-port', String(ports.metricsPort), '--report-port', String(ports.reportPort), '--bind-address', '127.0.0.1',
      '--shutdown-delay-ms', '0', '--log-level', opts.logLevel ?? 'info',
    ],
    opts,
  );
  await until(child, 'webhook', () => httpsGet(ports.port, '/readyz'));
  return { child, readyMs: performance.now() - t0, log };
}
