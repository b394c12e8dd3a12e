/**
 * admit(review, state): AdmissionReview in → AdmissionReview out, plus an outcome for logs and
 * metrics. Pure and total: it never throws and never denies. Every path answers allowed:true;
 * the only question is whether a patch goes with it. An internal fault is answered without a
 * patch and reported as result "error", so our bug can never block a migration.
 */
import type { GateState } from './types.js';
import { inject, type NamespaceLimits } from './inject.js';
import { reportEnvFor, type ReportMinting } from './report-env.js';
import { REGISTRY, type HookRegistry } from '../../core/hooks/registry.js';
import type { TargetPod } from '../../core/hooks/types.js';
import type { InjectSettings } from './types.js';
import { chooseSidecar, type SidecarSupport } from './sidecar.js';
import { targetSkipReason } from './target.js';
import { isObject } from '../../shared/json.js';
import { SITE_PREFIX, type CompiledSiteHook } from '../../core/site-hooks/index.js';
import { selectSiteHooks, siteHookDelivery, siteHookNameEntries, type SiteHookDelivery } from './site-hooks.js';

/** What the webhook knows of the cluster beyond the pod (src/webhook/watch/cluster.ts keeps it current). */
export interface ClusterView {
  /** Do the apiserver and every kubelet accept native sidecars? */
  sidecars(): SidecarSupport;
  /** The namespace's ResourceQuotas and LimitRanges; undefined when not known (checks off or not synced). */
  namespaceLimits(namespace: string): NamespaceLimits | undefined;
}

const UNKNOWN_SIDECARS: SidecarSupport = { native: undefined, why: 'cluster versions not watched' };

export const ADMISSION_V1 = 'admission.k8s.io/v1';
/** v1beta1 has the same shape; apiservers older than 1.16 may still send it. */
const SUPPORTED_VERSIONS = new Set([ADMISSION_V1, 'admission.k8s.io/v1beta1']);

export interface AdmitState {
  gate: GateState;
  settings: InjectSettings;
  /** Present when hook reports are configured (--report-url and --report-key-file). */
  report?: ReportMinting;
  /** The hooks known right now (built-ins, later with site hooks); default: the built-ins. */
  registry?: HookRegistry;
  /** Absent: versions and namespace limits unknown (sidecar auto → classic; no namespace checks). */
  cluster?: ClusterView;
  /** Accepted SiteHooks (docs/site-hooks.md); those selecting the pod are delivered to it and count as hooks. */
  siteHooks?: readonly CompiledSiteHook[];
  /** A namespace's labels when known, for SiteHook namespaceSelectors. */
  namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  /** --site-hook-allow, passed on to the injected server. */
  siteHookAllow?: readonly string[];
}

export type AdmitResult = 'injected' | 'skipped' | 'error';

