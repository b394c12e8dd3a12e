/**
 * SiteHook admission (reviewSiteHook) and the status the watch writes (statusFor): what
 * kubectl apply hears, and the observedGeneration guard that keeps HA replicas from fighting.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { allowList } from '../../src/core/site-hooks/index.js';
import { reviewSiteHook } from '../../src/webhook/admission/sitehook-validate.js';
import { statusFor } from '../../src/webhook/watch/site-hooks.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const examples = parseAllDocuments(readFileSync(join(process.cwd(), 'docs/examples/site-hooks.yaml'), 'utf8')).map((d) => d.toJS() as Json);
const review = (object: unknown, operation = 'CREATE'): Json => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', operation, object } });
const allow = allowList();

describe('reviewSiteHook', () => {
  test.each(examples.map((e) => [e.metadata.name as string, e]))('docs example %s is allowed', (_n, e) => {
    expect(reviewSiteHook(review(e), allow).review.response).toEqual({ uid: 'u', allowed: true });
  });
  test('a bad path, fragment, unknown fact and forbidden target are denied with the reasons', () => {
    const bad = structuredClone(examples[0]!);
    bad.spec.edits = [
      { select: 'devices//disk', remove: true },
      { select: 'metadata', appendXML: '<a:b xmlns:a="u"><c></a:b>' },
      { select: 'devices/disk/source/@file', set: '${node.zone}' },
      { select: 'seclabel/@type', set: 'none' },
    ];
    const { review: out, outcome } = reviewSiteHook(review(bad), allow);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status).toMatchObject({ code: 422, reason: 'Invalid' });
    for (const m of ["spec.edits[0].select \"devices//disk\"", 'spec.edits[1].appendXML: appendXML is not a well-formed fragment', 'unknown fact ${node.zone}', 'spec.edits[3]: seclabel/@type is a forbidden target']) {
      expect(out.response.status?.message).toContain(m);
    }
    expect(outcome).toMatchObject({ result: 'denied', name: 'node-local-rootdisk' });
  });
  test('status is not judged; DELETE is not checked; a review without a request is denied', () => {
    expect(reviewSiteHook(review({ ...examples[1], status: { junk: true } }, 'UPDATE'), allow).review.response.allowed).toBe(true);
    expect(reviewSiteHook(review(null, 'DELETE'), allow).outcome.result).toBe('not-checked');
    expect(reviewSiteHook({}, allow).review.response.allowed).toBe(false);
  });
  test('the webhook\'s --site-hook-allow extension is honoured', () => {
    const ext = { ...examples[1], spec: { edits: [{ select: 'devices/disk/target/@dev', set: 'vdz' }] } };
    expect(reviewSiteHook(review(ext), allow).review.response.allowed).toBe(false);
    expect(reviewSiteHook(review(ext), allowList(['devices/disk/target'])).review.response.allowed).toBe(true);
  });
});

describe('statusFor (observedGeneration guard)', () => {
  const now = new Date('2026-12-01T23:00:00.123Z');
  test('a new generation gets Accepted True/False with the reason', () => {
    expect(statusFor({ metadata: { generation: 3 } }, undefined, now)).toEqual({
      observedGeneration: 3,
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid', message: expect.any(String) as string, observedGeneration: 3, lastTransitionTime: '2026-12-01T23:00:00Z' }],
    });
    expect(statusFor({ metadata: { generation: 1 } }, 'spec.edits[0]: bad', now)?.conditions[0]).toMatchObject({ status: 'False', reason: 'Invalid', message: 'spec.edits[0]: bad' });
  });
  test('a generation that already has a status is left alone: a second replica writes nothing', () => {
    const first = statusFor({ metadata: { generation: 2 } }, undefined, now)!;
    expect(statusFor({ metadata: { generation: 2 }, status: first }, undefined, now)).toBeUndefined();
    expect(statusFor({ metadata: { generation: 2 }, status: first }, 'other judgement', now)).toBeUndefined();
  });
  test('lastTransitionTime moves only when the status changes', () => {
    const old = { observedGeneration: 1, conditions: [{ type: 'Accepted', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    expect(statusFor({ metadata: { generation: 2 }, status: old }, undefined, now)?.conditions[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(statusFor({ metadata: { generation: 2 }, status: old }, 'bad', now)?.conditions[0]?.lastTransitionTime).toBe('2026-12-01T23:00:00Z');
  });
});
