import type { Registry } from 'prom-client';
import { FakeApiServer, KUBEVIRTS, waitFor } from '../support/fake-apiserver.js';
import { createGateProvider, type GateProviderSettings } from '../../src/webhook/watch/gate.js';
import { createWebhookMetrics } from '../../src/webhook/http/metrics.js';
import { GATE_NAME } from '../../src/webhook/admission/mode.js';
import { createRegistry } from '../../src/shared/metrics.js';
import type { GateProvider, GateState } from '../../src/webhook/admission/types.js';
import { capturedLogger, metricValue } from '../support/log.js';

type Json = Record<string, unknown>;

function kubevirtCR(opts: { version: string; listed?: string[]; disabled?: string[]; name?: string; phase?: string }): Json {
  return {
    metadata: { name: opts.name ?? 'kubevirt', namespace: 'kubevirt' },
    spec: {
      configuration: {
        developerConfiguration: { featureGates: opts.listed ?? ['CPUManager'], disabledFeatureGates: opts.disabled ?? [] },
      },
    },
    status: { ...(opts.phase === '' ? {} : { phase: opts.phase ?? 'Deployed' }), observedKubeVirtVersion: opts.version },
  };
}

/** A pino logger whose JSON lines land in an array, so tests can count "mode changed" lines. */

