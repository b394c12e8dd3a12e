import { DEFAULT_HOOKS } from '../../src/core/hooks/registry.js';
/**
 * The escaped-pods watch (src/webhook/watch/escaped.ts) against the local list+watch TEST DOUBLE of
 * kube-apiserver (test/support/fake-apiserver.ts; there is no kube-apiserver on these machines),
 * plus the whole wiring (src/webhook/watch/watches.ts): the real gate provider following a KubeVirt CR and
 * feeding the mode timeline the pod watch judges against.
 */
import type { Registry } from 'prom-client';
import { createRegistry } from '../../src/shared/metrics.js';
import { createEscapedPodWatcher, ModeTimeline, type EscapedPodWatcher } from '../../src/webhook/watch/escaped.js';
import { GATE_NAME } from '../../src/webhook/admission/mode.js';
import { INJECTED_ANNOTATION, INJECT_ANNOTATION } from '../../src/webhook/admission/names.js';
import { createWatches, type Watches } from '../../src/webhook/watch/watches.js';
import { FakeApiServer, KUBEVIRTS, PODS, waitFor } from '../support/fake-apiserver.js';
import { capturedLogger, metricValue } from '../support/log.js';

type Json = Record<string, unknown>;
const HOOKS = [...DEFAULT_HOOKS];
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

let serial = 0;
function launcher(opts: { created?: number; annotations?: Record<string, string>; migration?: boolean; app?: string; namespace?: string } = {}): Json {
  serial += 1;
  const labels: Record<string, string> = { 'kubevirt.io': opts.app ?? 'virt-launcher', 'vm.kubevirt.io/name': `vm${serial}` };
  if (opts.migration !== false) labels['kubevirt.io/migrationJobUID'] = `job-${serial}`;
  return {
    metadata: {
      name: `virt-launcher-vm${serial}-x${serial}`,
      namespace: opts.namespace ?? `tenant-${serial % 3}`,
      labels,
      annotations: opts.annotations ?? {},
      ...(opts.created !== undefined ? { creationTimestamp: iso(opts.created) } : {}),
    },
    spec: { containers: [{ name: 'compute', image: 'virt-launcher' }] },
  };
}

const ESCAPED = 'premigration_hooks_escaped_target_pods_total';
const OBSERVED = 'premigration_hooks_target_pods_observed_total';

