/**
 * Connection bounds on every listener (issue 12, items 8 and 9), with short deadlines so the
 * same mechanism that closes 1000 idle connections in production closes 100 here in a second:
 * TCP connections that never send a TLS hello (handshake timeout), TLS connections that never
 * send a request (header timeout), slow headers, slow bodies (request timeout), idle keep-alive
 * sockets; the plain-HTTP metrics listener too. And a drain at shutdown that resets nothing:
 * idle keep-alive sockets are closed cleanly, an in-flight request gets its whole answer.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { Agent, request as httpsRequest } from 'node:https';
import { createLogger } from '../../src/shared/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createWebhookApp, startMetricsServer, startWebhookServer, type MetricsServer, type WebhookServer } from '../../src/webhook/http/app.js';
import type { ConnectionBounds } from '../../src/webhook/http/connection.js';
import { fixedGate } from '../../src/webhook/main.js';
import { createWebhookMetrics } from '../../src/webhook/http/metrics.js';
import { readCertFiles, validateCertPair } from '../../src/webhook/http/tls.js';
import { fixturePod, injectSettings, podReview } from '../support/injected-pods.js';
import { KubeletSecretDir } from './webhook-harness.js';

const BOUNDS: ConnectionBounds = { handshakeTimeoutMs: 300, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, maxConnections: 1000 };
const N = 100;

let secret: KubeletSecretDir;
let ca: Buffer;
let server: WebhookServer;
let metrics: MetricsServer;
const stopping = false;

beforeAll(async () => {
  secret = new KubeletSecretDir();
  ca = secret.publishNew().cert;
  const files = readCertFiles(secret.dir);
  const registry = createRegistry();
  const gate = fixedGate('always');
  const logger = createLogger('conn-test', 'silent');
  const app = createWebhookApp({
    state: () => ({ gate: gate.current(), settings: injectSettings() }), ready: () => true, stopping: () => stopping,
    metrics: createWebhookMetrics(registry, () => gate.current()), logger, maxBodyBytes: 4 * 1024 * 1024,
  });
  server = await startWebhookServer({ app, port: 0, host: '127.0.0.1', certificate: validateCertPair(files.cert, files.key), bounds: BOUNDS });
  metrics = await startMetricsServer(registry, 0, '127.0.0.1', logger, BOUNDS);
});

afterAll(async () => {
  server.server.closeAllConnections();
  await server.close(100);
  metrics.server.closeAllConnections();
  await metrics.close(100);
  secret.remove();
});

/** Resolves with the ms until the socket closed (never rejects: a reset is recorded). */
function closedAfter(socket: Socket | TLSSocket, started: number, errors: string[]): Promise<number> {
  return new Promise((resolve) => {
    socket.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    socket.on('close', () => resolve(Date.now() - started));
    socket.resume();
  });
}

test(`${N} TCP connections that never send a TLS hello are closed by the handshake timeout`, async () => {
  const started = Date.now();
  const errors: string[] = [];
  const sockets = Array.from({ length: N }, () => netConnect(server.port, '127.0.0.1'));
  const times = await Promise.all(sockets.map((s) => closedAfter(s, started, errors)));
  expect(Math.max(...times)).toBeLessThan(BOUNDS.handshakeTimeoutMs + 1500);
  expect(Math.min(...times)).toBeGreaterThanOrEqual(BOUNDS.handshakeTimeoutMs - 50);
});

test(`${N} TLS connections that never send a request are closed by the header timeout`, async () => {
  const errors: string[] = [];
  const sockets = await Promise.all(Array.from({ length: N }, () => new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  })));
  const started = Date.now();
  const times = await Promise.all(sockets.map((s) => closedAfter(s, started, errors)));
  expect(Math.max(...times)).toBeLessThan(BOUNDS.headersTimeoutMs + 1500);
});

