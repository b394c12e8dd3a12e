/** Resource quantities and the pod QoS class, computed as the kubelet does. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isWholeMilli, parseQuantity } from '../../src/core/pod/quantity.js';
import { qosClass } from '../../src/core/pod/qos.js';
import { inject } from '../../src/webhook/admission/inject.js';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pod = (name: string): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/pods', `${name}.json`), 'utf8')) as Json;

describe('parseQuantity (nano-units, exact)', () => {
  test.each([
    ['1', 1_000_000_000n], ['100m', 100_000_000n], ['0.5', 500_000_000n], ['1.5Gi', 1_610_612_736_000_000_000n],
    ['128Mi', 134_217_728_000_000_000n], ['40M', 40_000_000_000_000_000n], ['1e3', 1_000_000_000_000n],
    ['2Ki', 2_048_000_000_000n], ['.5', 500_000_000n], ['1n', 1n], ['-1', -1_000_000_000n], ['8598Mi', 9_015_656_448n * 1_000_000_000n],
  ])('%s', (text, nanos) => {
    expect(parseQuantity(text)).toBe(nanos);
  });
  test('equal amounts in different spellings compare equal', () => {
    expect(parseQuantity('1')).toBe(parseQuantity('1000m'));
    expect(parseQuantity('1Gi')).toBe(parseQuantity('1073741824'));
    expect(parseQuantity(2)).toBe(parseQuantity('2'));
  });
  test.each(['', 'lots', '1.2.3', '5 Gi', '1x', 'Mi', '1e99'])('rejects %j', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
  test('whole millicores', () => {
    expect(isWholeMilli('100m')).toBe(true);
    expect(isWholeMilli('0.25')).toBe(true);
    expect(isWholeMilli('0.0005')).toBe(false);
    expect(isWholeMilli('0')).toBe(false);
  });
});

describe('qosClass', () => {
  const c = (resources?: Json): Json => ({ name: 'c', ...(resources ? { resources } : {}) });
  const g = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } };
  test('no resources anywhere → BestEffort', () => {
    expect(qosClass({ containers: [c(), c()] })).toBe('BestEffort');
  });
  test('requests == limits on every container, init included → Guaranteed', () => {
    expect(qosClass({ containers: [c(g)], initContainers: [c(g)] })).toBe('Guaranteed');
  });
  test('limits only (requests default to limits) → Guaranteed', () => {
    expect(qosClass({ containers: [c({ limits: { cpu: '2', memory: '2Gi' } })] })).toBe('Guaranteed');
  });
  test('one init container without limits drops the pod to Burstable', () => {
    expect(qosClass({ containers: [c(g)], initContainers: [c({ requests: { cpu: '10m', memory: '1M' } })] })).toBe('Burstable');
  });
  test('a memory limit without a cpu limit → Burstable', () => {
    expect(qosClass({ containers: [c({ requests: { memory: '1Gi' }, limits: { memory: '1Gi' } })] })).toBe('Burstable');
  });
  test('extended resources (devices.kubevirt.io/*, ephemeral-storage) do not count', () => {
    expect(qosClass({ containers: [c({ ...g, requests: { ...g.requests, 'ephemeral-storage': '50M' }, limits: { ...g.limits, 'devices.kubevirt.io/kvm': '1' } })] })).toBe('Guaranteed');
  });
  test('pod-level resources decide when set', () => {
    expect(qosClass({ resources: { limits: { cpu: '1', memory: '1Gi' } }, containers: [c()] })).toBe('Guaranteed');
  });
  test('KubeVirt fixtures: dedicated CPUs are Guaranteed, shared CPUs and Root mode Burstable', () => {
    expect(qosClass(pod('kv17-dedicated-cpu').spec)).toBe('Guaranteed');
    expect(qosClass(pod('kv110-dedicated-cpu').spec)).toBe('Guaranteed');
    expect(qosClass(pod('kv15-shared-cpu').spec)).toBe('Burstable');
    expect(qosClass(pod('kv17-root-mode').spec)).toBe('Burstable');
  });
});

describe('the patch keeps the QoS class', () => {
  const settings = parseWebhookSettings(['--dev-self-signed', '--image', 'r/p:1']).inject;
  test.each(['native', 'classic'] as const)('a dedicated-CPU pod stays Guaranteed after the patch (%s sidecar)', (sidecarMode) => {
    const p = pod('kv110-dedicated-cpu');
    const r = inject(p, { ...settings, sidecarMode }, { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error(`expected a patch: ${JSON.stringify(r)}`);
    const after = applyPatchChecked(p, r.patch) as Json;
    expect(qosClass(after.spec)).toBe('Guaranteed');
    const ours = [...after.spec.containers, ...after.spec.initContainers].filter((x: Json) => r.containers.includes(x.name));
    // Classic adds the install init container too; it counts for QoS like any other container.
    expect(ours.map((x: Json) => x.name)).toEqual(
      sidecarMode === 'classic' ? ['premigration-hooks', 'premigration-hooks-install'] : ['premigration-hooks'],
    );
    for (const x of ours) {
      expect(x.resources.requests).toEqual(x.resources.limits);
      expect(Object.keys(x.resources.limits).sort()).toEqual(['cpu', 'memory']);
      // compute keeps its integral CPUs: only it qualifies for exclusive cores under the static CPU manager.
      expect(isWholeMilli(x.resources.limits.cpu)).toBe(true);
    }
    expect(after.spec.containers[0].resources).toEqual(p.spec.containers[0].resources);
  });
  test('classic: a Burstable pod stays Burstable, and both of our containers get requests only', () => {
    const p = pod('kv15-shared-cpu');
    const r = inject(p, { ...settings, sidecarMode: 'classic' }, { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    const added = (r.patch as Json[]).filter((op) => op.path === '/spec/initContainers/-' || op.path === '/spec/containers/-');
    expect(added.map((op) => op.value.resources)).toEqual([{ requests: { cpu: '10m', memory: '64Mi' } }, { requests: { cpu: '10m', memory: '64Mi' } }]);
    expect(qosClass(applyPatchChecked(p, r.patch).spec)).toBe('Burstable');
  });
  test('a Burstable pod gets requests only', () => {
    const r = inject(pod('kv15-shared-cpu'), settings, { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    expect((r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' } });
  });
  test('a BestEffort pod gets no resources at all (adding any would make it Burstable)', () => {
    const p = pod('kv15-shared-cpu');
    for (const x of [...p.spec.containers, ...p.spec.initContainers]) delete x.resources;
    expect(qosClass(p.spec)).toBe('BestEffort');
    const r = inject(p, settings, { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    expect((r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value.resources).toBeUndefined();
    expect(qosClass(applyPatchChecked(p, r.patch).spec)).toBe('BestEffort');
  });
});