export interface AdmitOutcome {
  result: AdmitResult;
  /** Bounded set of values (metric label): see docs/webhook.md. */
  reason: string;
  dryRun: boolean;
  uid: string;
  namespace?: string;
  /** Present for errors and for some skips: what went wrong (never the pod or any XML). */
  message?: string;
  /** Present when injected: the hooks the injected server runs, and the sidecar shape. */
  hooks?: string[];
  sidecar?: 'native' | 'classic';
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewOut {
  apiVersion: string;
  kind: string;
  response: AdmissionResponse;
}

export interface Admission {
  review: AdmissionReviewOut;
  outcome: AdmitOutcome;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function decide(body: unknown, state: AdmitState, out: AdmissionReviewOut, outcome: AdmitOutcome): void {
  const done = (result: AdmitResult, reason: string, message?: string): void => {
    outcome.result = result;
    outcome.reason = reason;
    if (message !== undefined) outcome.message = message;
  };
  if (!isObject(body)) return done('error', 'bad-review', 'body is not a JSON object');
  // Echo what the apiserver sent, so the answer matches its request even for odd versions.
  out.apiVersion = str(body.apiVersion) ?? ADMISSION_V1;
  out.kind = str(body.kind) ?? 'AdmissionReview';
  const request = body.request;
  if (!isObject(request)) return done('error', 'bad-review', 'no request in AdmissionReview');
  const uid = str(request.uid) ?? '';
  out.response.uid = uid;
  outcome.uid = uid;
  outcome.dryRun = request.dryRun === true;
  if (!SUPPORTED_VERSIONS.has(out.apiVersion) || out.kind !== 'AdmissionReview') {
    return done('error', 'bad-review', `unsupported ${out.apiVersion}/${out.kind}`);
  }
  const kind = isObject(request.kind) ? request.kind : {};
  if (kind.kind !== 'Pod' || (kind.group ?? '') !== '' || (str(request.subResource) ?? '') !== '') {
    return done('skipped', 'not-pod');
  }
  if (request.operation !== 'CREATE') return done('skipped', 'not-create');
  const pod = request.object;
  const metadata = isObject(pod) && isObject(pod.metadata) ? pod.metadata : {};
  // request.namespace is authoritative; metadata.namespace may be empty at CREATE.
  const namespace = str(request.namespace) || str(metadata.namespace) || '';
  if (namespace) outcome.namespace = namespace;

  const notTarget = targetSkipReason(pod);
  if (notTarget) return done('skipped', notTarget);
  const mode = state.gate.mode;
  if (mode === 'off') return done('skipped', 'mode-off');
  const s = state.settings;
  // Selected site hooks count as hooks upstream has none of: they make coexist mode inject.
  const site = state.siteHooks?.length ? selectSiteHooks(state.siteHooks, pod, state.namespaceLabels?.(namespace)) : [];
  const registry = (state.registry ?? REGISTRY).with(siteHookNameEntries(site));
  const modeHooks = registry.forMode(mode, [...s.hooks, ...site.map((h) => SITE_PREFIX + h.name)], { trustUpstream: s.trustUpstream });
  if (modeHooks.length === 0) return done('skipped', 'no-site-hooks');
  // Inject by need: only the hooks that can act on this pod (src/core/hooks/registry.ts appliesTo).
  const hooks = s.injectPolicy === 'always' ? modeHooks : registry.applicable(pod as TargetPod, modeHooks);
  if (hooks.length === 0) return done('skipped', 'no-applicable-hook');
  let siteHooks: SiteHookDelivery | undefined;
  if (site.length > 0) {
    const d = siteHookDelivery(site, state.siteHookAllow);
    if ('error' in d) return done('error', 'site-hooks-too-large', d.error);
    siteHooks = d;
  }

  const choice = chooseSidecar(s.sidecarMode, state.cluster?.sidecars() ?? UNKNOWN_SIDECARS);
  if ('skip' in choice) return done('skipped', choice.skip, choice.why);
  const limits = namespace ? state.cluster?.namespaceLimits(namespace) : undefined;
  const report = state.report ? reportEnvFor(pod, namespace, state.gate, state.report) : undefined;
  const result = inject(pod, s, { mode, hooks, sidecar: choice.mode, ...(report ? { report } : {}), ...(limits ? { namespace: limits } : {}), ...(siteHooks ? { siteHooks } : {}) });
  if (result.kind === 'skip') return done('skipped', result.reason, 'message' in result ? result.message : undefined);
  if (result.kind === 'error') return done('error', result.reason, result.message);
  out.response.patchType = 'JSONPatch';
  out.response.patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  outcome.hooks = hooks;
  outcome.sidecar = result.sidecar;
  done('injected', mode);
}

export function admit(body: unknown, state: AdmitState): Admission {
  const review: AdmissionReviewOut = { apiVersion: ADMISSION_V1, kind: 'AdmissionReview', response: { uid: '', allowed: true } };
  const outcome: AdmitOutcome = { result: 'error', reason: 'internal', dryRun: false, uid: '' };
  try {
    decide(body, state, review, outcome);
  } catch (err) {
    // Unreachable by design; if it happens, answer allowed without a patch.
    delete review.response.patch;
    delete review.response.patchType;
    outcome.result = 'error';
    outcome.reason = 'internal';
    outcome.message = err instanceof Error ? err.message : String(err);
  }
  return { review, outcome };
}