function tlsOpen(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

test('headers sent slowly are cut at the header timeout', async () => {
  const s = await tlsOpen();
  const started = Date.now();
  const errors: string[] = [];
  const closed = closedAfter(s, started, errors);
  s.write('POST /mutate HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 100);
  const took = await closed;
  clearInterval(drip);
  expect(took).toBeLessThan(BOUNDS.headersTimeoutMs + 1000);
});

test('a body sent slowly is cut at the request timeout with 408', async () => {
  const s = await tlsOpen();
  const started = Date.now();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  const errors: string[] = [];
  const closed = closedAfter(s, started, errors);
  s.write('POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
  const drip = setInterval(() => s.writable && s.write('"a": 1, '), 100);
  const took = await closed;
  clearInterval(drip);
  expect(took).toBeLessThan(BOUNDS.requestTimeoutMs + 1000);
  expect(took).toBeGreaterThanOrEqual(BOUNDS.requestTimeoutMs - 50);
  expect(text).toMatch(/^HTTP\/1\.1 408/);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const s = await tlsOpen();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!text.includes('\r\n\r\nok')) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  const took = await closedAfter(s, started, []);
  expect(took).toBeLessThan(BOUNDS.keepAliveTimeoutMs + 1000);
});

test(`the metrics listener: ${N} TCP connections that never send a byte are closed by the header timeout`, async () => {
  const started = Date.now();
  const sockets = Array.from({ length: N }, () => netConnect(metrics.port, '127.0.0.1'));
  const times = await Promise.all(sockets.map((s) => closedAfter(s, started, [])));
  expect(Math.max(...times)).toBeLessThan(BOUNDS.headersTimeoutMs + 1500);
});

test('drain: answers carry Connection: close while stopping; idle keep-alive sockets close without a reset; in-flight finishes', async () => {
  // Its own server, so closing it leaves the others to afterAll.
  const files = readCertFiles(secret.dir);
  const registry = createRegistry();
  const gate = fixedGate('always');
  let draining = false;
  const app = createWebhookApp({
    state: () => ({ gate: gate.current(), settings: injectSettings() }), ready: () => true, stopping: () => draining,
    metrics: createWebhookMetrics(registry, () => gate.current()), logger: createLogger('drain', 'silent'), maxBodyBytes: 4 * 1024 * 1024,
  });
  const own = await startWebhookServer({ app, port: 0, host: '127.0.0.1', certificate: validateCertPair(files.cert, files.key), bounds: { ...BOUNDS, keepAliveTimeoutMs: 30_000, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 } });
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca });
  const errors: string[] = [];
  const get = (path: string): Promise<{ status: number; connection: string | undefined }> => new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port: own.port, path, agent, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => { errors.push(e.code ?? e.message); resolve({ status: 0, connection: undefined }); });
    req.end();
  });
  // Eight keep-alive sockets, left idle in the agent's pool.
  const first = await Promise.all(Array.from({ length: 8 }, () => get('/healthz')));
  expect(first.every((r) => r.status === 200 && r.connection === 'keep-alive')).toBe(true);
  const pooled = Object.values(agent.freeSockets).flat().length;
  expect(pooled).toBe(8);
  draining = true;
  // While stopping, a request on a pooled socket is answered and its connection closed.
  const during = await get('/healthz');
  expect(during).toEqual({ status: 200, connection: 'close' });
  // An admission in flight when the listener closes: headers now, body later.
  const body = JSON.stringify(podReview(fixturePod('kv17-dedicated-cpu')));
  const inflight = new Promise<{ status: number; bytes: number }>((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port: own.port, path: '/mutate', method: 'POST', ca, agent: false, servername: 'localhost',
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => { errors.push(e.code ?? e.message); resolve({ status: 0, bytes: 0 }); });
    req.write(body.slice(0, 100));
    setTimeout(() => req.end(body.slice(100)), 300);
  });
  await new Promise((r) => setTimeout(r, 100));
  const closing = own.close(3_000);
  const answer = await inflight;
  await closing;
  expect(answer.status).toBe(200);
  expect(answer.bytes).toBeGreaterThan(1000);
  expect(errors).toEqual([]);
  expect(Object.values(agent.freeSockets).flat().length).toBe(0);
  agent.destroy();
});
