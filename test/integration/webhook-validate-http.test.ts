/**
 * /validate over real HTTPS (the in-process app and server as main.ts wires them, supertest as
 * the apiserver): a target pod goes through our /mutate, the patch is applied, "someone else"
 * mutates the result, and the final pod is POSTed to /validate, under warn and under deny.
 * Also: pods never injected pass silently, bad bodies are counted as validation errors (not
 * as admissions), and the validation series are on /metrics.
 */
import request from 'supertest';
import { createLogger, type Logger } from '../../src/shared/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createWebhookApp, startWebhookServer, type WebhookServer } from '../../src/webhook/http/app.js';
import { fixedGate } from '../../src/webhook/main.js';
import { createWebhookMetrics } from '../../src/webhook/http/metrics.js';
import { closeTheLoop } from '../../src/webhook/http/report-setup.js';
import { readCertFiles, validateCertPair } from '../../src/webhook/http/tls.js';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';
import type { Registry } from 'prom-client';
import { fixturePod, injectSettings, mutations, podReview, type Json } from '../support/injected-pods.js';
import { decodePatch, KubeletSecretDir } from './webhook-harness.js';
import { capturedLogger } from '../support/log.js';

interface Served {
  url: string;
  ca: Buffer;
  registry: Registry;
  server: WebhookServer;
  secret: KubeletSecretDir;
}

async function serve(policy: 'warn' | 'deny', logger: Logger = createLogger('validate-test', 'silent')): Promise<Served> {
  const registry = createRegistry();
  const gate = fixedGate('always');
  const secret = new KubeletSecretDir();
  const ca = secret.publishNew().cert;
  const files = readCertFiles(secret.dir);
  const loop = closeTheLoop(
    { validatePolicy: policy, reportTokenTtlSeconds: 3600, maxBodyBytes: 4 * 1024 * 1024 },
    { registry, logger },
  );
  const app = createWebhookApp({
    state: () => ({ gate: gate.current(), settings: injectSettings(), ...loop.admitState() }),
    routes: loop.routes,
    ready: () => true,
    metrics: createWebhookMetrics(registry, () => gate.current()),
    logger,
    maxBodyBytes: 4 * 1024 * 1024,
  });
  const server = await startWebhookServer({ app, port: 0, host: '127.0.0.1', certificate: validateCertPair(files.cert, files.key) });
  return { url: `https://127.0.0.1:${server.port}`, ca, registry, server, secret };
}

async function close(s: Served): Promise<void> {
  s.server.server.closeAllConnections();
  await s.server.close();
  s.secret.remove();
}

async function post(s: Served, path: string, body: unknown): Promise<Json> {
  const res = await request(s.url).post(path).ca(s.ca).set('Content-Type', 'application/json').send(body as object);
  expect(res.status).toBe(200);
  return res.body as Json;
}

/** The pod as stored after our real /mutate over HTTPS. */
async function mutated(s: Served, fixture: string): Promise<Json> {
  const pod = fixturePod(fixture);
  const patch = decodePatch(await post(s, '/mutate', podReview(pod)));
  expect(patch).toBeDefined();
  return applyPatchChecked(pod, patch as never);
}