describe('gate watcher against a local list+watch test double (no kube-apiserver on this machine)', () => {
  let api: FakeApiServer;
  let gate: GateProvider | undefined;
  let registry: Registry;
  let log: ReturnType<typeof capturedLogger>;
  let changes: GateState[];

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    registry = createRegistry();
    log = capturedLogger('info');
    changes = [];
  });
  afterEach(async () => {
    await gate?.stop();
    gate = undefined;
    await api.close();
  });

  function startGate(extra: Partial<GateProviderSettings> = {}): Promise<void> {
    gate = createGateProvider(
      { source: 'kubevirt', namespace: 'kubevirt', kubeConfig: api.kubeConfig(), backoff: { initialMs: 10, maxMs: 80 }, ...extra },
      { logger: log.logger, registry, onChange: (s) => changes.push(s) },
    );
    return gate.start();
  }
  const current = (): GateState => (gate as GateProvider).current();
  const modeLogs = (): Json[] => log.lines.filter((l) => l.msg === 'mode changed');

  test('not synced before the first list; list failures (500) are retried with backoff until it syncs', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }));
    api.failNext('list', 500, 3);
    await startGate();
    expect(gate?.synced()).toBe(false);
    expect(current()).toMatchObject({ mode: 'off', reason: 'waiting for the first list of KubeVirt CRs in namespace kubevirt' });
    expect(await metricValue(registry, 'premigration_hooks_watch_synced', { resource: 'kubevirts' })).toBe(0);

    await waitFor(() => gate?.synced() === true, 'first successful list');
    expect(current()).toMatchObject({ mode: 'inject', gateEnabled: true, kubevirtVersion: 'v1.7.2' });
    expect(api.countRequests({ plural: 'kubevirts', watch: false })).toBe(4);
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(3);
    expect(await metricValue(registry, 'premigration_hooks_watch_synced', { resource: 'kubevirts' })).toBe(1);
    const failures = log.lines.filter((l) => l.msg === 'list+watch failed; restarting');
    expect(failures.map((l) => l.attempt)).toEqual([1, 2, 3]);
    // Exponential backoff (10 ms doubling, ±20 % jitter): each delay falls in its own band.
    const delays = failures.map((l) => Number(l.restartInMs));
    expect(delays.map((d, i) => d >= 10 * 2 ** i * 0.8 && d <= 10 * 2 ** i * 1.2)).toEqual([true, true, true]);
  });

  test('no KubeVirt CRD (404): synced in mode off, and the CR is picked up once KubeVirt is installed', async () => {
    api.failNext('any', 404, 3);
    await startGate();
    await waitFor(() => gate?.synced() === true, 'sync on a 404 list');
    expect(current()).toMatchObject({ mode: 'off', gateEnabled: false });
    expect(log.lines.filter((l) => String(l.msg).includes('KubeVirt is not installed'))).toHaveLength(1);

    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }));
    await waitFor(() => current().mode === 'inject', 'mode inject after the CRD and CR appear');
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBeGreaterThanOrEqual(1);
  });

  test('initial list → mode; MODIFIED enabling the gate is seen live; DELETED → off; one log line per mode change', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.8.1' }));
    await startGate();
    await waitFor(() => gate?.synced() === true, 'sync');
    expect(current()).toMatchObject({ mode: 'off', gateEnabled: false, kubevirtVersion: 'v1.8.1' });
    expect(api.requests.find((r) => r.watch)).toMatchObject({ namespace: 'kubevirt', resourceVersion: '101' });

    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.8.1', listed: ['CPUManager', GATE_NAME] }));
    await waitFor(() => current().mode === 'inject', 'mode inject after MODIFIED');
    expect(current().reason).toMatch(/alpha hooks/);

    // Events that do not change the state must not log or notify again.
    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.8.1', listed: [GATE_NAME, 'CPUManager'] }));
    api.update(KUBEVIRTS, { ...kubevirtCR({ version: 'v1.8.1', listed: [GATE_NAME] }), metadata: { name: 'kubevirt', namespace: 'kubevirt', labels: { touched: 'yes' } } });
    // Upgrade to 1.9 (gate now on by default upstream): coexist.
    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.9.0' }));
    await waitFor(() => current().mode === 'coexist', 'coexist after upgrade to 1.9');

    api.remove(KUBEVIRTS, 'kubevirt', 'kubevirt');
    await waitFor(() => current().mode === 'off', 'off after DELETED');
    expect(current()).toEqual({ mode: 'off', gateEnabled: false, reason: 'no KubeVirt CR in namespace kubevirt' });

    // One "mode" line for the state found by the first list, then one line per change of mode;
    // the two no-op updates logged nothing. onChange sees the initial state, then every change.
    expect(log.lines.filter((l) => l.msg === 'mode').map((l) => l.mode)).toEqual(['off']);
    expect(modeLogs().map((l) => `${String(l.previousMode)}→${String(l.mode)}`)).toEqual(['off→inject', 'inject→coexist', 'coexist→off']);
    expect(changes.map((c) => c.mode)).toEqual(['off', 'inject', 'coexist', 'off']);
  });

  test('the state and version series follow the live watch (wired to src/webhook/http/metrics.ts as main does)', async () => {
    createWebhookMetrics(registry, () => current());
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.9.0', disabled: [GATE_NAME] }));
    await startGate({ siteHooks: ['site-tuning'] });
    await waitFor(() => gate?.synced() === true, 'sync');
    expect(await metricValue(registry, 'premigration_hooks_mode', { mode: 'off' })).toBe(1);
    expect(await metricValue(registry, 'premigration_hooks_feature_gate_enabled')).toBe(0);

    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.10.0', disabled: [GATE_NAME] }));
    await waitFor(() => current().mode === 'coexist', 'coexist on 1.10 (GA)');
    expect(await metricValue(registry, 'premigration_hooks_mode', { mode: 'coexist' })).toBe(1);
    expect(await metricValue(registry, 'premigration_hooks_mode', { mode: 'off' })).toBe(0);
    expect(await metricValue(registry, 'premigration_hooks_feature_gate_enabled')).toBe(1);
    expect(await metricValue(registry, 'premigration_hooks_kubevirt_info', { version: 'v1.10.0' })).toBe(1);
    expect(current().reason).toMatch(/injecting only the hooks upstream lacks or does in part/);
  });

  test('a dropped watch connection is restarted with backoff, resumes from its resourceVersion, and misses nothing', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2' }));
    await startGate();
    await waitFor(() => gate?.synced() === true && api.openWatches('kubevirts') === 1, 'watching');
    expect(current().mode).toBe('off');

    api.dropWatches();
    // Changed while no watch is open: the resumed watch must replay it.
    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }));
    await waitFor(() => current().mode === 'inject', 'state recovered after restart');

    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(1);
    expect(api.countRequests({ plural: 'kubevirts', watch: false })).toBe(1); // resumed, not re-listed
    const watches = api.requests.filter((r) => r.watch);
    expect(watches.map((w) => w.resourceVersion)).toEqual(['101', '101']);
    await waitFor(() => gate?.synced() === true && api.openWatches('kubevirts') === 1, 'watching again');
    expect(await metricValue(registry, 'premigration_hooks_watch_synced', { resource: 'kubevirts' })).toBe(1);
  });

  test('a resourceVersion compacted while disconnected (410 Gone) leads to a fresh list, with deletions applied', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }));
    await startGate();
    await waitFor(() => gate?.synced() === true && api.openWatches('kubevirts') === 1, 'watching');
    expect(current().mode).toBe('inject');

    api.dropWatches();
    api.remove(KUBEVIRTS, 'kubevirt', 'kubevirt');
    api.create(KUBEVIRTS, kubevirtCR({ name: 'kubevirt-hco', version: 'v1.9.1' }));
    api.compact();
    await waitFor(() => current().mode === 'coexist', 'relisted after 410');
    expect(current().kubevirtVersion).toBe('v1.9.1');
    expect(api.countRequests({ plural: 'kubevirts', watch: false })).toBe(2);
    // The relist deletes the old CR and adds the new one in one go: decided once, with no
    // transient "off" in between (that would log two spurious mode changes).
    expect(changes.map((c) => c.mode)).toEqual(['inject', 'coexist']);
  });

  test('HTTP 500 on the watch request is retried like any other error', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2' }));
    api.failNext('watch', 500, 2);
    await startGate();
    await waitFor(() => api.openWatches('kubevirts') === 1, 'watch open after two failures');
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(2);
    api.update(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }));
    await waitFor(() => current().mode === 'inject', 'event after recovery');
  });

  test('a watch ended cleanly by the server (timeoutSeconds) is resumed by the library, not counted as a restart', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2' }));
    await startGate({ minWatchMs: 0 });
    await waitFor(() => api.openWatches('kubevirts') === 1, 'watching');
    api.endWatches();
    await waitFor(() => api.countRequests({ plural: 'kubevirts', watch: true }) === 2 && api.openWatches('kubevirts') === 1, 'reconnected');
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(0);
  });

  test('a watch the server closes at once with no event counts as a failure (no hot reconnect loop)', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2' }));
    await startGate({ minWatchMs: 60_000 });
    await waitFor(() => api.openWatches('kubevirts') === 1, 'watching');
    api.endWatches();
    await waitFor(() => api.countRequests({ plural: 'kubevirts', watch: true }) === 2, 'reconnected after backoff');
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(1);
    expect(log.lines.some((l) => /watch ended after \d+ ms without any event/.test(String(l.err)))).toBe(true);
  });

  test('only the CR with a status.phase counts, live too', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ name: 'aaa-stray', phase: '', version: 'v1.7.2', listed: [GATE_NAME] }));
    api.create(KUBEVIRTS, kubevirtCR({ name: 'kubevirt', version: 'v1.7.2' }));
    await startGate();
    await waitFor(() => gate?.synced() === true, 'sync');
    expect(current().mode).toBe('off');
    api.remove(KUBEVIRTS, 'kubevirt', 'kubevirt');
    await waitFor(() => current().reason === 'no KubeVirt CR with a status.phase in namespace kubevirt (1 without)', 'stray ignored');
    expect(current().mode).toBe('off');
  });

  test('CRs in other namespaces are not watched', async () => {
    api.create(KUBEVIRTS, { ...kubevirtCR({ version: 'v1.7.2', listed: [GATE_NAME] }), metadata: { name: 'kubevirt', namespace: 'elsewhere' } });
    await startGate();
    await waitFor(() => gate?.synced() === true, 'sync');
    expect(current()).toMatchObject({ mode: 'off', reason: 'no KubeVirt CR in namespace kubevirt' });
  });

  test('stop() closes the watch and schedules no restart', async () => {
    api.create(KUBEVIRTS, kubevirtCR({ version: 'v1.7.2' }));
    await startGate();
    await waitFor(() => api.openWatches('kubevirts') === 1, 'watching');
    await gate?.stop();
    await waitFor(() => api.openWatches('kubevirts') === 0, 'watch closed');
    await new Promise((resolve) => setTimeout(resolve, 100)); // longer than the backoff cap: a restart would have happened
    expect(api.countRequests({ plural: 'kubevirts' })).toBe(2);
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'kubevirts' })).toBe(0);
  });
});
