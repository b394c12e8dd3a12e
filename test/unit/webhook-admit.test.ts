import { REGISTRY } from '../../src/core/hooks/registry.js';
/**
 * admit() and inject() as pure functions: the skip rules, coexist mode, patch construction
 * against odd-but-valid pods, and the promise to never throw and never deny.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { admit, type AdmitState } from '../../src/webhook/admission/admit.js';
import { escapePointer, freeName, inject } from '../../src/webhook/admission/inject.js';
import { INJECTED_ANNOTATION, INJECT_ANNOTATION } from '../../src/webhook/admission/names.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import type { InjectSettings } from '../../src/webhook/admission/types.js';
import { applyPatchChecked, verifyPatch } from '../../src/webhook/admission/verify-patch.js';
import type { GateState } from '../../src/webhook/admission/types.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PODS = join(process.cwd(), 'test/fixtures/pods');
const pod = (name: string): Json => JSON.parse(readFileSync(join(PODS, `${name}.json`), 'utf8')) as Json;
/** Patch-shape tests: every target injected (the need rule has its own tests below), native sidecars. */
const settings = (extra: string[] = []): InjectSettings =>
  parseWebhookSettings(['--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0', '--inject-policy', 'always', '--sidecar-mode', 'native', ...extra]).inject;
const INJECT: GateState = { mode: 'inject', gateEnabled: true, kubevirtVersion: 'v1.7.1', reason: 'test' };
const state = (gate: Partial<GateState> = {}, s = settings()): AdmitState => ({ gate: { ...INJECT, ...gate }, settings: s });

function review(object: unknown, request: Json = {}): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b6a3e0c4-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'vms',
      operation: 'CREATE',
      object,
      oldObject: null,
      dryRun: false,
      ...request,
    },
  };
}

function patchOf(body: Json): Json[] {
  return JSON.parse(Buffer.from(body.response.patch as string, 'base64').toString('utf8')) as Json[];
}

/** The built-ins plus one site hook that upstream has no equivalent of (test data, not shipped). */
const WITH_SITE_HOOK = REGISTRY.with([{ name: 'site:tuning', description: 'a site hook for tests', source: 'site', defaultEnabled: false, upstream: { level: 'none', reason: 'test data' }, appliesTo: () => true }]);

describe('must skip (allowed, no patch)', () => {
  const cases: [string, Json, Partial<GateState>, string][] = [
    ['a normal launcher pod (VM start, not a migration target)', pod('kv17-launcher-not-target'), {}, 'not-migration-target'],
    ['a hotplug attachment pod (carries the migration label)', pod('kv17-hotplug-attachment'), {}, 'hotplug-pod'],
    ['an opted-out pod (annotation copied from the VMI)', pod('kv17-opted-out'), {}, 'opted-out'],
    ['any target when the mode is off', pod('kv17-dedicated-cpu'), { mode: 'off', gateEnabled: false }, 'mode-off'],
    ['a pod that is not KubeVirt at all', { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'web' }] } }, {}, 'not-launcher'],
  ];
  test.each(cases)('%s', (_name, object, gate, reason) => {
    const { review: out, outcome } = admit(review(object), state(gate));
    expect(out.response).toEqual({ uid: 'b6a3e0c4-0000-4000-8000-000000000001', allowed: true });
    expect(outcome).toMatchObject({ result: 'skipped', reason });
  });

  test('an already injected pod, whatever the marker says', () => {
    const p = pod('kv17-dedicated-cpu');
    p.metadata.annotations[INJECTED_ANNOTATION] = '{"version":"0.0.9"}';
    expect(admit(review(p), state()).outcome).toMatchObject({ result: 'skipped', reason: 'already-injected' });
  });

  test('opt-out is case-insensitive and only "false" opts out', () => {
    const p = pod('kv17-dedicated-cpu');
    p.metadata.annotations[INJECT_ANNOTATION] = 'False';
    expect(admit(review(p), state()).outcome.reason).toBe('opted-out');
    p.metadata.annotations[INJECT_ANNOTATION] = 'true';
    expect(admit(review(p), state()).outcome.result).toBe('injected');
  });
});

