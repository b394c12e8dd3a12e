/**
 * /report on its own HTTPS listener (the in-process apps and servers as main.ts wires them):
 * the attacks of issue 12, item 7, over the wire. Its port is not the admission port; only one
 * `Authorization: Bearer <token>` is a token; a token yields a bounded number of reports; a
 * deleted key stops acceptance within one re-read period; and reports that show a migration
 * went on without the hooks are counted as misses.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/shared/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createReportApp, createWebhookApp, startWebhookServer, type WebhookServer } from '../../src/webhook/http/app.js';
import { fixedGate } from '../../src/webhook/main.js';
import { createWebhookMetrics } from '../../src/webhook/http/metrics.js';
import { closeTheLoop, RELOAD_EVERY_MS, type ClosedLoop } from '../../src/webhook/http/report-setup.js';
import { readCertFiles, validateCertPair } from '../../src/webhook/http/tls.js';
import { mintToken } from '../../src/webhook/admission/token.js';
import { REPORT_ENV } from '../../src/webhook/admission/inject.js';
import type { Registry } from 'prom-client';
import { fixturePod, injectSettings, podReview, type Json } from '../support/injected-pods.js';
import { decodePatch, KubeletSecretDir } from './webhook-harness.js';
import { metricValue } from '../support/log.js';

const KEY = 'report-key-for-the-report-http-test-0123456789abcdef';
const REPORT = { schema: 1, op: 'migrate', result: 'changed', durationMs: 3, hooks: [{ name: 'cpu-dedicated', result: 'changed', durationMs: 1 }] };

let dir: string;
let secret: KubeletSecretDir;
let registry: Registry;
let loop: ClosedLoop;
let admission: WebhookServer;
let report: WebhookServer;
let ca: Buffer;
let clock = 1_900_000_000;
const keyFile = () => join(dir, 'key');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'report-http-'));
  writeFileSync(keyFile(), `${KEY}\n`);
  writeFileSync(join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  secret = new KubeletSecretDir();
  ca = secret.publishNew().cert;
  const files = readCertFiles(secret.dir);
  const certificate = validateCertPair(files.cert, files.key);
  registry = createRegistry();
  const logger = createLogger('report-test', 'silent');
  const gate = fixedGate('always');
  loop = closeTheLoop(
    {
      validatePolicy: 'warn', reportTokenTtlSeconds: 3600, maxBodyBytes: 1024 * 1024, reportUrl: 'https://127.0.0.1/report',
      reportKeyFile: keyFile(), caBundleFile: join(dir, 'ca.crt'), inject: { onError: 'pass', clientTimeoutMs: 2000 },
    },
    { registry, logger, now: () => clock },
  );
  const app = createWebhookApp({
    state: () => ({ gate: gate.current(), settings: injectSettings(), ...loop.admitState() }),
    routes: loop.routes, ready: () => true, metrics: createWebhookMetrics(registry, () => gate.current()), logger, maxBodyBytes: 1024 * 1024,
  });
  admission = await startWebhookServer({ app, port: 0, host: '127.0.0.1', certificate });
  report = await startWebhookServer({ app: createReportApp({ routes: loop.reportRoutes }), port: 0, host: '127.0.0.1', certificate });
});

afterAll(async () => {
  for (const s of [admission, report]) {
    s.server.closeAllConnections();
    await s.close();
  }
  secret.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** One HTTPS request with raw control over the Authorization header(s). */
function send(port: number, path: string, opts: { auth?: string | string[]; body?: unknown } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(opts.body ?? REPORT);
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', ca, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.setHeader('Content-Type', 'application/json');
    if (opts.auth !== undefined) req.setHeader('Authorization', opts.auth);
    req.on('error', reject);
    req.end(data);
  });
}

const token = (n: string, exp = clock + 3600) => mintToken(Buffer.from(KEY), { ns: 'prod-db', gn: 'virt-launcher-db-', vmi: 'db', exp, n });
const reports = (result: string) => metricValue(registry, 'premigration_hooks_reports_total', { result });

describe('/report has its own port', () => {
  test('POST /report on the admission port → 404; /mutate on the report port → 404', async () => {
    expect((await send(admission.port, '/report', { auth: `Bearer ${token('p0')}` })).status).toBe(404);
    expect((await send(report.port, '/mutate', { body: podReview(fixturePod('kv17-dedicated-cpu')) })).status).toBe(404);
    expect((await send(report.port, '/report', { auth: `Bearer ${token('p0')}` })).status).toBe(204);
  });

  test('the token /mutate injects is accepted on the report port', async () => {
    const answer = await send(admission.port, '/mutate', { body: podReview(fixturePod('kv17-dedicated-cpu')) });
    const patch = decodePatch(JSON.parse(answer.text) as Json) as Json[];
    const server = patch.find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    const env = Object.fromEntries((server.env as Json[]).map((e) => [e.name, e.value])) as Record<string, string>;
    expect((await send(report.port, '/report', { auth: `Bearer ${env[REPORT_ENV.token]}` })).status).toBe(204);
  });
});

