/**
 * validate() as a pure function on the pod as stored: every golden injection passes; pods
 * mutated "by someone else" after our patch are caught under warn (allowed + warnings) and
 * deny (rejected with one clear message); pods never injected are allowed silently; an
 * internal fault is allowed with a warning.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMarker } from '../../src/webhook/admission/marker.js';
import { INJECTED_ANNOTATION } from '../../src/webhook/admission/names.js';
import { qosClass } from '../../src/core/pod/qos.js';
import { validate, type ValidatePolicy } from '../../src/webhook/admission/validate.js';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';
import { fixturePod, injectedPod, mutations, podReview, type Json } from '../support/injected-pods.js';

const run = (pod: unknown, policy: ValidatePolicy = 'warn', request: Json = {}) => validate(podReview(pod, request), { policy });
const checks = (pod: unknown): string[] => run(pod).outcome.violations.map((v) => v.check);

describe('the pod as our patch left it passes', () => {
  const GOLDEN = join(process.cwd(), 'test/golden/webhook');
  // Cases the webhook does not inject (expected patch []) have no patched pod to validate.
  const cases = readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'expected-patch.json'))
    && readFileSync(join(GOLDEN, d, 'expected-patch.json'), 'utf8').trim() !== '[]');

  test('some golden cases are injected', () => {
    expect(cases.length).toBeGreaterThan(5);
  });

  test.each(cases)('golden %s: patched pod is intact, and the marker records the pre-patch QoS', (name) => {
    const review = JSON.parse(readFileSync(join(GOLDEN, name, 'review.json'), 'utf8')) as Json;
    const patch = JSON.parse(readFileSync(join(GOLDEN, name, 'expected-patch.json'), 'utf8')) as Json[];
    const pod = review.request.object as Json;
    const patched = applyPatchChecked(pod, patch as never) as Json;
    const marker = parseMarker(patched.metadata.annotations[INJECTED_ANNOTATION]);
    expect(marker?.qos).toBe(qosClass(pod.spec));
    const { review: out, outcome } = run(patched, 'deny');
    expect(outcome).toMatchObject({ result: 'ok', violations: [], denied: false });
    expect(out.response).toEqual({ uid: 'c0ffee00-0000-4000-8000-000000000007', allowed: true });
  });
});

describe('mutated by someone else after our patch', () => {
  test('sidecar removed → sidecar-missing (the marker still says native)', () => {
    expect(checks(mutations.removeSidecar(injectedPod('kv17-dedicated-cpu')))).toEqual(['sidecar-missing']);
  });

  test('restartPolicy dropped → sidecar-restart-policy (and the sidecar digest still matches)', () => {
    expect(checks(mutations.dropRestartPolicy(injectedPod('kv17-dedicated-cpu')))).toEqual(['sidecar-restart-policy']);
  });

  test('a Burstable container added to a Guaranteed pod → qos-changed', () => {
    const { outcome } = run(mutations.addBurstableContainer(injectedPod('kv17-dedicated-cpu')));
    expect(outcome.violations).toEqual([{ check: 'qos-changed', message: 'pod QoS is Burstable, was Guaranteed before injection' }]);
  });

  test('the same container added to an already Burstable pod is no violation', () => {
    expect(checks(mutations.addBurstableContainer(injectedPod('kv15-shared-cpu')))).toEqual([]);
  });

  test('compute\'s qemu.d mount removed → mount-missing', () => {
    const { outcome } = run(mutations.removeHooksMount(injectedPod('kv110-dedicated-cpu')));
    expect(outcome.violations).toEqual([{ check: 'mount-missing', message: 'compute no longer mounts /etc/libvirt/hooks/qemu.d' }]);
  });

  test('socket directory mount removed, volume removed', () => {
    const pod = injectedPod('kv17-dedicated-cpu');
    const compute = pod.spec.containers[0] as Json;
    compute.volumeMounts = (compute.volumeMounts as Json[]).filter((m) => m.mountPath !== '/var/run/premigration-hooks');
    expect(checks(pod)).toEqual(['mount-missing']);
    pod.spec.volumes = (pod.spec.volumes as Json[]).filter((v) => v.name !== 'premigration-hooks');
    expect(checks(pod)).toEqual(['volume-missing', 'mount-missing']);
  });

  test('image or args changed → sidecar-changed; --hooks edited → also marker-mismatch', () => {
    const pod = injectedPod('kv17-dedicated-cpu');
    const server = (pod.spec.initContainers as Json[]).find((c) => c.name === 'premigration-hooks') as Json;
    server.image = 'registry.example.com/premigration-hooks:evil';
    expect(checks(pod)).toEqual(['sidecar-changed']);
    const again = injectedPod('kv17-dedicated-cpu');
    const args = ((again.spec.initContainers as Json[]).find((c) => c.name === 'premigration-hooks') as Json).args as string[];
    args[args.indexOf('--hooks') + 1] = 'cpu-dedicated';
    expect(checks(again)).toEqual(['sidecar-changed', 'marker-mismatch']);
  });

  test('a suffixed name (VMI volume named like ours) is found through the marker', () => {
    const pod = injectedPod('kv17-volume-named-like-ours');
    expect(checks(pod)).toEqual([]);
    // The VMI's own volume called premigration-hooks stays; ours (suffixed) is the one missing.
    pod.spec.volumes = (pod.spec.volumes as Json[]).filter((v) => v.name !== 'premigration-hooks-1');
    expect(checks(pod)).toEqual(['volume-missing']);
  });

  test('marker removed while our container stays → marker-missing; marker mangled → marker-invalid', () => {
    const pod = injectedPod('kv17-dedicated-cpu');
    delete pod.metadata.annotations[INJECTED_ANNOTATION];
    expect(checks(pod)).toEqual(['marker-missing']);
    const other = injectedPod('kv17-dedicated-cpu');
    other.metadata.annotations[INJECTED_ANNOTATION] = '{"version":';
    expect(checks(other)).toEqual(['marker-invalid']);
  });

  describe('classic sidecar mode', () => {
    const classic = (): Json => injectedPod('kv17-dedicated-cpu', {}, ['--sidecar-mode', 'classic']);

    test('intact: no restartPolicy needed', () => {
      expect(checks(classic())).toEqual([]);
    });

    test('sidecar container removed → sidecar-missing', () => {
      const pod = classic();
      pod.spec.containers = (pod.spec.containers as Json[]).filter((c) => c.name !== 'premigration-hooks');
      expect(checks(pod)).toEqual(['sidecar-missing']);
    });

    const install = (pod: Json): Json => (pod.spec.initContainers as Json[]).find((c) => c.name === 'premigration-hooks-install') as Json;

    test('install init container removed → sidecar-missing, named', () => {
      const pod = classic();
      pod.spec.initContainers = (pod.spec.initContainers as Json[]).filter((c) => c.name !== 'premigration-hooks-install');
      expect(run(pod).outcome.violations).toEqual([{ check: 'sidecar-missing', message: 'install init container premigration-hooks-install was removed' }]);
    });

    test('install init container\'s image or args changed → sidecar-changed; its --hooks edited → also marker-mismatch', () => {
      const pod = classic();
      install(pod).image = 'registry.example.com/premigration-hooks:evil';
      expect(checks(pod)).toEqual(['sidecar-changed']);
      const dropped = classic();
      install(dropped).args = (install(dropped).args as string[]).filter((a) => a !== '--install-only');
      expect(checks(dropped)).toEqual(['sidecar-changed']);
      const hooks = classic();
      const args = install(hooks).args as string[];
      args[args.indexOf('--hooks') + 1] = 'cpu-dedicated';
      expect(checks(hooks)).toEqual(['sidecar-changed', 'marker-mismatch']);
    });

    test('install init container moved into containers → marker-mismatch', () => {
      const pod = classic();
      const moved = install(pod);
      pod.spec.initContainers = (pod.spec.initContainers as Json[]).filter((c) => c !== moved);
      pod.spec.containers = [...(pod.spec.containers as Json[]), moved];
      expect(checks(pod)).toEqual(['marker-mismatch']);
    });

    test('a classic marker written before the install container existed is not asked for one', () => {
      const pod = classic();
      pod.spec.initContainers = (pod.spec.initContainers as Json[]).filter((c) => c.name !== 'premigration-hooks-install');
      const { install: _name, installDigest: _digest, ...older } = JSON.parse(pod.metadata.annotations[INJECTED_ANNOTATION] as string) as Json;
      pod.metadata.annotations[INJECTED_ANNOTATION] = JSON.stringify(older);
      expect(checks(pod)).toEqual([]);
    });

    test('moved into initContainers → marker-mismatch', () => {
      const pod = classic();
      const server = (pod.spec.containers as Json[]).find((c) => c.name === 'premigration-hooks') as Json;
      pod.spec.containers = (pod.spec.containers as Json[]).filter((c) => c !== server);
      pod.spec.initContainers = [...((pod.spec.initContainers as Json[] | undefined) ?? []), server];
      expect(checks(pod)).toEqual(['marker-mismatch']);
    });
  });
});

describe('policy', () => {
  test('warn (default): allowed, one admission warning per violation, each ≤ 120 characters', () => {
    const pod = mutations.removeHooksMount(mutations.addBurstableContainer(injectedPod('kv17-dedicated-cpu')));
    const { review, outcome } = run(pod, 'warn');
    expect(review.response.allowed).toBe(true);
    expect(review.response.status).toBeUndefined();
    expect(review.response.warnings).toEqual([
      'premigration-hooks: compute no longer mounts /etc/libvirt/hooks/qemu.d',
      'premigration-hooks: pod QoS is Burstable, was Guaranteed before injection',
    ]);
    for (const w of review.response.warnings ?? []) expect(w.length).toBeLessThanOrEqual(120);
    expect(outcome).toMatchObject({ result: 'violation', denied: false });
  });

  test('deny: rejected with one clear message that names every violation', () => {
    const { review, outcome } = run(mutations.removeSidecar(injectedPod('kv17-dedicated-cpu')), 'deny');
    expect(review.response.allowed).toBe(false);
    expect(review.response.warnings).toBeUndefined();
    expect(review.response.status?.code).toBe(403);
    expect(review.response.status?.message).toContain('hook server container premigration-hooks was removed');
    expect(review.response.status?.message).toContain('--validate-policy=deny');
    expect(outcome).toMatchObject({ result: 'violation', denied: true });
  });

  test('dry runs get the same answer and are marked', () => {
    const { review, outcome } = run(mutations.removeSidecar(injectedPod('kv17-dedicated-cpu')), 'deny', { dryRun: true });
    expect(review.response.allowed).toBe(false);
    expect(outcome.dryRun).toBe(true);
  });
});

describe('allowed silently', () => {
  test.each(['kv17-dedicated-cpu', 'kv17-launcher-not-target', 'kv17-hotplug-attachment', 'kv17-opted-out'])('never injected: %s', (name) => {
    const { review, outcome } = run(fixturePod(name), 'deny');
    expect(review.response).toEqual({ uid: 'c0ffee00-0000-4000-8000-000000000007', allowed: true });
    expect(outcome).toMatchObject({ result: 'skipped', reason: 'not-injected' });
  });

  test('non-pod kinds and non-CREATE operations', () => {
    const pod = mutations.removeSidecar(injectedPod('kv17-dedicated-cpu'));
    expect(run(pod, 'deny', { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }).outcome.reason).toBe('not-pod');
    expect(run(pod, 'deny', { operation: 'UPDATE' }).outcome.reason).toBe('not-create');
    expect(run(pod, 'deny', { operation: 'UPDATE' }).review.response.allowed).toBe(true);
  });

  test('the apiVersion and kind of the request are echoed', () => {
    const body = { ...podReview(fixturePod('kv17-dedicated-cpu')), apiVersion: 'admission.k8s.io/v1beta1' };
    expect(validate(body, { policy: 'deny' }).review).toMatchObject({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview' });
  });
});

describe('never throws', () => {
  test.each([null, 42, 'x', [], {}, { request: 'nope' }])('garbage body %p → allowed', (body) => {
    const { review, outcome } = validate(body, { policy: 'deny' });
    expect(review.response.allowed).toBe(true);
    expect(outcome.result).toBe('error');
  });

  test('an internal fault (a getter that throws mid-decision) → allowed with a warning, even under deny', () => {
    const request = podReview(injectedPod('kv17-dedicated-cpu')).request as Json;
    Object.defineProperty(request, 'object', { get: () => { throw new Error('boom'); }, enumerable: true });
    const { review, outcome } = validate({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, { policy: 'deny' });
    expect(review.response.allowed).toBe(true);
    expect(review.response.uid).toBe('c0ffee00-0000-4000-8000-000000000007');
    expect(review.response.warnings).toEqual(['premigration-hooks: validation skipped after an internal error']);
    expect(outcome).toMatchObject({ result: 'error', reason: 'internal', message: 'boom', denied: false });
  });
});
