/**
 * The registry's appliesTo rules, read from KubeVirt-rendered pods (test/fixtures/pods): the
 * dedicated-CPU shape and the decentralized-target annotation (src/core/pod/kubevirt.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGISTRY } from '../../src/core/hooks/registry.js';
import {
  hasDedicatedCpuShape, hasIntegerExclusiveCpu, isDecentralizedTarget, requiresCpuManagerNode,
} from '../../src/core/pod/kubevirt.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const pod = (name: string): Json => JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/pods', `${name}.json`), 'utf8')) as Json;
const applies = (p: Json): string[] => REGISTRY.applicable(p, REGISTRY.names());

describe('cpu-dedicated applies only to the dedicated-CPU shape', () => {
  test.each(['kv17-dedicated-cpu', 'kv110-dedicated-cpu'])('%s (KubeVirt-rendered dedicated CPUs) → cpu-dedicated', (name) => {
    expect(hasDedicatedCpuShape(pod(name))).toBe(true);
    expect(applies(pod(name))).toEqual(['cpu-dedicated']);
  });

  test.each(['kv15-shared-cpu', 'kv15-no-init-containers', 'kv17-hook-sidecars', 'kv17-root-mode'])('%s (shared CPUs) → nothing', (name) => {
    expect(applies(pod(name))).toEqual([]);
  });

  test('the current label key and the older one, in nodeSelector or in every required affinity term', () => {
    const spec = (extra: Json): Json => ({ ...extra });
    expect(requiresCpuManagerNode(spec({ nodeSelector: { 'kubevirt.io/cpumanager': 'true' } }))).toBe(true);
    expect(requiresCpuManagerNode(spec({ nodeSelector: { cpumanager: 'true' } }))).toBe(true);
    expect(requiresCpuManagerNode(spec({ nodeSelector: { cpumanager: 'false' } }))).toBe(false);
    const term = (key: string, operator = 'In', values = ['true']): Json => ({ matchExpressions: [{ key, operator, values }] });
    const affinity = (...terms: Json[]): Json => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
    expect(requiresCpuManagerNode(affinity(term('kubevirt.io/cpumanager')))).toBe(true);
    expect(requiresCpuManagerNode(affinity(term('kubevirt.io/cpumanager'), term('cpumanager')))).toBe(true);
    // Terms are ORed: one term without the label lets the pod land anywhere.
    expect(requiresCpuManagerNode(affinity(term('kubevirt.io/cpumanager'), term('kubernetes.io/hostname', 'In', ['n1'])))).toBe(false);
    expect(requiresCpuManagerNode(affinity(term('kubevirt.io/cpumanager', 'In', ['true', 'false'])))).toBe(false);
    expect(requiresCpuManagerNode(affinity(term('kubevirt.io/cpumanager', 'NotIn')))).toBe(false);
    expect(requiresCpuManagerNode(affinity())).toBe(false);
  });

  test('compute CPU: request == limit == whole CPUs (a missing request counts as the limit)', () => {
    const c = (requests: Json | undefined, limits: Json | undefined): Json => ({ name: 'compute', resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) } });
    expect(hasIntegerExclusiveCpu(c({ cpu: '4' }, { cpu: '4' }))).toBe(true);
    expect(hasIntegerExclusiveCpu(c({ cpu: '4000m' }, { cpu: '4' }))).toBe(true);
    expect(hasIntegerExclusiveCpu(c(undefined, { cpu: '2' }))).toBe(true);
    expect(hasIntegerExclusiveCpu(c({ cpu: '1500m' }, { cpu: '1500m' }))).toBe(false);
    expect(hasIntegerExclusiveCpu(c({ cpu: '2' }, { cpu: '4' }))).toBe(false);
    expect(hasIntegerExclusiveCpu(c({ cpu: '100m' }, undefined))).toBe(false);
    expect(hasIntegerExclusiveCpu(c({ cpu: '0' }, { cpu: '0' }))).toBe(false);
    expect(hasIntegerExclusiveCpu(undefined)).toBe(false);
  });

  test('the label alone is not proof: shared CPUs with cpumanager=true → nothing', () => {
    const p = pod('kv15-shared-cpu');
    p.spec.nodeSelector['kubevirt.io/cpumanager'] = 'true';
    expect(applies(p)).toEqual([]);
  });

  test('Guaranteed with whole CPUs but no cpumanager selector → nothing', () => {
    const p = pod('kv17-dedicated-cpu');
    delete p.spec.nodeSelector.cpumanager;
    expect(applies(p)).toEqual([]);
  });

  test('a Burstable pod (some container without limits) with the compute shape → nothing', () => {
    const p = pod('kv17-dedicated-cpu');
    p.spec.containers.push({ name: 'extra', image: 'x', resources: { requests: { cpu: '10m' } } });
    expect(applies(p)).toEqual([]);
  });
});

describe('disk-namespace applies only to decentralized targets', () => {
  test('the annotation kubevirt.io/create-migration-target: "true", copied from the receiver VMI', () => {
    const p = pod('kv15-shared-cpu');
    expect(isDecentralizedTarget(p)).toBe(false);
    p.metadata.annotations['kubevirt.io/create-migration-target'] = 'true';
    expect(applies(p)).toEqual(['disk-namespace']);
    p.metadata.annotations['kubevirt.io/create-migration-target'] = 'false';
    expect(applies(p)).toEqual([]);
    const d = pod('kv110-dedicated-cpu');
    d.metadata.annotations['kubevirt.io/create-migration-target'] = 'true';
    expect(applies(d)).toEqual(['cpu-dedicated', 'disk-namespace']);
  });

  test('rules are total: odd pods apply nothing and never throw', () => {
    for (const odd of [{}, { metadata: null, spec: null }, { spec: { containers: 'x' } }, { metadata: { annotations: [] } }]) {
      expect(applies(odd as Json)).toEqual([]);
    }
  });
});