describe('strict Authorization', () => {
  test.each([
    ['lower-case scheme', (t: string) => `bearer ${t}`],
    ['two spaces', (t: string) => `Bearer  ${t}`],
    ['a tab', (t: string) => `Bearer\t${t}`],
    ['Bearer twice', (t: string) => `Bearer Bearer ${t}`],
    // (Trailing spaces are HTTP's optional whitespace: the parser drops them before we see the value.)
    ['a second token', (t: string) => `Bearer ${t} ${t}`],
    ['another scheme', (t: string) => `Basic ${t}`],
    ['no scheme', (t: string) => t],
  ])('%s → 401', async (_name, spell) => {
    const before = (await reports('unauthorized')) ?? 0;
    const r = await send(report.port, '/report', { auth: spell(token('strict')) });
    expect(r.status).toBe(401);
    expect(await reports('unauthorized')).toBe(before + 1);
  });

  test('two Authorization headers, even both valid → 401', async () => {
    const t = token('two-headers');
    expect((await send(report.port, '/report', { auth: [`Bearer ${t}`, `Bearer ${t}`] })).status).toBe(401);
  });

  test('a non-canonical spelling of a valid token (trailing character, padding) → 401', async () => {
    const t = token('canon');
    expect((await send(report.port, '/report', { auth: `Bearer ${t}A` })).status).toBe(401);
    expect((await send(report.port, '/report', { auth: `Bearer ${t}=` })).status).toBe(401);
    expect((await send(report.port, '/report', { auth: `Bearer ${t}` })).status).toBe(204);
  });
});

describe('replay bound: a per-token counter in a bounded LRU', () => {
  test('a token yields 4 reports, then 409 replayed; another pod\'s token is unaffected', async () => {
    const t = token('replay');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await send(report.port, '/report', { auth: `Bearer ${t}` })).status);
    expect(statuses).toEqual([204, 204, 204, 204, 409, 409]);
    expect(await reports('replayed')).toBe(2);
    expect((await send(report.port, '/report', { auth: `Bearer ${token('another-pod')}` })).status).toBe(204);
  });

  test('a refused report (bad body) does not use up the budget', async () => {
    const t = token('budget');
    for (let i = 0; i < 5; i++) expect((await send(report.port, '/report', { auth: `Bearer ${t}`, body: { schema: 9 } })).status).toBe(400);
    expect((await send(report.port, '/report', { auth: `Bearer ${t}` })).status).toBe(204);
  });
});

describe('misses from reports', () => {
  test('a refused or failed run under on-error pass, and a changed run slower than the client deadline, are misses', async () => {
    const miss = (reason: string) => metricValue(registry, 'premigration_hooks_hook_misses_total', { reason });
    const before = { refused: (await miss('refused')) ?? 0, timeout: (await miss('timeout')) ?? 0 };
    expect((await send(report.port, '/report', { auth: `Bearer ${token('m1')}`, body: { ...REPORT, result: 'refused', hooks: [{ name: 'cpu-dedicated', result: 'refused' }] } })).status).toBe(204);
    expect((await send(report.port, '/report', { auth: `Bearer ${token('m2')}`, body: { ...REPORT, durationMs: 2500 } })).status).toBe(204);
    expect((await send(report.port, '/report', { auth: `Bearer ${token('m3')}`, body: { ...REPORT, result: 'unchanged', durationMs: 2500, hooks: [] } })).status).toBe(204);
    expect(await miss('refused')).toBe(before.refused + 1);
    expect(await miss('timeout')).toBe(before.timeout + 1);
  });
});

describe('key removal', () => {
  test('deleting the key file stops acceptance and minting within one re-read period; restoring it resumes', async () => {
    const t = token('removal');
    expect((await send(report.port, '/report', { auth: `Bearer ${t}` })).status).toBe(204);
    unlinkSync(keyFile());
    clock += RELOAD_EVERY_MS / 1000 + 1;
    const t2 = token('removal-2');
    const r = await send(report.port, '/report', { auth: `Bearer ${t2}` });
    expect(r.status).toBe(503);
    expect(await reports('disabled')).toBeGreaterThanOrEqual(1);
    expect(loop.admitState().report).toBeUndefined();
    writeFileSync(keyFile(), KEY);
    clock += RELOAD_EVERY_MS / 1000 + 1;
    expect((await send(report.port, '/report', { auth: `Bearer ${token('removal-3')}` })).status).toBe(204);
    expect(loop.admitState().report).toBeDefined();
  });
});