describe('escaped-pods watch against a local list+watch test double (no kube-apiserver on this machine)', () => {
  let api: FakeApiServer;
  let registry: Registry;
  let log: ReturnType<typeof capturedLogger>;
  let timeline: ModeTimeline;
  let watcher: EscapedPodWatcher | undefined;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
    registry = createRegistry();
    log = capturedLogger();
    timeline = new ModeTimeline();
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    await api.close();
  });

  function createWatcher(skewMs = 5000): EscapedPodWatcher {
    watcher = createEscapedPodWatcher({
      kubeConfig: api.kubeConfig(), timeline, hooks: HOOKS, logger: log.logger, registry, skewMs, backoff: { initialMs: 10, maxMs: 80 },
      // These pods are bare launchers no hook applies to: judge them as --inject-policy always would.
      expectation: { injectPolicy: 'always' },
    });
    return watcher;
  }
  const startWatcher = (skewMs?: number): Promise<void> => createWatcher(skewMs).start();
  const escaped = () => metricValue(registry, ESCAPED);
  const observed = (outcome: string) => metricValue(registry, OBSERVED, { outcome });

  test('cluster-wide, by label selector: counts listed and live target pods without a marker, not injected or opted-out ones', async () => {
    const tenMinutesAgo = Date.now() - 600_000;
    timeline.record('inject', tenMinutesAgo);
    const aMinuteAgo = Date.now() - 60_000;
    api.create(PODS, launcher({ created: aMinuteAgo, annotations: { [INJECTED_ANNOTATION]: '{"version":"0.1.0"}' } }));
    const listedEscapee = api.create(PODS, launcher({ created: aMinuteAgo }));
    api.create(PODS, launcher({ created: aMinuteAgo, annotations: { [INJECT_ANNOTATION]: 'false' } }));
    api.create(PODS, launcher({ created: aMinuteAgo, migration: false })); // a VM starting: not selected
    api.create(PODS, launcher({ created: aMinuteAgo, app: 'hotplug-disk' })); // attachment pod: not selected
    const w = createWatcher();
    expect(await escaped()).toBe(0); // exported at zero before anything is judged
    await w.start();
    await waitFor(() => watcher?.watching() === true, 'listed and watching');

    expect(await escaped()).toBe(1);
    expect(await observed('injected')).toBe(1);
    expect(await observed('opted-out')).toBe(1);
    expect(await observed('unknown')).toBe(0);
    const listRequest = api.requests.find((r) => r.plural === 'pods' && !r.watch);
    expect(listRequest).toEqual({ plural: 'pods', watch: false, labelSelector: 'kubevirt.io=virt-launcher,kubevirt.io/migrationJobUID' });
    expect(api.requests.find((r) => r.plural === 'pods' && r.watch)).toMatchObject({ labelSelector: 'kubevirt.io=virt-launcher,kubevirt.io/migrationJobUID' });
    expect(api.requests.every((r) => r.namespace === undefined)).toBe(true);

    const live = api.create(PODS, launcher({ created: Date.now() - 30_000, namespace: 'tenant-live' }));
    await waitFor(() => log.lines.filter((l) => l.outcome === 'escaped').length === 2, 'live escapee judged');
    expect(await escaped()).toBe(2);
    const lines = log.lines.filter((l) => l.outcome === 'escaped');
    const meta = (p: Json) => p.metadata as Json;
    expect(lines.map((l) => [l.namespace, l.pod, l.level])).toEqual([
      [meta(listedEscapee).namespace, meta(listedEscapee).name, 40],
      ['tenant-live', meta(live).name, 40],
    ]);
    expect(lines[1]?.migrationJobUID).toBe((meta(live).labels as Json)['kubevirt.io/migrationJobUID']);
  });

  test('pods created while off are not escapes; a pod whose window holds a mode change is unknown', async () => {
    const start = Date.now() - 600_000;
    timeline.record('off', start);
    timeline.record('inject', start + 300_000);
    api.create(PODS, launcher({ created: start + 100_000 })); // off
    api.create(PODS, launcher({ created: start + 302_000 })); // 2 s after the switch: within the skew
    api.create(PODS, launcher({ created: start + 400_000 })); // well after: escaped
    api.create(PODS, launcher({ created: start - 100_000 })); // before this process knew anything
    await startWatcher();
    await waitFor(() => watcher?.watching() === true, 'watching');
    expect(await observed('not-expected')).toBe(1);
    expect(await observed('unknown')).toBe(2);
    expect(await escaped()).toBe(1);
  });

  test('a fresh pod waits for its window to close, and is judged against the modes seen by then', async () => {
    timeline.record('inject', Date.now() - 600_000);
    await startWatcher(0);
    await waitFor(() => watcher?.watching() === true, 'watching');
    // The fake stamps creationTimestamp "now" (second resolution), like the apiserver.
    api.create(PODS, launcher());
    // The gate goes off within the pod's second (before the watch event is even read): the pod
    // is held until its window closes, and then the change is seen.
    timeline.record('off', Date.now());
    await waitFor(() => log.lines.some((l) => l.outcome !== undefined), 'judged after its window');
    expect(await observed('unknown')).toBe(1);
    expect(await escaped()).toBe(0);
  });

  test('a dropped connection is restarted with backoff; a pod created meanwhile is counted once; a 410 relist re-counts nothing', async () => {
    timeline.record('inject', Date.now() - 600_000);
    api.create(PODS, launcher({ created: Date.now() - 60_000 }));
    await startWatcher();
    await waitFor(() => watcher?.watching() === true && api.openWatches('pods') === 1, 'watching');
    expect(await escaped()).toBe(1);

    api.dropWatches();
    api.create(PODS, launcher({ created: Date.now() - 30_000 }));
    await waitFor(() => log.lines.filter((l) => l.outcome === 'escaped').length === 2, 'pod created while disconnected');
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'pods' })).toBe(1);
    await waitFor(() => watcher?.watching() === true && api.openWatches('pods') === 1, 'watching again');

    // Disconnected again, and history compacted past where the watch was: the resumed watch gets
    // 410 Gone, the relist fails once (restarted again), then lists all three pods. Only the new
    // one is judged.
    api.dropWatches();
    api.create(PODS, launcher({ created: Date.now() - 20_000 }));
    api.compact();
    api.failNext('list', 500);
    await waitFor(() => api.countRequests({ plural: 'pods', watch: false }) === 3 && watcher?.watching() === true, 'relisted after 410');
    await waitFor(() => log.lines.filter((l) => l.outcome === 'escaped').length === 3, 'third escapee');
    expect(await escaped()).toBe(3);
    expect(await metricValue(registry, 'premigration_hooks_watch_restarts_total', { resource: 'pods' })).toBe(3);
    expect(await metricValue(registry, 'premigration_hooks_watch_synced', { resource: 'pods' })).toBe(1);
  });
});

