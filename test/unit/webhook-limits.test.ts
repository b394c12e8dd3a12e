/**
 * Namespace LimitRanges and ResourceQuotas against our containers (src/webhook/admission/limits.ts),
 * with objects shaped as the apiserver stores and lists them, and through admit() with a fixed
 * ClusterView: never a pod the apiserver would refuse because of what we added.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { admit } from '../../src/webhook/admission/admit.js';
import { inject } from '../../src/webhook/admission/inject.js';
import { fitLimitRanges, podUsage, quotaCovers, quotaVerdict } from '../../src/webhook/admission/limits.js';
import { initContainerProblem, verifyPatch } from '../../src/webhook/admission/verify-patch.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { fixedCluster } from '../../src/webhook/main.js';
import type { GateState } from '../../src/webhook/admission/types.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pod = (name: string): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/pods', `${name}.json`), 'utf8')) as Json;
const settings = (extra: string[] = []) => parseWebhookSettings(['--dev-self-signed', '--image', 'r/p:1', '--sidecar-mode', 'native', ...extra]).inject;
const GATE: GateState = { mode: 'inject', gateEnabled: true, reason: 'test' };

const limitRange = (...items: Json[]): Json => ({ apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'lr', namespace: 'ns' }, spec: { limits: items } });
const quota = (hard: Json, used: Json = {}, spec: Json = {}): Json => ({
  apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'q', namespace: 'ns' }, spec: { hard, ...spec }, status: { hard, used },
});
const GUARANTEED = { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } };
const BURSTABLE = { requests: { cpu: '10m', memory: '64Mi' } };
const burstableSpec = pod('kv15-shared-cpu').spec as Json;
const guaranteedSpec = pod('kv17-dedicated-cpu').spec as Json;

describe('fitLimitRanges (LimitRanger, type Container)', () => {
  test('no LimitRange, or only Pod and PersistentVolumeClaim items: our resources unchanged', () => {
    expect(fitLimitRanges(BURSTABLE, [], burstableSpec)).toEqual({ kind: 'ok', resources: BURSTABLE });
    expect(fitLimitRanges(BURSTABLE, [limitRange({ type: 'Pod', max: { cpu: '1m' } }, { type: 'PersistentVolumeClaim', min: { storage: '1Gi' } })], burstableSpec))
      .toEqual({ kind: 'ok', resources: BURSTABLE });
  });

  test('defaults are set explicitly on our container (the stored pod is the same whether or not LimitRanger re-runs)', () => {
    const lr = limitRange({ type: 'Container', default: { cpu: '500m', memory: '512Mi' }, defaultRequest: { cpu: '50m', memory: '100Mi' } });
    expect(fitLimitRanges(BURSTABLE, [lr], burstableSpec)).toEqual({
      kind: 'ok', resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
    });
    // Guaranteed: ours sets requests and limits of cpu and memory, nothing is defaulted.
    expect(fitLimitRanges(GUARANTEED, [lr], guaranteedSpec)).toEqual({ kind: 'ok', resources: GUARANTEED });
  });

  test('as stored: a max alone defaults the limit to it, a min alone defaults the request to it', () => {
    const lr = limitRange({ type: 'Container', max: { memory: '1Gi' }, min: { 'ephemeral-storage': '10Mi' } });
    expect(fitLimitRanges(BURSTABLE, [lr], burstableSpec)).toEqual({
      kind: 'ok', resources: { requests: { cpu: '10m', memory: '64Mi', 'ephemeral-storage': '10Mi' }, limits: { memory: '1Gi' } },
    });
  });

  test.each([
    ['min cpu above our request', { min: { cpu: '250m' } }, GUARANTEED, /min cpu=250m is above our request 100m/],
    ['max cpu below our limit', { max: { cpu: '50m' } }, GUARANTEED, /max cpu=50m is below our limit 100m/],
    ['maxLimitRequestRatio with a defaulted limit far above our request', { default: { cpu: '500m' }, maxLimitRequestRatio: { cpu: '10' } }, BURSTABLE, /maxLimitRequestRatio cpu=10/],
    ['a default limit below our request', { default: { memory: '32Mi' } }, BURSTABLE, /default limit memory=32Mi is below our request 64Mi/],
  ])('%s → violation', (_name, item, ours, message) => {
    const fit = fitLimitRanges(ours, [limitRange({ type: 'Container', ...item })], ours === GUARANTEED ? guaranteedSpec : burstableSpec);
    expect(fit).toMatchObject({ kind: 'violation', message: expect.stringMatching(message) });
  });

  test('a ratio our resources satisfy is fine (Guaranteed: limit/request = 1)', () => {
    expect(fitLimitRanges(GUARANTEED, [limitRange({ type: 'Container', maxLimitRequestRatio: { cpu: '1', memory: '1' } })], guaranteedSpec)).toMatchObject({ kind: 'ok' });
  });

  test('a BestEffort pod stays BestEffort: cpu/memory defaults for our container are a violation', () => {
    const bestEffort = { containers: [{ name: 'compute' }] };
    expect(fitLimitRanges(undefined, [limitRange({ type: 'Container', defaultRequest: { cpu: '10m' } })], bestEffort)).toMatchObject({ kind: 'violation' });
    expect(fitLimitRanges(undefined, [limitRange({ type: 'Container', max: { 'ephemeral-storage': '1Gi' } })], bestEffort)).toEqual({
      kind: 'ok', resources: { requests: { 'ephemeral-storage': '1Gi' }, limits: { 'ephemeral-storage': '1Gi' } },
    });
  });
});

describe('podUsage (the quota evaluator\'s effective pod request/limit)', () => {
  const c = (cpu: string, extra: Json = {}): Json => ({ name: `c${cpu}`, resources: { requests: { cpu }, limits: { cpu } }, ...extra });
  test('containers and native sidecars summed; the largest plain init container (with the sidecars before it) if larger; overhead added', () => {
    expect(podUsage({ containers: [c('1'), c('500m')] }, 'requests', 'cpu')).toBe(1_500_000_000n);
    expect(podUsage({ containers: [c('1')], initContainers: [c('3')] }, 'requests', 'cpu')).toBe(3_000_000_000n);
    expect(podUsage({ containers: [c('1')], initContainers: [c('200m', { restartPolicy: 'Always' }), c('1')] }, 'requests', 'cpu')).toBe(1_200_000_000n);
    expect(podUsage({ containers: [c('1')], initContainers: [c('200m', { restartPolicy: 'Always' }), c('2')] }, 'limits', 'cpu')).toBe(2_200_000_000n);
    expect(podUsage({ containers: [c('1')], overhead: { cpu: '250m' } }, 'requests', 'cpu')).toBe(1_250_000_000n);
    expect(podUsage({ containers: [{ name: 'x', resources: { limits: { cpu: '2' } } }] }, 'requests', 'cpu')).toBe(2_000_000_000n);
  });
});

describe('quotaVerdict (ResourceQuota admission)', () => {
  const before = guaranteedSpec;
  const r = inject(pod('kv17-dedicated-cpu'), settings(), { mode: 'inject', hooks: ['cpu-dedicated'], sidecar: 'native' });
  if (r.kind !== 'patch') throw new Error('expected a patch');
  const after = (JSON.parse(JSON.stringify(before)) as Json);
  after.initContainers.push((r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value);
  const ours = [after.initContainers.at(-1) as Json];
  const cpu = podUsage(before, 'requests', 'cpu');

  test('sized exactly to the VM → refused; with room → fine; status.used counts', () => {
    const exact = `${cpu / 1_000_000n}m`;
    expect(quotaVerdict(before, after, [quota({ 'requests.cpu': exact })], ours)).toMatch(/requests.cpu would exceed hard/);
    expect(quotaVerdict(before, after, [quota({ cpu: exact })], ours)).toMatch(/cpu would exceed hard/);
    expect(quotaVerdict(before, after, [quota({ 'requests.cpu': '64' })], ours)).toBeUndefined();
    expect(quotaVerdict(before, after, [quota({ 'requests.cpu': '64' }, { 'requests.cpu': '60' })], ours)).toMatch(/used 60/);
    expect(quotaVerdict(before, after, [quota({ pods: '1', 'count/pods': '1' }, { pods: '1' })], ours)).toBeUndefined();
  });

  test('a quota that tracks limits.memory needs a memory limit on every container: a Burstable sidecar without one is refused', () => {
    const b = inject(pod('kv15-shared-cpu'), settings(), { mode: 'inject', hooks: ['cpu-dedicated'], sidecar: 'native' });
    if (b.kind !== 'patch') throw new Error('expected a patch');
    const server = (b.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect(quotaVerdict(burstableSpec, { ...burstableSpec, initContainers: [...burstableSpec.initContainers, server] }, [quota({ 'limits.memory': '100Gi' })], [server]))
      .toMatch(/tracks limits.memory, which our container premigration-hooks does not set/);
  });

  test('scopes: NotTerminating and NotBestEffort cover a launcher pod; Terminating, BestEffort and another PriorityClass do not', () => {
    expect(quotaCovers(quota({}, {}, { scopes: ['NotTerminating', 'NotBestEffort'] }), before)).toBe(true);
    expect(quotaCovers(quota({}, {}, { scopes: ['Terminating'] }), before)).toBe(false);
    expect(quotaCovers(quota({}, {}, { scopes: ['BestEffort'] }), before)).toBe(false);
    const pc = (operator: string, values: string[]): Json => quota({}, {}, { scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator, values }] } });
    expect(quotaCovers(pc('In', ['vm-critical']), { ...before, priorityClassName: 'vm-critical' })).toBe(true);
    expect(quotaCovers(pc('In', ['vm-critical']), before)).toBe(false);
    expect(quotaCovers(pc('NotIn', ['vm-critical']), before)).toBe(true);
    expect(quotaVerdict(before, after, [quota({ 'requests.cpu': '1m' }, {}, { scopes: ['Terminating'] })], ours)).toBeUndefined();
  });
});

describe('through admit(): skip reasons, never a refused pod', () => {
  const review = (object: Json, namespace = 'prod-db'): Json => ({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace, operation: 'CREATE', object },
  });
  const k130 = { apiserver: 'v1.30.2', kubelets: ['v1.30.2'] };

  test('quota-exceeded and limitrange-violation, with the first reason as message', () => {
    const tight = fixedCluster(k130, { quotas: [quota({ 'requests.memory': '8598Mi' })], limitRanges: [] });
    expect(admit(review(pod('kv17-dedicated-cpu')), { gate: GATE, settings: settings(), cluster: tight }).outcome)
      .toMatchObject({ result: 'skipped', reason: 'quota-exceeded', message: expect.stringMatching(/requests.memory would exceed/) });
    const floor = fixedCluster(k130, { quotas: [], limitRanges: [limitRange({ type: 'Container', min: { memory: '256Mi' } })] });
    expect(admit(review(pod('kv17-dedicated-cpu')), { gate: GATE, settings: settings(), cluster: floor }).outcome)
      .toMatchObject({ result: 'skipped', reason: 'limitrange-violation' });
  });

  test('a LimitRange of type Pod whose max the VM fits but the VM plus our sidecar does not → limitrange-violation', () => {
    const p = pod('kv17-dedicated-cpu');
    const limit = `${podUsage(p.spec, 'limits', 'memory') / 1_000_000_000n}`;
    const cap = fixedCluster(k130, { quotas: [], limitRanges: [limitRange({ type: 'Pod', max: { memory: limit } })] });
    expect(admit(review(p), { gate: GATE, settings: settings(), cluster: cap }).outcome)
      .toMatchObject({ result: 'skipped', reason: 'limitrange-violation', message: expect.stringMatching(/Pod max memory=/) });
    const roomy = fixedCluster(k130, { quotas: [], limitRanges: [limitRange({ type: 'Pod', max: { memory: '64Gi', cpu: '64' } })] });
    expect(admit(review(p), { gate: GATE, settings: settings(), cluster: roomy }).outcome).toMatchObject({ result: 'injected' });
  });

  test('namespace limits not known (checks off or not listed yet): injected as before', () => {
    expect(admit(review(pod('kv17-dedicated-cpu')), { gate: GATE, settings: settings(), cluster: fixedCluster(k130) }).outcome)
      .toMatchObject({ result: 'injected', sidecar: 'native', hooks: ['cpu-dedicated'] });
  });

  test('classic shape: both our containers carry the defaulted resources', () => {
    const lr = fixedCluster({ apiserver: 'v1.28.3', kubelets: ['v1.28.3'] }, { quotas: [], limitRanges: [limitRange({ type: 'Container', default: { cpu: '200m', memory: '256Mi' } })] });
    const { review: out, outcome } = admit(review(pod('kv15-shared-cpu')), { gate: GATE, settings: settings(['--inject-policy', 'always', '--sidecar-mode', 'auto']), cluster: lr });
    expect(outcome).toMatchObject({ result: 'injected', sidecar: 'classic' });
    const patch = JSON.parse(Buffer.from(out.response.patch as string, 'base64').toString('utf8')) as Json[];
    const ours = patch.filter((op) => /ontainers\/-$/.test(op.path as string) && !/volumeMounts/.test(op.path as string)).map((op) => op.value.resources);
    expect(ours).toEqual([
      { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '256Mi' } },
      { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '256Mi' } },
    ]);
  });
});

describe('verify-patch refuses what the apiserver would refuse: probes on a non-restartable init container', () => {
  test.each(['startupProbe', 'readinessProbe', 'livenessProbe', 'lifecycle'])('%s', (field) => {
    expect(initContainerProblem([{ name: 'a' }, { name: 'b', [field]: {} }]))
      .toBe(`spec.initContainers[1].${field}: may not be set for init containers without restartPolicy=Always`);
    expect(initContainerProblem([{ name: 'b', restartPolicy: 'Always', [field]: {} }])).toBeUndefined();
  });

  test('a native-shaped patch whose restartPolicy got lost is not sent', () => {
    const p = pod('kv17-dedicated-cpu');
    const r = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'], sidecar: 'native' });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    const broken = (JSON.parse(JSON.stringify(r.patch)) as Json[]).map((op) => {
      if (op.path === '/spec/initContainers/-') delete op.value.restartPolicy;
      return op;
    });
    expect(verifyPatch(p, broken as never, { volume: r.volume, containers: r.containers })).toMatch(/startupProbe: may not be set for init containers without restartPolicy=Always/);
  });
});
