/**
 * The webhook over real HTTPS (self-signed cert in a kubelet-style Secret directory): endpoints,
 * the must-survive inputs at the HTTP layer, TLS policy, and the metrics after real requests.
 * The gate is a fixed provider (no kube-apiserver here); the KubeVirt watch is gate.ts's test.
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import request from 'supertest';
import { fixedGate } from '../../src/webhook/main.js';
import type { GateProvider, GateState } from '../../src/webhook/admission/types.js';
import { decodePatch, startTestWebhook, testInjectSettings, type TestWebhook } from './webhook-harness.js';
import { capturedLogger } from '../support/log.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pod = (name: string): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/pods', `${name}.json`), 'utf8')) as Json;
const golden = (name: string): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/golden/webhook', name, 'review.json'), 'utf8')) as Json;

/** A gate whose state the test flips, and which reports unsynced until told otherwise. */
function switchableGate(): GateProvider & { set(s: Partial<GateState>): void; sync(): void } {
  let state: GateState = { mode: 'inject', gateEnabled: true, kubevirtVersion: 'v1.7.1', reason: 'test' };
  let synced = false;
  return {
    current: () => state,
    synced: () => synced,
    start: async () => {},
    stop: async () => {},
    set: (s) => { state = { ...state, ...s }; },
    sync: () => { synced = true; },
  };
}

let wh: TestWebhook;
const gate = switchableGate();

beforeAll(async () => {
  // Every target injected (the metrics test posts a shared-CPU dry run); need rules: webhook-golden.test.ts.
  wh = await startTestWebhook({ gate, maxBodyBytes: 256 * 1024, inject: testInjectSettings(['--inject-policy', 'always']) });
});
afterAll(async () => {
  await wh.close();
});

const post = (body: string | object, type = 'application/json') =>
  request(wh.url).post('/mutate').ca(wh.ca).set('Content-Type', type).send(body);

describe('health endpoints', () => {
  test('/healthz is always ok; /readyz waits for the gate to sync', async () => {
    expect((await request(wh.url).get('/healthz').ca(wh.ca)).status).toBe(200);
    expect((await request(wh.url).get('/readyz').ca(wh.ca)).status).toBe(503);
    gate.sync();
    expect((await request(wh.url).get('/readyz').ca(wh.ca)).status).toBe(200);
  });
});

describe('must survive over HTTPS', () => {
  test('malformed JSON → 400 (the apiserver then applies failurePolicy)', async () => {
    const res = await post('{"apiVersion": "admission.k8s.io/v1", "request": {');
    expect(res.status).toBe(400);
  });
  test('a body that is not application/json → 415 (its own reason, not "internal")', async () => {
    const res = await post('hello', 'text/plain');
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('unsupported-media-type');
    expect((await post('{}', 'application/json; charset=latin1')).status).toBe(415);
    const gz = await request(wh.url).post('/mutate').ca(wh.ca).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{}');
    expect(gz.status).toBe(415);
  });
  test('every JSON body gets 200 and allowed: true, even null, 5, "x", [] (counted as bad-review)', async () => {
    for (const body of ['null', '5', '"x"', '[]', 'true']) {
      const res = await post(body);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '', allowed: true } });
    }
  });

  test('an oversize AdmissionReview → 413, and the server keeps serving', async () => {
    const big = golden('kv17-dedicated-cpu');
    big.request.object.metadata.annotations['example.com/blob'] = 'x'.repeat(300 * 1024);
    expect((await post(big)).status).toBe(413);
    expect((await post(golden('kv17-dedicated-cpu'))).status).toBe(200);
  });
  test('a missing request → 200, allowed, empty uid', async () => {
    const res = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '', allowed: true } });
  });
  test('non-Pod kind, UPDATE and wrong apiVersion → allowed without a patch, uid echoed', async () => {
    const r = golden('kv17-dedicated-cpu');
    const variants: Json[] = [
      { ...r, request: { ...r.request, kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: { kind: 'ConfigMap', data: {} } } },
      { ...r, request: { ...r.request, operation: 'UPDATE', oldObject: r.request.object } },
      { ...r, apiVersion: 'admission.k8s.io/v9' },
    ];
    for (const v of variants) {
      const res = await post(v);
      expect(res.status).toBe(200);
      expect(res.body.apiVersion).toBe(v.apiVersion);
      expect(res.body.response).toEqual({ uid: r.request.uid, allowed: true });
    }
  });
  test('must-skip pods over HTTPS: no patch', async () => {
    const r = golden('kv17-dedicated-cpu');
    for (const name of ['kv17-launcher-not-target', 'kv17-hotplug-attachment', 'kv17-opted-out']) {
      const res = await post({ ...r, request: { ...r.request, object: pod(name) } });
      expect(res.body.response).toEqual({ uid: r.request.uid, allowed: true });
    }
  });
  test('mode off → no patch; mode back to inject → patch (state read per request)', async () => {
    gate.set({ mode: 'off', gateEnabled: false });
    expect(decodePatch((await post(golden('kv17-dedicated-cpu'))).body)).toBeUndefined();
    gate.set({ mode: 'inject', gateEnabled: true });
    expect(decodePatch((await post(golden('kv17-dedicated-cpu'))).body)).toBeDefined();
  });
});

