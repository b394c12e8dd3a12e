/**
 * The namespace watch (src/webhook/watch/namespaces.ts) against the list+watch TEST DOUBLE of
 * kube-apiserver (test/support/fake-apiserver.ts; no kube-apiserver on this machine): labels are
 * unknown until the first list (fail safe), then follow creates, label changes and deletes; the
 * cache keeps only names and labels; a failed list is retried.
 */
import { FakeApiServer, NAMESPACES, waitFor } from '../support/fake-apiserver.js';
import { capturedLogger } from '../support/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createNamespaceWatch, slimNamespace, type NamespaceWatch } from '../../src/webhook/watch/namespaces.js';

test('slimNamespace keeps name, uid, resourceVersion and string labels only', () => {
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vms', uid: 'u', resourceVersion: '7', labels: { tier: 'gold', odd: 3 }, annotations: { big: 'x'.repeat(1000) } }, spec: { finalizers: ['kubernetes'] } };
  expect(slimNamespace(ns as never)).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vms', uid: 'u', resourceVersion: '7', labels: { tier: 'gold' } } });
});

describe('namespace watch', () => {
  let api: FakeApiServer;
  let watch: NamespaceWatch | undefined;
  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
  });
  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await api.close();
  });

  test('unknown before the first list (a failed list is retried), then follows create, relabel and delete', async () => {
    api.create(NAMESPACES, { metadata: { name: 'vms', labels: { tier: 'gold' } } });
    api.failNext('list', 500);
    watch = createNamespaceWatch({ kubeConfig: api.kubeConfig(), logger: capturedLogger().logger, registry: createRegistry(), backoff: { initialMs: 200, maxMs: 200, jitter: 0 } });
    await watch.start();
    // The first list failed: nothing is known, even for a namespace that exists.
    expect(watch.synced()).toBe(false);
    expect(watch.labels('vms')).toBeUndefined();
    const w = watch;
    await waitFor(() => w.synced(), 'namespace watch synced after the retry');
    expect(w.labels('vms')).toEqual({ tier: 'gold' });
    expect(w.labels('nowhere')).toBeUndefined();

    api.create(NAMESPACES, { metadata: { name: 'batch' } });
    await waitFor(() => w.labels('batch') !== undefined, 'batch seen');
    expect(w.labels('batch')).toEqual({});
    api.update(NAMESPACES, { metadata: { name: 'vms', labels: { tier: 'bronze' } } });
    await waitFor(() => w.labels('vms')?.tier === 'bronze', 'vms relabelled');
    api.remove(NAMESPACES, '', 'vms');
    await waitFor(() => w.labels('vms') === undefined, 'vms deleted');
    expect(w.labels('batch')).toEqual({});
  });
});
