/**
 * Golden AdmissionReviews over real HTTPS: each test/golden/webhook/<case>/review.json is POSTed
 * to /mutate, with the flags, gate mode and cluster of its settings (test/golden/webhook/settings.json,
 * then the case's own settings.json). An injected case's patch must equal expected-patch.json,
 * apply to the pod, keep the pod's QoS class, give a pod valid under the Kubernetes schema, and a
 * second admission of the patched pod must add nothing (idempotency). A case whose
 * expected-patch.json is `[]` must get no patch, for the skip reason its settings name.
 * The test only reads expected-patch.json; `npm run golden:update` rewrites them for review.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { Pod } from 'kubernetes-models/v1/Pod';
import { admit } from '../../src/webhook/admission/admit.js';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';
import { qosClass } from '../../src/core/pod/qos.js';
import { INJECTED_ANNOTATION } from '../../src/webhook/admission/names.js';
import type { GateProvider, GateState } from '../../src/webhook/admission/types.js';
import type { ClusterVersions } from '../../src/webhook/admission/sidecar.js';
import type { NamespaceLimits } from '../../src/webhook/admission/inject.js';
import { fixedCluster } from '../../src/webhook/main.js';
import { decodePatch, startTestWebhook, testInjectSettings, type TestWebhook } from './webhook-harness.js';

const GOLDEN = join(process.cwd(), 'test/golden/webhook');
const cases = readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'review.json'))).sort();

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface CaseSettings {
  flags?: string[];
  gate?: 'inject' | 'coexist';
  kubevirtVersion?: string;
  cluster?: ClusterVersions;
  namespace?: NamespaceLimits;
  /** For a case that is not injected: the outcome's reason. */
  reason?: string;
}
const BASE = JSON.parse(readFileSync(join(GOLDEN, 'settings.json'), 'utf8')) as { kubevirtVersion: string; cluster: ClusterVersions };

/** What tools/golden-update.js admits the case with. */
function goldenCase(own: CaseSettings) {
  const gate: GateState = { mode: own.gate ?? 'inject', gateEnabled: true, kubevirtVersion: own.kubevirtVersion ?? BASE.kubevirtVersion, reason: 'golden case' };
  return { settings: testInjectSettings(own.flags ?? []), gate, cluster: fixedCluster(own.cluster ?? BASE.cluster, own.namespace) };
}

const servers: TestWebhook[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function post(s: TestWebhook, review: unknown): Promise<Json> {
  const res = await request(s.url).post('/mutate').ca(s.ca).set('Content-Type', 'application/json').send(review as object);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.body as Json;
}

test('there are golden cases, injected and skipped', () => {
  expect(cases.length).toBeGreaterThanOrEqual(9);
  const empty = cases.filter((c) => readFileSync(join(GOLDEN, c, 'expected-patch.json'), 'utf8').trim() === '[]');
  expect(empty.length).toBeGreaterThan(0);
  expect(empty.length).toBeLessThan(cases.length);
});

describe.each(cases)('golden %s', (name) => {
  const dir = join(GOLDEN, name);
  const review = JSON.parse(readFileSync(join(dir, 'review.json'), 'utf8')) as Json;
  const own = existsSync(join(dir, 'settings.json')) ? (JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as CaseSettings) : {};
  const expected = JSON.parse(readFileSync(join(dir, 'expected-patch.json'), 'utf8')) as Json[];
  const pod = review.request.object as Json;
  const { settings, gate, cluster } = goldenCase(own);

  const start = async (): Promise<TestWebhook> => {
    const provider: GateProvider = { current: () => gate, synced: () => true, start: async () => {}, stop: async () => {} };
    const s = await startTestWebhook({ inject: settings, gate: provider, cluster });
    servers.push(s);
    return s;
  };

  if (expected.length === 0) {
    test(`not injected: allowed without a patch, reason ${own.reason ?? '(unset)'}`, async () => {
      expect(own.reason).toBeDefined();
      const { outcome } = admit(review, { gate, settings, cluster });
      expect(outcome).toMatchObject({ result: 'skipped', reason: own.reason });
      const body = await post(await start(), review);
      expect(body.response).toEqual({ uid: review.request.uid, allowed: true });
    });
    return;
  }

  test('patch equals expected-patch.json, applies, keeps QoS, and a re-run adds nothing', async () => {
    const s = await start();
    const body = await post(s, review);
    expect(body.apiVersion).toBe(review.apiVersion);
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response.uid).toBe(review.request.uid);
    expect(body.response.allowed).toBe(true);
    expect(body.response.patchType).toBe('JSONPatch');
    const patch = decodePatch(body) as Json[];
    expect(patch).toEqual(expected);

    const patched = applyPatchChecked(pod, patch as never) as Json;
    // Both the fixture and the patched pod validate against the Kubernetes OpenAPI schema.
    expect(() => new Pod(pod as never).validate()).not.toThrow();
    expect(() => new Pod(patched as never).validate()).not.toThrow();
    expect(patched.spec.containers[0].name).toBe('compute');
    expect(qosClass(patched.spec)).toBe(qosClass(pod.spec));
    expect(patched.metadata.annotations[INJECTED_ANNOTATION]).toBeDefined();
    const names = (key: string): unknown[] => ((patched.spec[key] ?? []) as Json[]).map((c) => c.name);
    const allContainers = [...names('containers'), ...names('initContainers')];
    expect(new Set(allContainers).size).toBe(allContainers.length);
    expect(new Set(names('volumes')).size).toBe(names('volumes').length);
    // Everything the pod had is still there, unchanged and in order (add-only patch).
    for (const key of ['containers', 'initContainers', 'volumes'] as const) {
      const before = (pod.spec[key] ?? []) as Json[];
      expect((patched.spec[key] as Json[]).slice(0, before.length).map((c) => c.name)).toEqual(before.map((c) => c.name));
    }

    const again = await post(s, { ...review, request: { ...review.request, uid: `${review.request.uid}-again`, object: patched } });
    expect(again.response).toEqual({ uid: `${review.request.uid}-again`, allowed: true });
  });
});
