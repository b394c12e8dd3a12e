/**
 * Golden AdmissionReviews over real HTTPS: each test/golden/webhook/<case>/review.json is POSTed
 * to /mutate; the patch must equal expected-patch.json, must apply to the pod, must keep the
 * pod's QoS class, must give a pod valid under the Kubernetes schema, and a second admission of the patched pod must add nothing (idempotency).
 * The test only reads expected-patch.json; `npm run golden:update` rewrites them for review.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { Pod } from 'kubernetes-models/v1/Pod';
import { applyPatchChecked } from '../../src/webhook/admission/verify-patch.js';
import { qosClass } from '../../src/webhook/admission/qos.js';
import { INJECTED_ANNOTATION } from '../../src/webhook/admission/names.js';
import { decodePatch, startTestWebhook, testInjectSettings, type TestWebhook } from './webhook-harness.js';

const GOLDEN = join(process.cwd(), 'test/golden/webhook');
const cases = readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'review.json'))).sort();

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const servers = new Map<string, TestWebhook>();
async function serverFor(sidecarMode: string): Promise<TestWebhook> {
  let s = servers.get(sidecarMode);
  if (!s) {
    s = await startTestWebhook({ inject: testInjectSettings(['--sidecar-mode', sidecarMode]) });
    servers.set(sidecarMode, s);
  }
  return s;
}

afterAll(async () => {
  for (const s of servers.values()) await s.close();
});

async function post(s: TestWebhook, review: unknown): Promise<Json> {
  const res = await request(s.url).post('/mutate').ca(s.ca).set('Content-Type', 'application/json').send(review as object);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.body as Json;
}

test('there are golden cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(9);
});

describe.each(cases)('golden %s', (name) => {
  const dir = join(GOLDEN, name);
  const review = JSON.parse(readFileSync(join(dir, 'review.json'), 'utf8')) as Json;
  const settings = existsSync(join(dir, 'settings.json')) ? (JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')) as Json) : {};
  const pod = review.request.object as Json;

  test('patch equals expected-patch.json, applies, keeps QoS, and a re-run adds nothing', async () => {
    const s = await serverFor(settings.sidecarMode ?? 'native');
    const body = await post(s, review);
    expect(body.apiVersion).toBe(review.apiVersion);
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response.uid).toBe(review.request.uid);
    expect(body.response.allowed).toBe(true);
    expect(body.response.patchType).toBe('JSONPatch');
    const patch = decodePatch(body) as Json[];
    const expectedFile = join(dir, 'expected-patch.json');
    expect(patch).toEqual(JSON.parse(readFileSync(expectedFile, 'utf8')));

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
