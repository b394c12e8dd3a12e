/**
 * SIGTERM to the real built webhook (`node dist/src/cli/main.js webhook`) while eight keep-alive
 * clients post admissions back to back and eight more keep-alive sockets sit idle in a pool
 * (issue 12, item 9: it used to reset them). During the unready period every answer carries
 * `Connection: close`, and a client that gets one goes elsewhere, as the apiserver does once the
 * endpoint is gone; then the idle sockets are closed and the process exits 0. No request may
 * fail with a reset or a hang-up.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { CLI } from '../support/webhook-process.js';
import { eventually, freePort, httpsRequest } from '../support/net.js';
import { requireBuilt } from './server-harness.js';

test('SIGTERM under keep-alive load: no resets, Connection: close while unready, exit 0', async () => {
  requireBuilt(CLI);
  const [port, metricsPort, reportPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, [
    CLI, 'webhook', '--dev-self-signed', '--gate-source', 'always', '--bind-address', '127.0.0.1', '--port', String(port),
    '--metrics-port', String(metricsPort), '--report-port', String(reportPort), '--image', 'premigration-hooks:drain', '--log-level', 'error',
    '--shutdown-delay-ms', '600', '--keep-alive-timeout-ms', '30000',
    // No cluster here: nothing to learn versions or namespace limits from.
    '--sidecar-mode', 'native', '--namespace-limits', 'ignore',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually('webhook ready', async () => ((await httpsRequest(port, 'GET', '/readyz')).status === 200 ? true : undefined), 80);

  const body = readFileSync(join(process.cwd(), 'test/golden/webhook/kv17-dedicated-cpu/review.json'));
  const agent = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });
  const outcomes: Record<string, number> = {};
  let closeHeaders = 0;
  let stop = false;
  const post = (): Promise<string> => new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.headers.connection === 'close') closeHeaders++;
        resolve(String(res.statusCode));
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(body);
  });
  let moved = 0;
  const clients = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const before = closeHeaders;
      const o = await post();
      outcomes[o] = (outcomes[o] ?? 0) + 1;
      if (closeHeaders > before) { moved++; return; } // told to reconnect: it goes to another replica
    }
  });
  // Eight more sockets, used once and left idle in their pool.
  const idleAgent = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });
  const idleErrors: string[] = [];
  await Promise.all(Array.from({ length: 8 }, () => new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: idleAgent }, (res) => { res.resume(); res.on('end', () => resolve()); });
    req.on('error', (e: NodeJS.ErrnoException) => { idleErrors.push(e.code ?? e.message); resolve(); });
    req.end();
  })));
  expect(Object.values(idleAgent.freeSockets).flat().length).toBe(8);
  for (const s of Object.values(idleAgent.freeSockets).flat()) s?.on('error', (e: NodeJS.ErrnoException) => idleErrors.push(e.code ?? e.message));
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  stop = true;
  await Promise.all(clients);
  agent.destroy();
  expect(outcomes['200']).toBeGreaterThan(8);
  expect(moved).toBe(8);
  expect(Object.keys(outcomes).filter((k) => k !== '200')).toEqual([]);
  // The idle pool was closed by the server (FIN), silently for the client.
  expect(idleErrors).toEqual([]);
  expect(Object.values(idleAgent.freeSockets).flat().length).toBe(0);
  idleAgent.destroy();
}, 30_000);
