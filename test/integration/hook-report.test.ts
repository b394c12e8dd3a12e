/**
 * Hook outcomes reach the webhook's metrics, with every part real: the built webhook
 * process (dev TLS, reports on), the built in-pod server process and the built hook client.
 *  1. the webhook injects a target pod; the report URL, CA bundle and token are read from the
 *     patch it returned, exactly as the pod would get them, and given to the server;
 *  2. runs through the server are reported, verified against the injected CA, and counted;
 *  3. forged and expired tokens are refused (401/403) and counted;
 *  4. with the webhook unreachable the hook still answers, and the report is dropped with a log line.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mintToken } from '../../src/webhook/admission/token.js';
import { REPORT_ENV } from '../../src/webhook/admission/inject.js';
import { eventually, freePort, httpsRequest, sample, stopChild } from '../support/net.js';
import { startWebhookProcess, REPORT_KEY, CLI as WEBHOOK_CLI, type WebhookProcess } from '../support/webhook-process.js';
import { fixturePod, podReview, type Json } from '../support/injected-pods.js';
import {
  CLIENT, CLI, killStarted, PINNED_DOMAIN, postDomain, removeDir, requireBuilt, runClient, SHARED_CPU_DOMAIN, startServer, tempDir,
  TOO_BIG_DOMAIN, VNC_PASSWORD, type ServerProcess,
} from './server-harness.js';

const IMAGE = 'premigration-hooks:report-test';

/** The report settings the webhook put into our container, as server flags (the env names map 1:1). */
function reportFlags(env: Record<string, string>): string[] {
  return [
    `--report-url=${env[REPORT_ENV.url]}`,
    `--report-ca=${env[REPORT_ENV.caBundle]}`,
    `--report-token=${env[REPORT_ENV.token]}`,
    ...(env[REPORT_ENV.kubevirtVersion] ? [`--kubevirt-version=${env[REPORT_ENV.kubevirtVersion]}`] : []),
  ];
}

async function injectedEnv(webhook: WebhookProcess, fixture: string): Promise<Record<string, string>> {
  const answer = await httpsRequest(webhook.port, 'POST', '/mutate', { body: podReview(fixturePod(fixture)) });
  expect(answer.status).toBe(200);
  const patch = JSON.parse(Buffer.from((answer.json as Json).response.patch as string, 'base64').toString('utf8')) as Json[];
  const server = patch.find((op) => op.path === '/spec/initContainers/-')?.value as Json;
  return Object.fromEntries((server.env as Json[]).map((e) => [e.name, e.value]));
}

