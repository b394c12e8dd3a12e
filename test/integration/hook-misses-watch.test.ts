/**
 * Missed hooks seen by the target-pod watch: a restart of our hook server in an injected target
 * pod is counted as hook_misses_total{reason="server-restarted"} (src/webhook/watch/misses.ts),
 * against the local list+watch TEST DOUBLE of kube-apiserver (test/support/fake-apiserver.ts;
 * there is no kube-apiserver on these machines). Also the pure parts: serverRestarts and the
 * classification of reports.
 */
import type { Registry } from 'prom-client';
import { DEFAULT_HOOKS } from '../../src/core/hooks/registry.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createEscapedPodWatcher, ModeTimeline, serverRestarts, slimPod, type EscapedPodWatcher } from '../../src/webhook/watch/escaped.js';
import { missFromReport, MISSES_METRIC } from '../../src/webhook/watch/misses.js';
import { INJECTED_ANNOTATION } from '../../src/webhook/admission/names.js';
import { FakeApiServer, PODS, waitFor } from '../support/fake-apiserver.js';
import { capturedLogger, metricValue } from '../support/log.js';

type Json = Record<string, unknown>;
const MARKER = JSON.stringify({ version: '0.1.0', mode: 'inject', hooks: ['cpu-dedicated'], sidecar: 'native', container: 'premigration-hooks-1' });

function injectedPod(restarts: number, opts: { container?: string; list?: 'initContainerStatuses' | 'containerStatuses' } = {}): Json {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'virt-launcher-db-abcde', namespace: 'prod-db', uid: 'uid-1',
      labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'job-1' },
      annotations: { [INJECTED_ANNOTATION]: MARKER },
    },
    spec: { containers: [{ name: 'compute', image: 'virt-launcher' }] },
    status: { [opts.list ?? 'initContainerStatuses']: [{ name: 'other', restartCount: 9 }, { name: opts.container ?? 'premigration-hooks-1', restartCount: restarts }] },
  };
}

describe('pure parts', () => {
  test('serverRestarts reads our container (named in the marker) in either status list; 0 without a marker', () => {
    expect(serverRestarts(injectedPod(2))).toBe(2);
    expect(serverRestarts(injectedPod(3, { list: 'containerStatuses' }))).toBe(3);
    expect(serverRestarts(injectedPod(3, { container: 'premigration-hooks' }))).toBe(0);
    const plain = injectedPod(4);
    (plain.metadata as Json).annotations = {};
    expect(serverRestarts(plain)).toBe(0);
    expect(serverRestarts(null)).toBe(0);
  });
  test('slimPod keeps the restart count and drops the rest of the status', () => {
    const slim = slimPod(injectedPod(5) as never) as unknown as Json;
    expect(slim.status).toEqual({ premigrationHooksServerRestarts: 5 });
  });
  test('missFromReport: refused/failed under pass, changed past the client deadline; nothing under abort', () => {
    const pass = { onError: 'pass' as const, clientTimeoutMs: 2000 };
    expect(missFromReport({ result: 'refused', durationMs: 1 }, pass)).toBe('refused');
    expect(missFromReport({ result: 'failed', durationMs: 1 }, pass)).toBe('failed');
    expect(missFromReport({ result: 'changed', durationMs: 2001 }, pass)).toBe('timeout');
    expect(missFromReport({ result: 'changed', durationMs: 1999 }, pass)).toBeUndefined();
    expect(missFromReport({ result: 'unchanged', durationMs: 5000 }, pass)).toBeUndefined();
    expect(missFromReport({ result: 'refused', durationMs: 1 }, { ...pass, onError: 'abort' })).toBeUndefined();
  });
});

describe('server restarts through the watch (test double of kube-apiserver)', () => {
  let api: FakeApiServer;
  let registry: Registry;
  let watcher: EscapedPodWatcher | undefined;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    registry = createRegistry();
  });
  afterEach(async () => {
    await watcher?.stop();
    await api.close();
  });

  test('a restart seen after the first sight counts one miss per restart; a count already there at first sight does not', async () => {
    const timeline = new ModeTimeline();
    timeline.record('inject', Date.now() - 600_000);
    const log = capturedLogger();
    api.create(PODS, injectedPod(1));
    watcher = createEscapedPodWatcher({ kubeConfig: api.kubeConfig(), timeline, hooks: [...DEFAULT_HOOKS], logger: log.logger, registry, backoff: { initialMs: 10, maxMs: 80 } });
    const misses = () => metricValue(registry, MISSES_METRIC, { reason: 'server-restarted' });
    await watcher.start();
    await waitFor(() => watcher?.watching() === true, 'watching');
    expect(await misses()).toBe(0);
    api.update(PODS, injectedPod(3));
    await waitFor(() => log.lines.some((l) => l.restarts === 3), 'the restart seen');
    expect(await misses()).toBe(2);
    api.update(PODS, injectedPod(3));
    await new Promise((r) => setTimeout(r, 200));
    expect(await misses()).toBe(2);
  });
});
