import { DEFAULT_HOOKS, REGISTRY } from '../../src/core/hooks/registry.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  classifyTargetPod, creationTime, injectionExpected, judgeableAt, ModeTimeline, slimPod, TARGET_POD_SELECTOR,
} from '../../src/webhook/watch/escaped.js';
import { INJECTED_ANNOTATION, INJECT_ANNOTATION } from '../../src/webhook/admission/names.js';

type Json = Record<string, unknown>;
const T0 = Date.parse('2026-11-29T10:00:00Z');
const HOOKS = [...DEFAULT_HOOKS];

function targetPod(createdMs: number, annotations: Record<string, string> = {}): Json {
  return {
    metadata: {
      name: 'virt-launcher-vm1-abcde',
      namespace: 'vms',
      uid: 'uid-1',
      creationTimestamp: new Date(createdMs).toISOString().replace(/\.\d+Z$/, 'Z'),
      labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'job-1' },
      annotations,
    },
  };
}

/** The built-ins plus one site hook that upstream has no equivalent of (test data, not shipped). */
const WITH_SITE_HOOK = REGISTRY.with([{ name: 'site:tuning', description: 'a site hook for tests', source: 'site', defaultEnabled: false, upstream: { level: 'none', reason: 'test data' }, appliesTo: () => true }]);

describe('ModeTimeline', () => {
  test('nothing is known before the first record; a window reports every mode it overlaps', () => {
    const t = new ModeTimeline();
    expect(t.modesDuring(T0, T0 + 1)).toBeUndefined();
    t.record('off', T0);
    t.record('inject', T0 + 60_000);
    t.record('inject', T0 + 70_000); // no change: no new entry
    t.record('coexist', T0 + 120_000);
    expect(t.modesDuring(T0 - 1, T0 + 10)).toBeUndefined();
    expect([...(t.modesDuring(T0, T0 + 10) ?? [])]).toEqual(['off']);
    expect([...(t.modesDuring(T0 + 61_000, T0 + 119_000) ?? [])]).toEqual(['inject']);
    expect([...(t.modesDuring(T0 + 59_000, T0 + 61_000) ?? [])].sort()).toEqual(['inject', 'off']);
    expect([...(t.modesDuring(T0 + 200_000, T0 + 300_000) ?? [])]).toEqual(['coexist']);
  });

  test('bounded: forgetting the oldest change makes what it covered unknown', () => {
    const t = new ModeTimeline(2);
    t.record('off', T0);
    t.record('inject', T0 + 10_000);
    t.record('off', T0 + 20_000);
    expect(t.modesDuring(T0 + 1000, T0 + 2000)).toBeUndefined();
    expect([...(t.modesDuring(T0 + 11_000, T0 + 12_000) ?? [])]).toEqual(['inject']);
  });

  test('a clock stepping back does not reorder history', () => {
    const t = new ModeTimeline();
    t.record('inject', T0);
    t.record('off', T0 - 5000);
    expect(t.modesDuring(T0 - 1000, T0 - 500)).toBeUndefined();
    expect([...(t.modesDuring(T0 + 1, T0 + 2) ?? [])]).toEqual(['off']);
  });
});

describe('injectionExpected mirrors admit(): the mode, what upstream leaves to us, and what applies to the pod', () => {
  test.each([
    ['inject', HOOKS, true],
    ['coexist', HOOKS, true], // upstream does both only in part
    ['coexist', [...HOOKS, 'site:tuning'], true],
    ['off', HOOKS, false],
  ] as const)('%s with %j → %s', (mode, hooks, expected) => {
    expect(injectionExpected(mode, hooks, WITH_SITE_HOOK)).toBe(expected);
  });
  test('coexist with cpu-dedicated trusted to upstream and only cpu-dedicated configured → false', () => {
    expect(injectionExpected('coexist', ['cpu-dedicated'], REGISTRY, undefined, { trustUpstream: ['cpu-dedicated'] })).toBe(false);
  });
  test('needed: only when a mode hook applies to the pod; always: regardless', () => {
    expect(injectionExpected('inject', HOOKS, REGISTRY, [])).toBe(false);
    expect(injectionExpected('inject', HOOKS, REGISTRY, ['disk-namespace'])).toBe(true);
    expect(injectionExpected('inject', HOOKS, REGISTRY, [], { injectPolicy: 'always' })).toBe(true);
  });
});

