/**
 * Certificate rotation under load: while admissions flow on fresh and kept-alive connections,
 * the Secret directory is updated the way the kubelet does it (new timestamped directory, then
 * an atomic rename of the `..data` symlink). New handshakes must get the new certificate, no
 * request may fail, and there is no restart.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import request from 'supertest';
import { startTestWebhook, type TestWebhook } from './webhook-harness.js';

const review = readFileSync(join(process.cwd(), 'test/golden/webhook/kv17-dedicated-cpu/review.json'));

interface Result {
  ok: boolean;
  fingerprint?: string;
  detail?: string;
}

function admitOnce(wh: TestWebhook, agent: Agent | false): Promise<Result> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${wh.url}/mutate`,
      { method: 'POST', ca: wh.ca, agent, headers: { 'Content-Type': 'application/json', 'Content-Length': review.length } },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { allowed?: boolean; patch?: string } };
          const ok = res.statusCode === 200 && body.response?.allowed === true && typeof body.response.patch === 'string';
          resolve({ ok, fingerprint, ...(ok ? {} : { detail: `HTTP ${res.statusCode}` }) });
        });
      },
    );
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
    req.end(review);
  });
}

let wh: TestWebhook;
beforeAll(async () => {
  // A long poll interval: the directory watch is what must pick the change up here.
  wh = await startTestWebhook({ pollMs: 60_000 });
});
afterAll(async () => {
  await wh.close();
});

test('kubelet-style ..data swap under load: new cert served, zero failed requests', async () => {
  const oldFingerprint = wh.certs.current()?.fingerprint256;
  const staged = wh.secret.stage();
  const newFingerprint = new X509Certificate(staged.cert).fingerprint256;
  expect(newFingerprint).not.toBe(oldFingerprint);
  wh.ca.push(staged.cert); // clients trust both, as with a stable CA chain from cert-manager

  const results: Result[] = [];
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  let swapped = false;
  let newSeenAfterSwap = 0;
  const worker = async (agent: Agent | false): Promise<void> => {
    // Bounded: stops once 40 fresh handshakes after the swap presented the new certificate.
    for (let i = 0; i < 5000 && newSeenAfterSwap < 40; i++) {
      const r = await admitOnce(wh, agent);
      results.push(r);
      if (agent === false && swapped && r.fingerprint === newFingerprint) newSeenAfterSwap++;
      if (!swapped && results.length >= 60) {
        swapped = true;
        staged.publish();
      }
    }
  };
  await Promise.all([worker(false), worker(false), worker(false), worker(keepAlive)]);
  keepAlive.destroy();

  const failures = results.filter((r) => !r.ok);
  expect(failures).toEqual([]);
  expect(results.some((r) => r.fingerprint === oldFingerprint)).toBe(true);
  expect(newSeenAfterSwap).toBeGreaterThanOrEqual(40);
  expect(wh.certs.current()?.fingerprint256).toBe(newFingerprint);

  // A new connection now gets the new certificate, and the metrics saw exactly one reload.
  const after = await admitOnce(wh, false);
  expect(after).toMatchObject({ ok: true, fingerprint: newFingerprint });
  const metrics = (await request(wh.metricsUrl).get('/metrics')).text;
  expect(metrics).toMatch(/^premigration_hooks_tls_reloads_total\{result="success"\} 2$/m);
  expect(metrics).toMatch(/^premigration_hooks_tls_reloads_total\{result="error"\} 0$/m);
});

test('a key that does not match its certificate is rejected and the current pair keeps serving', async () => {
  const { writeFileSync, mkdirSync, symlinkSync, renameSync } = await import('node:fs');
  const current = wh.certs.current();
  const other = wh.secret.stage(); // a fresh pair; we pair its cert with a foreign key below
  const bad = join(wh.secret.dir, '..bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'tls.crt'), other.cert);
  writeFileSync(join(bad, 'tls.key'), readFileSync(join(wh.secret.dir, '..data', 'tls.key')));
  symlinkSync('..bad', join(wh.secret.dir, '..data_tmp'));
  renameSync(join(wh.secret.dir, '..data_tmp'), join(wh.secret.dir, '..data'));
  expect(wh.certs.check()).toBe(false);
  expect(wh.certs.current()).toBe(current);
  expect(await admitOnce(wh, false)).toMatchObject({ ok: true, fingerprint: current?.fingerprint256 });
  const metrics = (await request(wh.metricsUrl).get('/metrics')).text;
  expect(metrics).toMatch(/^premigration_hooks_tls_reloads_total\{result="error"\} [12]$/m);
});
