/**
 * `premigration-hooks webhook` end to end in-process: main() with --dev-self-signed and a static
 * gate comes up, becomes ready, injects, serves metrics, and on SIGTERM reports unready, stops
 * and returns 0. (The signal is emitted on the process object: the test runner must survive.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { main } from '../../src/webhook/main.js';
import { freePort, httpsText } from '../support/net.js';

test('dev mode: ready, injects, metrics, graceful SIGTERM → exit code 0', async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const reportPort = await freePort();
  const done = main([
    '--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--gate-source', 'always',
    '--port', String(port), '--metrics-port', String(metricsPort), '--report-port', String(reportPort), '--bind-address', '127.0.0.1',
    '--shutdown-delay-ms', '0', '--log-level', 'silent',
    // No cluster to list quotas from (readiness would wait for that list) or to read versions from.
    '--namespace-limits', 'ignore', '--sidecar-mode', 'classic',
  ]);
  let ready = 0;
  for (let i = 0; i < 300 && ready !== 200; i++) {
    ready = await httpsText(port, '/readyz').then((r) => r.status, () => 0);
    if (ready !== 200) await new Promise((r) => setTimeout(r, 20));
  }
  expect(ready).toBe(200);
  const review = readFileSync(join(process.cwd(), 'test/golden/webhook/kv17-dedicated-cpu/review.json'));
  const res = await httpsText(port, '/mutate', review);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.text).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  const metrics = await request(`http://127.0.0.1:${metricsPort}`).get('/metrics');
  expect(metrics.text).toMatch(/^premigration_hooks_admission_requests_total\{result="injected",reason="inject",dry_run="false"\} 1$/m);
  expect(metrics.text).toMatch(/^process_resident_memory_bytes \d+/m);

  process.emit('SIGTERM');
  expect(await done).toBe(0);
  await expect(httpsText(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  await expect(httpsText(reportPort, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
});

test('bad flags → exit code 2 without starting anything', async () => {
  expect(await main(['--image', 'x'])).toBe(2);
  expect(await main(['--dev-self-signed', '--image', 'x', '--gate-source', 'sometimes'])).toBe(2);
});
