/**
 * The cluster watch (src/webhook/watch/cluster.ts) against the local list+watch TEST DOUBLE of
 * kube-apiserver (test/support/fake-apiserver.ts; no kube-apiserver on this machine): GET /version
 * and the nodes' kubelet versions decide native sidecar support, ResourceQuotas and LimitRanges
 * reach admit() per namespace, and changes arrive through the watches.
 */
import { FakeApiServer, LIMITRANGES, NODES, RESOURCEQUOTAS } from '../support/fake-apiserver.js';
import { capturedLogger } from '../support/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import { createClusterWatch, type ClusterWatch } from '../../src/webhook/watch/cluster.js';

const node = (name: string, kubeletVersion: string) => ({ metadata: { name }, status: { nodeInfo: { kubeletVersion, osImage: 'x' }, capacity: { cpu: '64' } } });

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('cluster watch', () => {
  let api: FakeApiServer;
  let watch: ClusterWatch | undefined;
  beforeEach(async () => {
    api = new FakeApiServer();
    await api.start();
  });
  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await api.close();
  });
  const start = async (opts: { versions?: boolean; namespaceLimits?: boolean } = {}): Promise<ClusterWatch> => {
    watch = createClusterWatch(
      { kubeConfig: api.kubeConfig(), versions: opts.versions ?? true, namespaceLimits: opts.namespaceLimits ?? true, backoff: { initialMs: 10, maxMs: 50 } },
      { logger: capturedLogger().logger, registry: createRegistry() },
    );
    await watch.start();
    return watch;
  };

  test('native sidecars: known only once /version and every kubelet are read; one 1.28 kubelet turns it off', async () => {
    api.create(NODES, node('n1', 'v1.30.4'));
    api.create(NODES, node('n2', 'v1.29.10'));
    const w = await start();
    await waitFor(() => w.sidecars().native === true, 'native supported');
    api.create(NODES, node('n3', 'v1.28.15'));
    await waitFor(() => w.sidecars().native === false, 'an old kubelet noticed');
    expect(w.sidecars().why).toMatch(/1 kubelet\(s\) older than 1.29 \(v1.28.15\)/);
    api.remove(NODES, '', 'n3');
    await waitFor(() => w.sidecars().native === true, 'the old node gone');
  });

  test('an apiserver older than 1.29 refuses native sidecars; /version unreadable → not known', async () => {
    api.version = { major: '1', minor: '28', gitVersion: 'v1.28.9' };
    api.create(NODES, node('n1', 'v1.28.9'));
    const w = await start({ namespaceLimits: false });
    await waitFor(() => w.sidecars().native === false, 'old apiserver');
    expect(w.synced()).toBe(true); // nothing to list for readiness without namespace checks
  });

  test('quotas and limit ranges per namespace, synced for readiness, live', async () => {
    api.create(RESOURCEQUOTAS, { metadata: { name: 'q', namespace: 'vms' }, spec: { hard: { 'requests.cpu': '4' } }, status: { used: { 'requests.cpu': '1' } } });
    api.create(LIMITRANGES, { metadata: { name: 'lr', namespace: 'other' }, spec: { limits: [{ type: 'Container', min: { cpu: '1m' } }] } });
    const w = await start({ versions: false });
    await waitFor(() => w.synced(), 'namespace informers listed');
    const vms = w.namespaceLimits('vms');
    expect(vms?.quotas).toHaveLength(1);
    expect(vms?.quotas[0]).toMatchObject({ spec: { hard: { 'requests.cpu': '4' } }, status: { used: { 'requests.cpu': '1' } } });
    expect(vms?.limitRanges).toEqual([]);
    expect(w.namespaceLimits('other')?.limitRanges).toHaveLength(1);
    api.create(LIMITRANGES, { metadata: { name: 'lr2', namespace: 'vms' }, spec: { limits: [{ type: 'Container', max: { cpu: '2' } }] } });
    await waitFor(() => (w.namespaceLimits('vms')?.limitRanges.length ?? 0) === 1, 'a new LimitRange');
    expect(w.sidecars().native).toBeUndefined(); // versions not watched
  });

  test('until the lists arrive, namespace limits are not known (and readiness waits)', async () => {
    api.failNext('any', 500, 3);
    const w = await start({ versions: false });
    expect(w.synced()).toBe(false);
    expect(w.namespaceLimits('vms')).toBeUndefined();
    await waitFor(() => w.synced(), 'listed after the failures');
    expect(w.namespaceLimits('vms')).toEqual({ quotas: [], limitRanges: [] });
  });
});