describe('TLS policy', () => {
  test('TLS 1.1 is refused; TLS 1.2 is accepted', async () => {
    const handshake = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const req = httpsRequest(`${wh.url}/healthz`, { ca: wh.ca, minVersion: 'TLSv1', maxVersion, ciphers: 'DEFAULT@SECLEVEL=0', agent: false }, (res) => {
          res.resume();
          resolve(`HTTP ${res.statusCode}`);
        });
        req.on('error', (err) => resolve(`error: ${err.message}`));
        req.end();
      });
    // The client allows TLS 1.1 (SECLEVEL=0), so the refusal is the server's protocol_version alert.
    expect(await handshake('TLSv1.1')).toMatch(/alert protocol version/);
    expect(await handshake('TLSv1.2')).toBe('HTTP 200');
  });
});

describe('metrics after requests', () => {
  test('requests by result/reason/dry_run, duration, mode, gate, version, cert expiry, reloads', async () => {
    await post(golden('kv15-shared-cpu-dry-run'));
    const res = await request(wh.metricsUrl).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      if (!line) throw new Error(`series ${series} missing`);
      return Number(line.slice(series.length + 1));
    };
    expect(value('premigration_hooks_admission_requests_total{result="injected",reason="inject",dry_run="false"}')).toBeGreaterThanOrEqual(2);
    expect(value('premigration_hooks_admission_requests_total{result="injected",reason="inject",dry_run="true"}')).toBe(1);
    expect(value('premigration_hooks_admission_requests_total{result="skipped",reason="not-create",dry_run="false"}')).toBe(1);
    expect(value('premigration_hooks_admission_requests_total{result="skipped",reason="mode-off",dry_run="false"}')).toBe(1);
    expect(value('premigration_hooks_admission_requests_total{result="error",reason="too-large",dry_run="false"}')).toBe(1);
    expect(value('premigration_hooks_admission_requests_total{result="error",reason="malformed-json",dry_run="false"}')).toBe(1);
    expect(value('premigration_hooks_admission_requests_total{result="error",reason="bad-review",dry_run="false"}')).toBe(7);
    expect(value('premigration_hooks_admission_requests_total{result="error",reason="unsupported-media-type",dry_run="false"}')).toBe(3);
    expect(text).not.toContain('reason="internal"');
    expect(value('premigration_hooks_admission_duration_seconds_count{result="injected"}')).toBeGreaterThanOrEqual(3);
    expect(value('premigration_hooks_mode{mode="inject"}')).toBe(1);
    expect(value('premigration_hooks_mode{mode="off"}')).toBe(0);
    expect(value('premigration_hooks_feature_gate_enabled')).toBe(1);
    expect(value('premigration_hooks_kubevirt_info{version="v1.7.1"}')).toBe(1);
    const expiry = value('premigration_hooks_tls_certificate_expiry_timestamp_seconds');
    expect(expiry).toBe(wh.certs.current()?.notAfter);
    expect(value('premigration_hooks_tls_reloads_total{result="success"}')).toBe(1);
    expect(value('premigration_hooks_build_info{version="0.1.0"}')).toBe(1);
    expect((await request(wh.metricsUrl).get('/other')).status).toBe(404);
  });

  test('the fixed gate provider reports synced and the forced mode', () => {
    expect(fixedGate('never').current()).toMatchObject({ mode: 'off', gateEnabled: false });
    expect(fixedGate('always').synced()).toBe(true);
  });
});

describe('/mutate never logs a rejected body', () => {
  test('malformed and oversize bodies carrying a secret: 400/413, and the secret is in no log line', async () => {
    const log = capturedLogger();
    const own = await startTestWebhook({ maxBodyBytes: 64 * 1024, logger: log.logger });
    try {
      const secret = 'vnc-passwd-must-not-leak';
      const send = (body: string) => request(own.url).post('/mutate').ca(own.ca).set('Content-Type', 'application/json').send(body);
      expect((await send(`{"request": {"object": "${secret}"`)).status).toBe(400);
      expect((await send(`{"x": "${secret}${'x'.repeat(128 * 1024)}"}`)).status).toBe(413);
      expect(log.lines.filter((l) => l.msg === 'rejected admission request body').map((l) => l.reason)).toEqual(['malformed-json', 'too-large']);
      expect(log.text()).not.toContain(secret);
    } finally {
      await own.close();
    }
  });
});

