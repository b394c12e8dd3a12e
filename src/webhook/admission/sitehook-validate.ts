/**
 * Admission of SiteHook objects (the ValidatingWebhookConfiguration premigration-hooks-sitehooks,
 * failurePolicy Fail): CEL in the CRD cannot parse a path or an XML fragment, so this runs the
 * core's one validation (compileSiteHook, docs/site-hooks.md) with the webhook's allow-list and
 * denies with every problem named. Pure and total: a review it cannot read is denied too (the
 * apiserver only sends SiteHooks here, and failurePolicy Fail would deny on an error anyway).
 */
import { compileSiteHook, SiteHookInvalid, type AllowList } from '../../core/site-hooks/index.js';
import { asString, isObject } from '../../shared/json.js';

export interface SiteHookReviewOut {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: { uid: string; allowed: boolean; status?: { code: number; reason: string; message: string } };
}

export interface SiteHookReviewOutcome {
  uid: string;
  name?: string;
  result: 'accepted' | 'denied' | 'not-checked';
  message?: string;
}

/** The same message the status writer puts on an invalid SiteHook: every problem, one line. */
export function siteHookProblems(obj: unknown, allow: AllowList): string | undefined {
  try {
    compileSiteHook(obj, allow);
    return undefined;
  } catch (err) {
    if (err instanceof SiteHookInvalid) return err.problems.join('; ');
    return err instanceof Error ? err.message : String(err);
  }
}

export function reviewSiteHook(body: unknown, allow: AllowList): { review: SiteHookReviewOut; outcome: SiteHookReviewOutcome } {
  const request = isObject(body) && isObject(body.request) ? body.request : undefined;
  const uid = asString(request?.uid) ?? '';
  const apiVersion = (isObject(body) ? asString(body.apiVersion) : undefined) ?? 'admission.k8s.io/v1';
  const deny = (message: string, name?: string) => ({
    review: { apiVersion, kind: 'AdmissionReview' as const, response: { uid, allowed: false, status: { code: 422, reason: 'Invalid', message } } },
    outcome: { uid, ...(name ? { name } : {}), result: 'denied' as const, message },
  });
  if (request === undefined) return deny('not an AdmissionReview with a request');
  const op = request.operation;
  if (op !== 'CREATE' && op !== 'UPDATE') {
    return { review: { apiVersion, kind: 'AdmissionReview', response: { uid, allowed: true } }, outcome: { uid, result: 'not-checked' } };
  }
  const obj = request.object;
  const name = isObject(obj) && isObject(obj.metadata) ? asString(obj.metadata.name) : undefined;
  // Only spec is ours to judge; status is written by the webhook through the status subresource.
  const problems = siteHookProblems(isObject(obj) ? { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: name ?? '' }, spec: obj.spec } : obj, allow);
  if (problems !== undefined) return deny(`SiteHook ${name ?? '(unnamed)'} is invalid: ${problems}`, name);
  return { review: { apiVersion, kind: 'AdmissionReview', response: { uid, allowed: true } }, outcome: { uid, ...(name ? { name } : {}), result: 'accepted' } };
}
