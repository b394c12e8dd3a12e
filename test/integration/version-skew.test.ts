/**
 * Version skew (docs/upgrade.md): what a 0.1.0 component put on the wire, kept byte for byte
 * in test/fixtures/v0.1.0, is accepted by the current code.
 *  - client.conf as `serve` 0.1.0 wrote it, read by the current hook client (the real binary,
 *    against the real server); only the socket path is pointed at this test's server;
 *  - a client.conf with a key a later server may add, read by the current client (N+1 → N);
 *  - hook reports of a 0.1.0 in-pod server, parsed and counted by the current webhook, with the
 *    pseudo-hooks landing on their own series;
 *  - the injected marker of a 0.1.0 webhook, read back by the current one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { parseReport, reportableHooks } from '../../src/protocol/report-wire.js';
import { createReportMetrics } from '../../src/webhook/http/report-metrics.js';
import { parseMarker } from '../../src/webhook/admission/marker.js';
import { CLI, CLIENT, PINNED_DOMAIN, killStarted, removeDir, requireBuilt, runClient, startServer, tempDir } from './server-harness.js';

const FIXTURES = path.join(process.cwd(), 'test', 'fixtures', 'v0.1.0');
const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

beforeAll(() => requireBuilt(CLI, CLIENT));

describe('client.conf of 0.1.0, read by the current hook client', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('pmh-skew-');
  });
  afterEach(async () => {
    await killStarted();
    removeDir(dir);
  });

  /** The fixture with only its socket= value replaced; everything else byte for byte. */
  function confFor(socket: string, extra = ''): string {
    const text = fixture('client.conf');
    const lines = text.split('\n');
    expect(lines.filter((l) => l.startsWith('socket='))).toEqual(['socket=/var/run/premigration-hooks/hooks.sock']);
    const file = path.join(dir, 'client.conf');
    writeFileSync(file, text.replace(/^socket=.*$/m, `socket=${socket}`) + extra);
    return file;
  }

  test('migrate begin: the current client rewrites through the current server', async () => {
    const server = await startServer({ dir });
    const run = await runClient(confFor(server.socket), PINNED_DOMAIN);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toMatch(/^<domain[\s\S]*<vcpupin /);
  });

  test('its on_error=pass still holds when the server is gone: exit 0, no output, one stderr line', async () => {
    const run = await runClient(confFor(path.join(dir, 'no-such.sock')), PINNED_DOMAIN);
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBe(0);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^premigration-hooks: /);
  });

  test('a key a later server may add is ignored (a newer server, an older client)', async () => {
    const server = await startServer({ dir });
    const run = await runClient(confFor(server.socket, 'report_hint=v2\nfuture_key=1\n'), PINNED_DOMAIN);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toContain('<vcpupin ');
  });
});

describe('hook reports of a 0.1.0 in-pod server, received by the current webhook', () => {
  const known = new Set(reportableHooks());

  test.each(['report-changed.json', 'report-abi-guard.json', 'report-chain-failed.json'])('%s parses', (name) => {
    const body = JSON.parse(fixture(name)) as Record<string, unknown>;
    const parsed = parseReport(body, known);
    expect(parsed).toHaveProperty('report');
    expect(parsed).toMatchObject({ report: { schema: 1, op: body.op, result: body.result } });
  });

  test('and counts them: real hooks on hook_runs_total, the pseudo-hooks on their own series', async () => {
    const registry = new Registry();
    const metrics = createReportMetrics(registry, reportableHooks());
    for (const name of ['report-changed.json', 'report-abi-guard.json', 'report-chain-failed.json']) {
      const parsed = parseReport(JSON.parse(fixture(name)), known);
      if (!('report' in parsed)) throw new Error(`${name}: ${parsed.error}`);
      metrics.record(parsed.report);
    }
    const text = await registry.metrics();
    expect(text).toContain('premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="changed"} 1');
    expect(text).toContain('premigration_hooks_hook_runs_total{hook="disk-namespace",result="unchanged"} 1');
    expect(text).toMatch(/^premigration_hooks_abi_guard_refusals_total 1$/m);
    expect(text).toMatch(/^premigration_hooks_chain_failures_total 1$/m);
    expect(text).toMatch(/^premigration_hooks_migrations_total\{result="failed"\} 1$/m);
    expect(text).not.toMatch(/hook="(abi-guard|chain)"/);
  });

  test('a field a later server may add is ignored; a hook this webhook does not know is refused, as docs/upgrade.md says', () => {
    const body = JSON.parse(fixture('report-changed.json')) as Record<string, unknown>;
    expect(parseReport({ ...body, newField: { x: 1 } }, known)).toHaveProperty('report');
    const unknownHook = { ...body, hooks: [{ name: 'hook-from-the-future', result: 'changed', durationMs: 1 }] };
    expect(parseReport(unknownHook, known)).toEqual({ error: 'unknown or repeated hook' });
  });
});

describe('the injected marker of a 0.1.0 webhook, read by the current one', () => {
  test('parses with every field', () => {
    const text = fixture('injected-marker.json').trim();
    expect(parseMarker(text)).toEqual(JSON.parse(text));
  });
});