describe('gate watch + escaped-pods watch wired as the webhook runs them (same test double)', () => {
  let api: FakeApiServer;
  let watches: Watches | undefined;

  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
  });
  afterEach(async () => {
    await watches?.stop();
    watches = undefined;
    await api.close();
  });

  test('the mode the KubeVirt CR gives is the mode target pods are judged against', async () => {
    const registry = createRegistry();
    const log = capturedLogger();
    api.create(KUBEVIRTS, {
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { developerConfiguration: { featureGates: [GATE_NAME] } } },
      status: { phase: 'Deployed', observedKubeVirtVersion: 'v1.7.2' },
    });
    api.create(PODS, launcher({ created: Date.now() - 60_000 })); // before the webhook started: unknown
    watches = createWatches(
      // Bare launcher pods no hook applies to: judged as --inject-policy always would.
      { gateSource: 'kubevirt', kubevirtNamespace: 'kubevirt', watchTargetPods: true, inject: { hooks: HOOKS, injectPolicy: 'always' } },
      { logger: log.logger, registry, kubeConfig: api.kubeConfig(), escapedSkewMs: 0 },
    );
    await watches.start();
    await waitFor(() => watches?.gate.synced() === true && watches.escaped?.watching() === true, 'both watches synced');
    expect(watches.gate.current().mode).toBe('inject');
    await waitFor(() => log.lines.some((l) => l.outcome === 'unknown'), 'pre-existing pod judged');

    // Created after the gate synced, while injecting, without a marker (stamped at the next full
    // second, as the apiserver would stamp a pod created then).
    const next = Math.ceil((Date.now() + 1) / 1000) * 1000;
    api.create(PODS, launcher({ created: next }));
    await waitFor(() => log.lines.some((l) => l.outcome === 'escaped'), 'escapee judged');
    expect(await metricValue(registry, ESCAPED)).toBe(1);

    // The admin turns the gate off: a pod created afterwards is not an escape.
    api.update(KUBEVIRTS, {
      metadata: { name: 'kubevirt', namespace: 'kubevirt' },
      spec: { configuration: { developerConfiguration: { featureGates: [] } } },
      status: { phase: 'Deployed', observedKubeVirtVersion: 'v1.7.2' },
    });
    await waitFor(() => watches?.gate.current().mode === 'off', 'mode off');
    const later = Math.ceil((Date.now() + 1) / 1000) * 1000;
    api.create(PODS, launcher({ created: later }));
    await waitFor(() => log.lines.some((l) => l.outcome === 'not-expected'), 'pod created while off judged');
    expect(await metricValue(registry, ESCAPED)).toBe(1);
  });

  test('without --watch-target-pods, no pod is listed or watched', async () => {
    const registry = createRegistry();
    watches = createWatches(
      { gateSource: 'kubevirt', kubevirtNamespace: 'kubevirt', watchTargetPods: false, inject: { hooks: HOOKS } },
      { logger: capturedLogger().logger, registry, kubeConfig: api.kubeConfig() },
    );
    await watches.start();
    await waitFor(() => watches?.gate.synced() === true, 'gate synced');
    expect(watches.escaped).toBeUndefined();
    expect(api.countRequests({ plural: 'pods' })).toBe(0);
    expect(registry.getSingleMetric(ESCAPED)).toBeUndefined();
  });
});