describe('hook reports: in-pod server → webhook /report → webhook metrics (real processes)', () => {
  let dir: string;
  let webhook: WebhookProcess;
  let env: Record<string, string>;
  let server: ServerProcess;

  beforeAll(async () => {
    requireBuilt(CLI, CLIENT, WEBHOOK_CLI);
    dir = tempDir('pmh-report-');
    webhook = await startWebhookProcess(dir, { image: IMAGE });
    env = await injectedEnv(webhook, 'kv17-dedicated-cpu');
    server = await startServer({ dir: path.join(dir), args: reportFlags(env) });
  }, 30_000);

  afterAll(async () => {
    await killStarted();
    await stopChild(webhook?.child);
    if (dir) removeDir(dir);
  });

  test('the webhook injected a report URL, its own certificate as the CA bundle, and a token', () => {
    expect(env[REPORT_ENV.url]).toBe(`https://127.0.0.1:${webhook.reportPort}/report`);
    expect(env[REPORT_ENV.caBundle]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(env[REPORT_ENV.token]).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(server.logs().find((l) => l.msg === 'hook reports enabled')).toBeDefined();
  });

  test('a changed run is reported, accepted and counted per hook and per migration', async () => {
    const reply = await postDomain(server.socket, PINNED_DOMAIN, '0-3', 'default_vm-dedicated');
    expect(reply.status).toBe(200);
    const text = await eventually('the report to be counted', async () => {
      const t = await webhook.metrics();
      return sample(t, 'premigration_hooks_migrations_total{result="changed"}') === 1 ? t : undefined;
    });
    expect(sample(text, 'premigration_hooks_reports_total{result="accepted"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="changed"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_hook_runs_total{hook="disk-namespace",result="skipped"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_hook_duration_seconds_count{hook="cpu-dedicated"}')).toBe(1);
    // Skipped hooks have no duration.
    expect(sample(text, 'premigration_hooks_hook_duration_seconds_count{hook="disk-namespace"}')).toBeUndefined();
  });

  test('the webhook logs the pod\'s namespace and VMI from the token; neither is ever a metric label', async () => {
    const line = await eventually('the report log line', () => Promise.resolve(webhook.logs().find((l) => l.msg === 'hook report')));
    expect(line).toMatchObject({ namespace: 'prod-db', vmi: 'db-pinned', generateName: 'virt-launcher-db-pinned-', op: 'migrate', result: 'changed' });
    expect(line.hooks).toEqual(['cpu-dedicated=changed', 'disk-namespace=skipped']);
    const text = await webhook.metrics();
    expect(text).not.toContain('prod-db');
    expect(text).not.toContain('db-pinned');
    // And the report carried no XML: the VNC password is in neither process's output.
    expect(JSON.stringify(webhook.logs())).not.toContain(VNC_PASSWORD);
    expect(server.stderr()).not.toContain(VNC_PASSWORD);
  });

  test('unchanged and refused runs are reported too', async () => {
    expect((await postDomain(server.socket, SHARED_CPU_DOMAIN, '0-3')).status).toBe(204);
    expect((await postDomain(server.socket, TOO_BIG_DOMAIN, '0-3')).status).toBe(422);
    const text = await eventually('both reports', async () => {
      const t = await webhook.metrics();
      return sample(t, 'premigration_hooks_reports_total{result="accepted"}') === 3 ? t : undefined;
    });
    expect(sample(text, 'premigration_hooks_migrations_total{result="unchanged"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_migrations_total{result="refused"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="refused"}')).toBe(1);
  });

  test('a forged token (another key) → 401, counted, nothing recorded', async () => {
    const forged = mintToken(Buffer.from('an-attacker-key-an-attacker-key-0123456789'), { ns: 'x', gn: 'x-', vmi: 'x', exp: 4_000_000_000 });
    const before = await webhook.metrics();
    const r = await httpsRequest(webhook.reportPort, 'POST', '/report', {
      body: { schema: 1, op: 'migrate', result: 'failed', durationMs: 1, hooks: [{ name: 'chain', result: 'failed' }] },
      headers: { authorization: `Bearer ${forged}` },
      ca: env[REPORT_ENV.caBundle] as string,
    });
    expect(r.status).toBe(401);
    const after = await webhook.metrics();
    expect(sample(after, 'premigration_hooks_reports_total{result="unauthorized"}')).toBe((sample(before, 'premigration_hooks_reports_total{result="unauthorized"}') ?? 0) + 1);
    expect(sample(after, 'premigration_hooks_migrations_total{result="failed"}')).toBe(0);
  });

  test('no token at all → 401', async () => {
    const r = await httpsRequest(webhook.reportPort, 'POST', '/report', { body: {}, ca: env[REPORT_ENV.caBundle] as string });
    expect(r.status).toBe(401);
  });

  test('an expired token signed with the real key → 403, counted', async () => {
    const expired = mintToken(Buffer.from(REPORT_KEY), { ns: 'prod-db', gn: 'virt-launcher-db-pinned-', vmi: 'db-pinned', exp: Math.floor(Date.now() / 1000) - 60 });
    const r = await httpsRequest(webhook.reportPort, 'POST', '/report', {
      body: { schema: 1, op: 'migrate', result: 'failed', durationMs: 1, hooks: [] },
      headers: { authorization: `Bearer ${expired}` },
      ca: env[REPORT_ENV.caBundle] as string,
    });
    expect(r.status).toBe(403);
    const text = await webhook.metrics();
    expect(sample(text, 'premigration_hooks_reports_total{result="expired"}')).toBe(1);
    expect(sample(text, 'premigration_hooks_migrations_total{result="failed"}')).toBe(0);
  });

  test('a CA bundle that does not match the webhook\'s certificate: TLS fails, the report is dropped, the hook is unaffected', async () => {
    const wrongCa = readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'tls', 'report-ca.pem'), 'utf8');
    const flags = reportFlags({ ...env, [REPORT_ENV.caBundle]: wrongCa });
    const otherDir = path.join(dir, 'ca');
    mkdirSync(otherDir);
    const other = await startServer({ dir: otherDir, args: flags });
    const before = sample(await webhook.metrics(), 'premigration_hooks_reports_total{result="accepted"}');
    expect((await postDomain(other.socket, SHARED_CPU_DOMAIN, '0-3')).status).toBe(204);
    const dropped = await other.waitForLog('hook report dropped');
    expect(String(dropped.error)).toMatch(/certificate/i);
    expect(sample(await webhook.metrics(), 'premigration_hooks_reports_total{result="accepted"}')).toBe(before);
  }, 20_000);

  test('a report naming a hook we do not ship → 400 (labels stay bounded)', async () => {
    const r = await httpsRequest(webhook.reportPort, 'POST', '/report', {
      body: { schema: 1, op: 'migrate', result: 'changed', durationMs: 1, hooks: [{ name: 'made-up', result: 'changed' }] },
      headers: { authorization: `Bearer ${env[REPORT_ENV.token]}` },
      ca: env[REPORT_ENV.caBundle] as string,
    });
    expect(r.status).toBe(400);
    expect(await webhook.metrics()).not.toContain('made-up');
  });
});

describe('hook reports never get in the way (real server and client, webhook down)', () => {
  let dir: string;
  afterAll(async () => {
    await killStarted();
    if (dir) removeDir(dir);
  });

  test('with nothing listening at the report URL the hook still answers, and the report is dropped with a log line', async () => {
    dir = tempDir('pmh-report-down-');
    const closedPort = await freePort();
    const ca = readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'tls', 'report-ca.pem'), 'utf8');
    const token = mintToken(Buffer.from(REPORT_KEY), { ns: 'prod-db', gn: 'virt-launcher-db-pinned-', vmi: 'db-pinned', exp: 4_000_000_000 });
    const server = await startServer({ dir, args: [`--report-url=https://127.0.0.1:${closedPort}/report`, `--report-ca=${ca}`, `--report-token=${token}`] });
    const started = Date.now();
    const run = await runClient(server.conf, PINNED_DOMAIN, ['default_vm-dedicated', 'migrate', 'begin', '-']);
    const answeredMs = Date.now() - started;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    // The hook answered (the server logged its run) before the report gave up.
    const migrate = await server.waitForLog('migrate-begin');
    expect([200, 204, 422]).toContain(migrate.status);
    const dropped = await server.waitForLog('hook report dropped');
    expect(dropped).toMatchObject({ attempts: 3 });
    expect(String(dropped.error)).toMatch(/ECONNREFUSED/);
    // Generous bound only: the client's own deadline is 2 s.
    expect(answeredMs).toBeLessThan(10_000);
  }, 30_000);
});
