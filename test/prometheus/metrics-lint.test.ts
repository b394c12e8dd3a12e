/**
 * `promtool check metrics` on what the two real processes serve: the webhook's plain-HTTP
 * /metrics and the in-pod server's /metrics on its unix socket, after a migration went through
 * each (so labelled series, histograms and the process defaults are all present). promtool exits
 * non-zero on any lint problem (naming, units, help text) and prints it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startWebhookProcess, type WebhookProcess } from '../support/webhook-process.js';
import { stopChild } from '../support/net.js';
import { CLI, CLIENT, PINNED_DOMAIN, httpRequest, killStarted, postDomain, removeDir, requireBuilt, startServer, tempDir } from '../integration/server-harness.js';
import { httpsText } from '../support/net.js';
import { REPO_ROOT } from '../manifests/kustomize.js';

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

function checkMetrics(exposition: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${PROMTOOL} (test/setup/install-system-deps.sh installs it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

beforeAll(() => requireBuilt(CLI, CLIENT));

describe('promtool check metrics', () => {
  let dir: string;
  let webhook: WebhookProcess | undefined;
  beforeEach(() => {
    dir = tempDir('pmh-lint-');
  });
  afterEach(async () => {
    await stopChild(webhook?.child);
    webhook = undefined;
    await killStarted();
    removeDir(dir);
  });

  test('the webhook /metrics is clean, with the Node.js defaults under their standard names', async () => {
    webhook = await startWebhookProcess(dir, { image: 'registry.example.com/premigration-hooks:v0.1.0' });
    const review = readFileSync(path.join(REPO_ROOT, 'test/golden/webhook/kv17-dedicated-cpu/review.json'));
    expect((await httpsText(webhook.port, '/mutate', review)).status).toBe(200);
    const text = await webhook.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).toContain('premigration_hooks_admission_requests_total{');
    const r = checkMetrics(text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  test('the in-pod server /metrics is clean', async () => {
    const server = await startServer({ dir });
    expect((await postDomain(server.socket, PINNED_DOMAIN, '0-3')).status).toBe(200);
    const m = await httpRequest(server.socket, { method: 'GET', path: '/metrics' });
    expect(m.body).toContain('premigration_hooks_hook_runs_total{hook="cpu-dedicated",result="changed"} 1');
    expect(m.body).toMatch(/^process_resident_memory_bytes \d/m);
    const r = checkMetrics(m.body);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  test('the check is live: a counter without _total is reported', () => {
    const r = checkMetrics('# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n');
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/bad_counter/);
  });
});