describe('classifyTargetPod', () => {
  const injecting = (): ModeTimeline => {
    const t = new ModeTimeline();
    t.record('inject', T0);
    return t;
  };
  const at = (created: number, timeline: ModeTimeline, extra: Partial<Parameters<typeof classifyTargetPod>[1]> = {}) =>
    (pod: Json) => classifyTargetPod(pod, { timeline, hooks: HOOKS, skewMs: 5000, now: created + 60_000, ...extra });

  test('a pod created while injecting, without our marker, escaped', () => {
    const created = T0 + 600_000;
    expect(at(created, injecting())(targetPod(created))).toBe('escaped');
  });

  test('our marker → injected; the opt-out annotation → opted-out, whatever the mode', () => {
    const created = T0 + 600_000;
    expect(at(created, injecting())(targetPod(created, { [INJECTED_ANNOTATION]: '{"version":"0.1.0"}' }))).toBe('injected');
    expect(at(created, injecting())(targetPod(created, { [INJECT_ANNOTATION]: 'false' }))).toBe('opted-out');
  });

  test('created while off (or coexist with nothing to add) → not-expected', () => {
    const t = new ModeTimeline();
    t.record('off', T0);
    t.record('coexist', T0 + 100_000);
    expect(at(T0 + 50_000, t)(targetPod(T0 + 50_000))).toBe('not-expected');
    const nothingToAdd = { hooks: ['cpu-dedicated'], expectation: { trustUpstream: ['cpu-dedicated'] } };
    expect(at(T0 + 200_000, t, nothingToAdd)(targetPod(T0 + 200_000))).toBe('not-expected');
    expect(at(T0 + 200_000, t, { hooks: [...HOOKS, 'site:tuning'], registry: WITH_SITE_HOOK })(targetPod(T0 + 200_000))).toBe('escaped');
  });

  test('inject by need: a slimmed target no hook applies to was not expected; a dedicated-CPU one escaped', () => {
    const created = T0 + 600_000;
    const fixture = (name: string): Json => {
      const p = JSON.parse(readFileSync(path.join(process.cwd(), 'test/fixtures/pods', `${name}.json`), 'utf8')) as Json;
      p.metadata = { ...(p.metadata as Json), ...(targetPod(created).metadata as Json) };
      return p;
    };
    expect(at(created, injecting())(slimPod(fixture('kv15-shared-cpu') as never))).toBe('not-expected');
    expect(at(created, injecting())(slimPod(fixture('kv17-dedicated-cpu') as never))).toBe('escaped');
    expect(at(created, injecting(), { expectation: { injectPolicy: 'always' } })(slimPod(fixture('kv15-shared-cpu') as never))).toBe('escaped');
  });

  test('a mode change within the window (skew and second resolution included) → unknown, never escaped', () => {
    const t = new ModeTimeline();
    t.record('off', T0);
    t.record('inject', T0 + 100_000);
    // Created 3 s after the gate went on: within the 5 s skew, the replica may still have been off.
    expect(at(T0 + 103_000, t)(targetPod(T0 + 103_000))).toBe('unknown');
    expect(at(T0 + 110_000, t)(targetPod(T0 + 110_000))).toBe('escaped');
  });

  test('a pod older than what this process knows, or with no readable creationTimestamp → unknown', () => {
    const t = injecting();
    expect(at(T0 - 60_000, t)(targetPod(T0 - 60_000))).toBe('unknown');
    const broken = targetPod(T0 + 600_000);
    (broken.metadata as Json).creationTimestamp = 'yesterday';
    expect(at(T0 + 600_000, t)(broken)).toBe('unknown');
  });

  test('pending until the window has closed', () => {
    const created = T0 + 600_000;
    const pod = targetPod(created);
    expect(classifyTargetPod(pod, { timeline: injecting(), hooks: HOOKS, skewMs: 5000, now: created + 2000 })).toBe('pending');
    expect(classifyTargetPod(pod, { timeline: injecting(), hooks: HOOKS, skewMs: 5000, now: judgeableAt(created, 5000) })).toBe('escaped');
  });

  test('pods the webhook never selects are not targets (hotplug attachment, plain launcher)', () => {
    const root = path.join(process.cwd(), 'test', 'fixtures', 'pods');
    for (const name of ['kv17-hotplug-attachment', 'kv17-launcher-not-target']) {
      const pod = JSON.parse(readFileSync(path.join(root, `${name}.json`), 'utf8')) as Json;
      expect([name, at(T0 + 600_000, injecting())(pod)]).toEqual([name, 'not-target']);
    }
  });
});

describe('slimPod keeps what the judgement reads, and nothing of the spec', () => {
  test('identity, resourceVersion, creation time, selector labels and our annotations survive', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        ...(targetPod(T0, { [INJECTED_ANNOTATION]: 'x', 'kubevirt.io/domain': 'vm1' }).metadata as Json),
        resourceVersion: '42',
        managedFields: [{ manager: 'virt-controller' }],
      },
      spec: { containers: [{ name: 'compute', image: 'virt-launcher' }] },
    };
    const slim = slimPod(pod) as unknown as Json;
    expect(slim).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'virt-launcher-vm1-abcde',
        namespace: 'vms',
        uid: 'uid-1',
        resourceVersion: '42',
        creationTimestamp: '2026-11-29T10:00:00Z',
        labels: { 'kubevirt.io': 'virt-launcher', 'kubevirt.io/migrationJobUID': 'job-1' },
        annotations: { [INJECTED_ANNOTATION]: 'x' },
      },
      // Judged while the spec was at hand: this pod has no dedicated CPUs and is not decentralized.
      premigrationHooksApplicable: [],
      // Our hook server's restart count (hook misses); 0 here: no parsable marker.
      status: { premigrationHooksServerRestarts: 0 },
    });
    expect(creationTime(slim)).toBe(T0);
    expect(creationTime({ metadata: { creationTimestamp: new Date(T0) } })).toBe(T0);
  });

  test('the watch selects exactly what the MutatingWebhookConfiguration selects', () => {
    expect(TARGET_POD_SELECTOR).toBe('kubevirt.io=virt-launcher,kubevirt.io/migrationJobUID');
  });
});