async function metric(s: Served, line: string): Promise<number | undefined> {
  const text = await s.registry.metrics();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

const SOMEONE_ELSE: [string, string, (pod: Json) => Json, string][] = [
  ['the sidecar removed', 'kv17-dedicated-cpu', (p) => mutations.removeSidecar(p), 'sidecar-missing'],
  ['restartPolicy dropped', 'kv110-dedicated-cpu', (p) => mutations.dropRestartPolicy(p), 'sidecar-restart-policy'],
  ['a Burstable container added', 'kv17-dedicated-cpu', (p) => mutations.addBurstableContainer(p), 'qos-changed'],
  ['the qemu.d mount removed', 'kv15-shared-cpu', (p) => mutations.removeHooksMount(p), 'mount-missing'],
];

describe('/validate over TLS, policy warn (the default)', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve('warn');
  });
  afterAll(() => close(s));

  test('an intact injected pod passes with no warnings', async () => {
    const body = await post(s, '/validate', podReview(await mutated(s, 'kv17-dedicated-cpu')));
    expect(body.response).toEqual({ uid: 'c0ffee00-0000-4000-8000-000000000007', allowed: true });
    expect(await metric(s, 'premigration_hooks_validation_requests_total{result="ok",denied="false",dry_run="false"}')).toBe(1);
  });

  test.each(SOMEONE_ELSE)('%s: allowed, with an admission warning, counted', async (_what, fixture, mutate, check) => {
    const before = (await metric(s, `premigration_hooks_validation_violations_total{check="${check}"}`)) ?? 0;
    const body = await post(s, '/validate', podReview(mutate(await mutated(s, fixture))));
    expect(body.response.allowed).toBe(true);
    expect(body.response.warnings).toHaveLength(1);
    expect(body.response.warnings[0]).toMatch(/^premigration-hooks: /);
    expect(await metric(s, `premigration_hooks_validation_violations_total{check="${check}"}`)).toBe(before + 1);
  });

  test('a pod never injected is allowed silently', async () => {
    const body = await post(s, '/validate', podReview(fixturePod('kv17-launcher-not-target')));
    expect(body.response).toEqual({ uid: 'c0ffee00-0000-4000-8000-000000000007', allowed: true });
  });

  test('malformed JSON → 400, counted as a validation error and not as an admission', async () => {
    const res = await request(s.url).post('/validate').ca(s.ca).set('Content-Type', 'application/json').send('{"request":');
    expect(res.status).toBe(400);
    expect(await metric(s, 'premigration_hooks_validation_requests_total{result="error",denied="false",dry_run="false"}')).toBe(1);
    expect(await s.registry.metrics()).not.toContain('premigration_hooks_admission_requests_total{result="error"');
  });
});

describe('/validate over TLS, policy deny', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve('deny');
  });
  afterAll(() => close(s));

  test.each(SOMEONE_ELSE)('%s: rejected with a clear message, counted as denied', async (_what, fixture, mutate, check) => {
    const body = await post(s, '/validate', podReview(mutate(await mutated(s, fixture))));
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.code).toBe(403);
    expect(body.response.status.message).toMatch(/^premigration-hooks: another admission step broke the hook injection: /);
    expect(body.response.status.message).toContain('the migration fails and the VM stays on its source');
    expect(await metric(s, `premigration_hooks_validation_violations_total{check="${check}"}`)).toBe(1);
  });

  test('every denial was counted with denied="true"', async () => {
    expect(await metric(s, 'premigration_hooks_validation_requests_total{result="violation",denied="true",dry_run="false"}')).toBe(SOMEONE_ELSE.length);
  });

  test('an intact injected pod and a never-injected pod are still allowed', async () => {
    expect((await post(s, '/validate', podReview(await mutated(s, 'kv17-root-mode')))).response.allowed).toBe(true);
    expect((await post(s, '/validate', podReview(fixturePod('kv17-dedicated-cpu')))).response.allowed).toBe(true);
  });
});

describe('/validate never logs a rejected body', () => {
  test('malformed and oversize bodies carrying a secret: 400/413, and the secret is in no log line', async () => {
    const log = capturedLogger();
    const s = await serve('warn', log.logger);
    try {
      const secret = 'vnc-passwd-must-not-leak';
      const malformed = await request(s.url).post('/validate').ca(s.ca).set('Content-Type', 'application/json').send(`{"request": {"object": "${secret}"`);
      expect(malformed.status).toBe(400);
      const oversize = await request(s.url).post('/validate').ca(s.ca).set('Content-Type', 'application/json').send(`{"x": "${secret}${'x'.repeat(5 * 1024 * 1024)}"}`);
      expect(oversize.status).toBe(413);
      expect(log.lines.filter((l) => l.msg === 'rejected validation request body').map((l) => l.status)).toEqual([400, 413]);
      expect(log.text()).not.toContain(secret);
    } finally {
      await close(s);
    }
  });
});