describe('must survive (allowed, valid AdmissionReview)', () => {
  test('non-Pod kinds and pod subresources are skipped', () => {
    const svc = review({ kind: 'Service' }, { kind: { group: '', version: 'v1', kind: 'Service' } });
    expect(admit(svc, state()).outcome).toMatchObject({ result: 'skipped', reason: 'not-pod' });
    const binding = review(pod('kv17-dedicated-cpu'), { subResource: 'binding' });
    expect(admit(binding, state()).outcome.reason).toBe('not-pod');
    const vmi = review({}, { kind: { group: 'kubevirt.io', version: 'v1', kind: 'Pod' } });
    expect(admit(vmi, state()).outcome.reason).toBe('not-pod');
  });

  test('UPDATE of a target pod is skipped without a patch', () => {
    const p = pod('kv17-dedicated-cpu');
    const { review: out, outcome } = admit(review(p, { operation: 'UPDATE', oldObject: p }), state());
    expect(out.response.patch).toBeUndefined();
    expect(outcome).toMatchObject({ result: 'skipped', reason: 'not-create' });
  });

  test('a wrong apiVersion is echoed back, allowed, and counted as an error', () => {
    const r: Json = { ...review(pod('kv17-dedicated-cpu')), apiVersion: 'admission.k8s.io/v2alpha9' };
    const { review: out, outcome } = admit(r, state());
    expect(out).toEqual({ apiVersion: 'admission.k8s.io/v2alpha9', kind: 'AdmissionReview', response: { uid: r.request.uid, allowed: true } });
    expect(outcome).toMatchObject({ result: 'error', reason: 'bad-review' });
  });

  test('v1beta1 is answered in v1beta1 and injected', () => {
    const r = { ...review(pod('kv17-dedicated-cpu')), apiVersion: 'admission.k8s.io/v1beta1' };
    const { review: out, outcome } = admit(r, state());
    expect(out.apiVersion).toBe('admission.k8s.io/v1beta1');
    expect(outcome.result).toBe('injected');
  });

  test.each([
    ['a missing request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    ['a request that is a string', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: 'x' }],
    ['a JSON array', [1, 2, 3]],
    ['null', null],
  ])('%s → allowed with an empty uid', (_name, body) => {
    const { review: out, outcome } = admit(body, state());
    expect(out.response).toEqual({ uid: '', allowed: true });
    expect(out.kind).toBe('AdmissionReview');
    expect(outcome).toMatchObject({ result: 'error', reason: 'bad-review' });
  });

  test('a pod without spec, or with compute not first, is skipped', () => {
    expect(admit(review({ metadata: pod('kv17-dedicated-cpu').metadata }), state()).outcome.reason).toBe('no-compute');
    const p = pod('kv17-hook-sidecars');
    p.spec.containers.reverse();
    expect(admit(review(p), state()).outcome).toMatchObject({ result: 'skipped', reason: 'no-compute' });
  });

  test('a compute container already mounting our paths is skipped, not double-mounted', () => {
    const p = pod('kv15-shared-cpu');
    p.spec.containers[0].volumeMounts.push({ name: 'private', mountPath: '/etc/libvirt/hooks/qemu.d' });
    expect(admit(review(p), state()).outcome).toMatchObject({ result: 'skipped', reason: 'mount-conflict' });
  });

  test('an object whose every property access throws still gets allowed:true', () => {
    const hostile = new Proxy({}, { get() { throw new Error('boom'); }, has() { throw new Error('boom'); } });
    const r = review(hostile);
    const { review: out, outcome } = admit(r, state());
    expect(out.response).toEqual({ uid: r.request.uid, allowed: true });
    expect(outcome).toMatchObject({ result: 'error' });
    const whole = admit(hostile, state());
    expect(whole.review.response.allowed).toBe(true);
  });

  test('random junk never throws and never denies', () => {
    const junk: unknown[] = [undefined, 0, 'x', true, {}, { request: {} }, { request: { object: 5, kind: { kind: 'Pod' }, operation: 'CREATE' } }];
    const p = pod('kv15-shared-cpu');
    for (const mutate of [
      (q: Json) => { q.spec.containers = 'nope'; },
      (q: Json) => { q.spec.volumes = { a: 1 }; },
      (q: Json) => { q.metadata.annotations = 7; },
      (q: Json) => { q.spec.containers[0].volumeMounts = null; },
      (q: Json) => { q.spec.containers[0].resources = { limits: { cpu: 'lots' } }; },
    ]) {
      const q = structuredClone(p);
      mutate(q);
      junk.push(review(q));
    }
    for (const body of junk) {
      const { review: out } = admit(body, state());
      expect(out.response.allowed).toBe(true);
      if (out.response.patch !== undefined) {
        expect(out.response.patchType).toBe('JSONPatch');
        const obj = (body as Json).request.object;
        expect(() => applyPatchChecked(obj, patchOf(out as unknown as Json) as never)).not.toThrow();
      }
    }
  });
});

describe('coexist mode (KubeVirt 1.9+ runs its own hooks)', () => {
  test('nothing to inject when every configured hook is left to upstream', () => {
    const s = settings(['--coexist-cpu-dedicated=false', '--hooks', 'cpu-dedicated']);
    const out = admit(review(pod('kv110-dedicated-cpu')), state({ mode: 'coexist', kubevirtVersion: 'v1.10.0' }, s));
    expect(out.outcome).toMatchObject({ result: 'skipped', reason: 'no-site-hooks' });
    expect(out.review.response.patch).toBeUndefined();
  });

  test('by default a dedicated-CPU target gets our cpu-dedicated after upstream\'s (upstream is only partial)', () => {
    const s = settings(['--inject-policy', 'needed']);
    const { review: out, outcome } = admit(review(pod('kv110-dedicated-cpu')), state({ mode: 'coexist', kubevirtVersion: 'v1.10.0' }, s));
    expect(outcome).toMatchObject({ result: 'injected', reason: 'coexist', hooks: ['cpu-dedicated'] });
    const sidecar = patchOf(out as unknown as Json).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect(sidecar.args.slice(-2)).toEqual(['--hooks', 'cpu-dedicated']);
    const off = admit(review(pod('kv110-dedicated-cpu')), state({ mode: 'coexist' }, settings(['--inject-policy', 'needed', '--coexist-cpu-dedicated=false'])));
    expect(off.outcome).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
  });

  test('site hooks only, installed in qemu.d (after upstream hooks/qemu), marker says coexist', () => {
    const s = { ...settings(), hooks: ['cpu-dedicated', 'site:tuning'], trustUpstream: ['cpu-dedicated'] };
    const { review: out, outcome } = admit(review(pod('kv110-dedicated-cpu')), { ...state({ mode: 'coexist' }, s), registry: WITH_SITE_HOOK });
    expect(outcome).toMatchObject({ result: 'injected', reason: 'coexist' });
    const patch = patchOf(out as unknown as Json);
    const sidecar = patch.find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect(sidecar.args.slice(-2)).toEqual(['--hooks', 'site:tuning']);
    const marker = JSON.parse(patch.find((op) => op.path.includes('injected'))?.value as string) as Json;
    expect(marker).toMatchObject({ mode: 'coexist', hooks: ['site:tuning'] });
    const mounts = patch.filter((op) => op.path === '/spec/containers/0/volumeMounts/-').map((op) => op.value.mountPath);
    expect(mounts).toEqual(['/etc/libvirt/hooks/qemu.d', '/var/run/premigration-hooks']);
  });
});

describe('patch construction against raw JSON', () => {
  test('JSON Pointer escaping of ~ and /', () => {
    expect(escapePointer('premigration-hooks.kubevirt.io/injected')).toBe('premigration-hooks.kubevirt.io~1injected');
    expect(escapePointer('a~b/c~/d')).toBe('a~0b~1c~0~1d');
  });

  test('missing annotations, volumes and volumeMounts are created before appending', () => {
    const p = pod('kv15-no-init-containers');
    delete p.metadata.annotations;
    delete p.spec.volumes;
    delete p.spec.containers[0].volumeMounts;
    const r = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(r)}`);
    const paths = r.patch.map((op) => op.path);
    expect(paths.indexOf('/metadata/annotations')).toBeLessThan(paths.indexOf('/metadata/annotations/premigration-hooks.kubevirt.io~1injected'));
    expect(paths.indexOf('/spec/volumes')).toBeLessThan(paths.indexOf('/spec/volumes/-'));
    expect(paths.indexOf('/spec/initContainers')).toBeLessThan(paths.indexOf('/spec/initContainers/-'));
    expect(paths.indexOf('/spec/containers/0/volumeMounts')).toBeLessThan(paths.indexOf('/spec/containers/0/volumeMounts/-'));
    for (const op of r.patch) expect(op.op).toBe('add');
    const after = applyPatchChecked(p, r.patch) as Json;
    expect(after.metadata).toMatchObject({ annotations: { [INJECTED_ANNOTATION]: expect.any(String) } });
  });

  test('the sent patch is not aliased by the local check (an empty array stays empty)', () => {
    const p = pod('kv15-no-init-containers');
    const r = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    expect(r.patch.find((op) => op.path === '/spec/initContainers')).toEqual({ op: 'add', path: '/spec/initContainers', value: [] });
  });

  test('volume and container names avoid every existing name, deterministically', () => {
    expect(freeName('premigration-hooks', new Set(['premigration-hooks', 'premigration-hooks-1']))).toBe('premigration-hooks-2');
    const p = pod('kv17-volume-named-like-ours');
    p.spec.volumes.push({ name: 'premigration-hooks-1', emptyDir: {} });
    p.spec.containers.push({ name: 'premigration-hooks', image: 'someone/else' });
    const r = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
    expect(r).toMatchObject({ kind: 'patch', volume: 'premigration-hooks-2', containers: ['premigration-hooks-1'] });
  });

  describe('classic sidecar mode: an install init container plus a sidecar container', () => {
    const classic = settings(['--sidecar-mode', 'classic']);

    test('the init container runs serve --install-only with the server\'s image, mounts, securityContext and resources; no probes', () => {
      const p = pod('kv15-no-init-containers');
      const r = inject(p, classic, { mode: 'inject', hooks: ['cpu-dedicated'] });
      if (r.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(r)}`);
      expect(r.containers).toEqual(['premigration-hooks', 'premigration-hooks-install']);
      const paths = r.patch.map((op) => op.path);
      // The pod had no initContainers: the array is created before anything is appended to it.
      expect(paths.indexOf('/spec/initContainers')).toBeLessThan(paths.indexOf('/spec/initContainers/-'));
      const init = (r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
      const server = (r.patch as Json[]).find((op) => op.path === '/spec/containers/-')?.value as Json;
      expect(init.name).toBe('premigration-hooks-install');
      expect(init.args).toEqual([...(server.args as string[]).slice(0, -1), '--install-only']);
      for (const key of ['image', 'imagePullPolicy', 'command', 'securityContext', 'volumeMounts', 'resources']) expect(init[key]).toEqual(server[key]);
      expect(init.startupProbe).toBeUndefined();
      expect(init.readinessProbe).toBeUndefined();
      expect(init.livenessProbe).toBeUndefined();
      expect(init.restartPolicy).toBeUndefined(); // a plain init container: it must finish before compute starts
      // A regular container: a readiness probe gates the migration without holding compute back.
      expect(server.startupProbe).toBeUndefined();
      expect(server.readinessProbe.exec.command).toEqual(['/app/hookclient/target/release/premigration-hooks-client', '--probe', '--socket', '/var/run/premigration-hooks/hooks.sock', '--timeout-ms', '1000']);
      expect(server.args.at(-1)).toBe('--exit-on-release');
      const marker = JSON.parse((r.patch as Json[]).find((op) => op.path.includes('injected'))?.value as string) as Json;
      expect(marker).toMatchObject({ sidecar: 'classic', container: 'premigration-hooks', install: 'premigration-hooks-install', installDigest: expect.stringMatching(/^[0-9a-f]{16}$/) });
      expect(marker.installDigest).not.toBe(marker.digest);
    });

    test('the init container\'s name avoids every existing name, deterministically', () => {
      const p = pod('kv17-volume-named-like-ours');
      p.spec.containers.push({ name: 'premigration-hooks', image: 'someone/else' });
      p.spec.initContainers.push({ name: 'premigration-hooks-1-install', image: 'someone/else' });
      const r = inject(p, classic, { mode: 'inject', hooks: ['cpu-dedicated'] });
      expect(r).toMatchObject({ kind: 'patch', containers: ['premigration-hooks-1', 'premigration-hooks-1-install-1'] });
    });

    test('native mode adds no install container and no install fields in the marker', () => {
      const r = inject(pod('kv17-dedicated-cpu'), settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
      if (r.kind !== 'patch') throw new Error('expected a patch');
      expect(r.containers).toEqual(['premigration-hooks']);
      expect((r.patch as Json[]).filter((op) => op.path === '/spec/initContainers/-')).toHaveLength(1);
      const marker = JSON.parse((r.patch as Json[]).find((op) => op.path.includes('injected'))?.value as string) as Json;
      expect(marker.install).toBeUndefined();
      expect(marker.installDigest).toBeUndefined();
    });
  });

  test('restricted securityContext on our container also in a Root-mode pod', () => {
    const r = inject(pod('kv17-root-mode'), settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    const c = (r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect(c.securityContext).toEqual({
      runAsUser: 107, runAsGroup: 107, runAsNonRoot: true, allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.restartPolicy).toBe('Always');
    // The static client in probe mode: no Node process per probe.
    expect(c.startupProbe).toEqual({
      exec: { command: ['/app/hookclient/target/release/premigration-hooks-client', '--probe', '--socket', '/var/run/premigration-hooks/hooks.sock', '--timeout-ms', '1000'] },
      periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 30,
    });
    expect(c.readinessProbe).toBeUndefined();
    expect(c.args).not.toContain('--exit-on-release');
  });

  test('never mounts over hooks/qemu or into /var/run/kubevirt-hooks, even with hook sidecars', () => {
    const p = pod('kv17-hook-sidecars');
    const r = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    const after = applyPatchChecked(p, r.patch) as Json;
    const ours = [...after.spec.containers, ...after.spec.initContainers]
      .flatMap((c: Json) => (c.volumeMounts ?? []) as Json[])
      .filter((m: Json) => m.name === r.volume)
      .map((m: Json) => m.mountPath as string);
    expect(ours.length).toBe(4);
    for (const path of ours) {
      expect(path).not.toBe('/etc/libvirt/hooks/qemu');
      expect(path.startsWith('/var/run/kubevirt-hooks')).toBe(false);
    }
  });

  test('dry-run gets the same answer and is flagged in the outcome', () => {
    const p = pod('kv17-dedicated-cpu');
    const real = admit(review(p), state());
    const dry = admit(review(p, { dryRun: true }), state());
    expect(dry.review).toEqual(real.review);
    expect(dry.outcome).toMatchObject({ result: 'injected', dryRun: true });
    expect(real.outcome.dryRun).toBe(false);
  });
});

describe('verifyPatch refuses what the apiserver would reject', () => {
  const p = pod('kv17-dedicated-cpu');
  const ours = { volume: 'premigration-hooks', containers: ['premigration-hooks'] };
  const good = inject(p, settings(), { mode: 'inject', hooks: ['cpu-dedicated'] });
  if (good.kind !== 'patch') throw new Error('expected a patch');

  test('the real patch passes', () => {
    expect(verifyPatch(p, good.patch, ours)).toBeUndefined();
  });
  test('an append to a missing array does not apply', () => {
    const q = structuredClone(p);
    delete q.spec.initContainers;
    expect(verifyPatch(q, good.patch, ours)).toMatch(/does not apply/);
  });
  test('a duplicate container name', () => {
    const dup = [...good.patch, { op: 'add' as const, path: '/spec/containers/-', value: { name: 'compute' } }];
    expect(verifyPatch(p, dup, ours)).toMatch(/duplicate container name "compute"/);
  });
  test('compute pushed off index 0', () => {
    const moved = [...good.patch, { op: 'add' as const, path: '/spec/containers/0', value: { name: 'first' } }];
    expect(verifyPatch(p, moved, ours)).toMatch(/compute is no longer the first container/);
  });
  test('a request above its limit', () => {
    const bad = structuredClone(good.patch) as Json[];
    (bad.find((op) => op.path === '/spec/initContainers/-')?.value as Json).resources.requests.cpu = '200m';
    expect(verifyPatch(p, bad as never, ours)).toMatch(/request above limit/);
  });
  test('a QoS class change (Guaranteed → Burstable)', () => {
    const bad = structuredClone(good.patch) as Json[];
    delete (bad.find((op) => op.path === '/spec/initContainers/-')?.value as Json).resources.limits;
    expect(verifyPatch(p, bad as never, ours)).toMatch(/QoS class would change from Guaranteed to Burstable/);
  });
  test('a patch without the marker (would be injected twice)', () => {
    const bad = good.patch.filter((op) => !op.path.startsWith('/metadata/annotations/'));
    expect(verifyPatch(p, bad, ours)).toMatch(/not recognised as injected/);
  });
});

describe('inject by need (--inject-policy needed, the default)', () => {
  const needed = settings(['--inject-policy', 'needed']);
  test('a shared-CPU target that no enabled hook can change: skipped, no-applicable-hook, no patch', () => {
    const { review: out, outcome } = admit(review(pod('kv15-shared-cpu')), state({}, needed));
    expect(outcome).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
    expect(out.response).toEqual({ uid: 'b6a3e0c4-0000-4000-8000-000000000001', allowed: true });
  });

  test('a dedicated-CPU target: injected, and the server runs only the hooks that apply', () => {
    const { review: out, outcome } = admit(review(pod('kv17-dedicated-cpu')), state({}, needed));
    expect(outcome).toMatchObject({ result: 'injected', hooks: ['cpu-dedicated'] });
    const server = patchOf(out as unknown as Json).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect(server.args.slice(-2)).toEqual(['--hooks', 'cpu-dedicated']);
  });

  test('a decentralized shared-CPU target: injected with disk-namespace only', () => {
    const p = pod('kv15-shared-cpu');
    p.metadata.annotations['kubevirt.io/create-migration-target'] = 'true';
    expect(admit(review(p), state({}, needed)).outcome).toMatchObject({ result: 'injected', hooks: ['disk-namespace'] });
  });

  test('only enabled hooks count: --hooks disk-namespace on a dedicated-CPU target → no-applicable-hook', () => {
    const s = settings(['--inject-policy', 'needed', '--hooks', 'disk-namespace']);
    expect(admit(review(pod('kv17-dedicated-cpu')), state({}, s)).outcome).toMatchObject({ result: 'skipped', reason: 'no-applicable-hook' });
  });

  test('--inject-policy always: every target, with every enabled hook, as before', () => {
    expect(admit(review(pod('kv15-shared-cpu')), state({}, settings(['--inject-policy', 'always']))).outcome)
      .toMatchObject({ result: 'injected', hooks: ['cpu-dedicated', 'disk-namespace'] });
  });
});

describe('the target identity reaches the server as env (disk-namespace cross-checks it)', () => {
  const envOf = (p: Json, s = settings()): Json[] => {
    const r = inject(p, s, { mode: 'inject', hooks: ['disk-namespace'], sidecar: 'classic' });
    if (r.kind !== 'patch') throw new Error('expected a patch');
    const server = (r.patch as Json[]).find((op) => op.path === '/spec/containers/-')?.value as Json;
    const install = (r.patch as Json[]).find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    expect((install.env as Json[]).map((e) => e.name)).toEqual(['PREMIGRATION_HOOKS_LOG_LEVEL']);
    return server.env as Json[];
  };
  test('namespace from the downward API, VMI name from kubevirt.io/domain', () => {
    const p = pod('kv17-dedicated-cpu');
    expect(envOf(p)).toEqual([
      { name: 'PREMIGRATION_HOOKS_LOG_LEVEL', value: 'info' },
      { name: 'PREMIGRATION_HOOKS_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'PREMIGRATION_HOOKS_VMI_NAME', value: p.metadata.annotations['kubevirt.io/domain'] },
    ]);
  });
  test('an invalid VMI name is left out (the server would refuse it and never start)', () => {
    const p = pod('kv17-dedicated-cpu');
    p.metadata.annotations['kubevirt.io/domain'] = 'Not_A_Name';
    expect(envOf(p).map((e) => e.name)).toEqual(['PREMIGRATION_HOOKS_LOG_LEVEL', 'PREMIGRATION_HOOKS_POD_NAMESPACE']);
  });
});
