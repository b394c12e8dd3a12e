/**
 * Which migration-target pods escaped the webhook? (docs/feature-gate.md)
 *
 * With failurePolicy Ignore, an outage, a timeout or a mis-set matchCondition silently yields
 * target pods without our sidecar. With --watch-target-pods the webhook watches, cluster-wide,
 * the pods the MutatingWebhookConfiguration selects (kubevirt.io=virt-launcher plus
 * kubevirt.io/migrationJobUID) and judges each new one against the modes this process was in
 * around the pod's creation:
 *   injected      carries our injected marker;
 *   opted-out     carries premigration-hooks.kubevirt.io/inject: "false" (skipped by design);
 *   escaped       no marker, and the webhook would have injected it for the whole window around
 *                 its creation (mode inject, or coexist with hooks to add, and, under
 *                 --inject-policy needed, a hook whose appliesTo(pod) holds);
 *   not-expected  no marker, and the mode never asked for injection in that window (off, or
 *                 coexist with nothing to add), or no enabled hook applies to the pod;
 *   unknown       the mode changed within the window, the pod predates what this process knows
 *                 (created before its gate synced), or its creationTimestamp is unreadable.
 * The window is [creationTimestamp − skew, creationTimestamp + 1 s + skew]: creationTimestamp has
 * second resolution, the apiserver's clock is not ours, and the replica that answered the
 * admission may have seen a mode change a moment before or after this one. Borderline pods are
 * "unknown", never "escaped": the alert must not fire because an admin flipped the gate.
 *
 * The same watch also counts a restart of our hook server in an injected target pod as a
 * missed hook (hook_misses_total{reason="server-restarted"}, src/webhook/watch/misses.ts):
 * while it was down, the hook client in compute could not reach it and followed --on-error.
 *
 * The core (ModeTimeline, classifyTargetPod, slimPod, serverRestarts) is pure;
 * createEscapedPodWatcher is the thin shell: a restarting informer
 * (src/webhook/watch/informer.ts) plus its counters.
 */
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { METRIC_PREFIX } from '../../shared/metrics.js';
import { createRestartingInformer, type BackoffOptions, type RestartingInformer } from './informer.js';
import { BASE_NAME, INJECTED_ANNOTATION, INJECT_ANNOTATION, KUBEVIRT_APP_LABEL, LAUNCHER_APP, MIGRATION_JOB_LABEL } from '../admission/names.js';
import { parseMarker } from '../admission/marker.js';
import { missCounter } from './misses.js';
import { REGISTRY, type HookRegistry } from '../../core/hooks/registry.js';
import { targetSkipReason } from '../admission/target.js';
import type { TargetPod } from '../../core/hooks/types.js';
import type { InjectPolicy, Mode } from '../admission/types.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

/** The same pods the MutatingWebhookConfiguration's objectSelector sends us. */
export const TARGET_POD_SELECTOR = `${KUBEVIRT_APP_LABEL}=${LAUNCHER_APP},${MIGRATION_JOB_LABEL}`;
export const PODS_RESOURCE = 'pods';
export const DEFAULT_SKEW_MS = 5_000;

export type TargetPodOutcome = 'injected' | 'opted-out' | 'escaped' | 'not-expected' | 'unknown';
export const OUTCOMES: readonly TargetPodOutcome[] = ['injected', 'opted-out', 'escaped', 'not-expected', 'unknown'];

/** How admit() chooses hooks besides the mode (the webhook's --inject-policy and --coexist-* settings). */
export interface ExpectationSettings {
  injectPolicy?: InjectPolicy;
  trustUpstream?: readonly string[];
}

/**
 * Would admit() inject a target pod in this mode, with these configured hooks? (mirrors admit.ts)
 * `applicable`: the hooks whose appliesTo(pod) held (slimPod records them); undefined: all.
 */
export function injectionExpected(
  mode: Mode, hooks: readonly string[], registry: HookRegistry = REGISTRY,
  applicable?: readonly string[], settings: ExpectationSettings = {},
): boolean {
  if (mode === 'off') return false;
  const forMode = registry.forMode(mode, hooks, settings.trustUpstream ? { trustUpstream: settings.trustUpstream } : {});
  if (settings.injectPolicy === 'always' || applicable === undefined) return forMode.length > 0;
  return forMode.some((h) => applicable.includes(h));
}

/** Where slimPod keeps the names of the hooks whose appliesTo held for the whole pod. */
export const APPLICABLE_FIELD = 'premigrationHooksApplicable';

/** The hooks recorded by slimPod, or undefined for an object it did not make. */
export function applicableOf(pod: unknown): string[] | undefined {
  const v = isObject(pod) ? pod[APPLICABLE_FIELD] : undefined;
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

/**
 * The modes this process has been in, with when each began. Before the first record nothing is
 * known. Bounded: the oldest changes are forgotten first, and what they covered becomes unknown.
 */
export class ModeTimeline {
  private readonly changes: { at: number; mode: Mode }[] = [];

  constructor(private readonly limit = 1000) {}

  record(mode: Mode, at: number): void {
    const last = this.changes[this.changes.length - 1];
    if (last && last.mode === mode) return;
    // A clock stepping back must not reorder history: a change is never earlier than the last one.
    this.changes.push({ at: last ? Math.max(at, last.at) : at, mode });
    if (this.changes.length > this.limit) this.changes.shift();
  }

  /** Every mode in effect at some instant of [from, to]; undefined if part of it precedes the first record. */
  modesDuring(from: number, to: number): Set<Mode> | undefined {
    const first = this.changes[0];
    if (!first || from < first.at) return undefined;
    const modes = new Set<Mode>();
    for (let i = 0; i < this.changes.length; i++) {
      const c = this.changes[i] as { at: number; mode: Mode };
      const end = this.changes[i + 1]?.at ?? Infinity;
      if (c.at <= to && end > from) modes.add(c.mode);
    }
    return modes;
  }
}


/** creationTimestamp as epoch ms: a string off the watch stream, a Date from the typed list call. */
export function creationTime(pod: unknown): number | undefined {
  const metadata = isObject(pod) && isObject(pod.metadata) ? pod.metadata : {};
  const ts = metadata.creationTimestamp;
  const ms = ts instanceof Date ? ts.getTime() : typeof ts === 'string' ? Date.parse(ts) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

export interface ClassifyOptions {
  timeline: ModeTimeline;
  /** The webhook's configured hooks (--hooks): coexist injects only those upstream lacks. */
  hooks: readonly string[];
  /** The hooks known right now; default: the built-ins. */
  registry?: HookRegistry;
  /** --inject-policy and --coexist-*; default: needed, nothing trusted to upstream. */
  expectation?: ExpectationSettings;
  skewMs?: number;
  /** Epoch ms; the window must be over before a pod without a marker can be judged. */
  now: number;
}

/** When a pod without a marker can be judged: the end of its window. */
export function judgeableAt(created: number, skewMs = DEFAULT_SKEW_MS): number {
  return created + 1000 + skewMs;
}

/**
 * The verdict on one pod, or 'pending' while its window is still open (a mode change this process
 * has not seen yet may still fall in it), or 'not-target' for a pod the webhook would not select.
 */
export function classifyTargetPod(pod: unknown, opts: ClassifyOptions): TargetPodOutcome | 'not-target' | 'pending' {
  const skip = targetSkipReason(pod);
  if (skip === 'already-injected') return 'injected';
  if (skip === 'opted-out') return 'opted-out';
  if (skip !== undefined) return 'not-target';
  const created = creationTime(pod);
  if (created === undefined) return 'unknown';
  const skew = opts.skewMs ?? DEFAULT_SKEW_MS;
  if (opts.now < judgeableAt(created, skew)) return 'pending';
  const modes = opts.timeline.modesDuring(created - skew, judgeableAt(created, skew));
  if (!modes || modes.size === 0) return 'unknown';
  const applicable = applicableOf(pod);
  const expected = [...modes].map((m) => injectionExpected(m, opts.hooks, opts.registry, applicable, opts.expectation));
  if (expected.every(Boolean)) return 'escaped';
  if (!expected.some(Boolean)) return 'not-expected';
  return 'unknown';
}

/**
 * How often our hook server container restarted in an injected pod (0 when not injected or not
 * started): its name comes from the injected marker, its status from initContainerStatuses
 * (native sidecar) or containerStatuses (classic).
 */
export function serverRestarts(pod: unknown): number {
  const p = isObject(pod) ? pod : {};
  const metadata = isObject(p.metadata) ? p.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const marker = parseMarker(annotations[INJECTED_ANNOTATION]);
  if (!marker) return 0;
  const name = marker.container ?? BASE_NAME;
  const status = isObject(p.status) ? p.status : {};
  for (const list of [status.initContainerStatuses, status.containerStatuses]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (isObject(c) && c.name === name && typeof c.restartCount === 'number' && Number.isSafeInteger(c.restartCount) && c.restartCount >= 0) return c.restartCount;
    }
  }
  return 0;
}

/** Where slimPod keeps serverRestarts() of the whole pod. */
const RESTARTS_KEY = 'premigrationHooksServerRestarts';

/** serverRestarts() of a pod already slimmed (or of a whole one). */
export function slimRestarts(pod: unknown): number {
  const status = isObject(pod) && isObject(pod.status) ? pod.status : {};
  const n = status[RESTARTS_KEY];
  return typeof n === 'number' ? n : serverRestarts(pod);
}

/**
 * What the cache keeps of a pod: identity, creation time, the labels of the selector, our two
 * annotations, the names of the hooks whose appliesTo(pod) holds (APPLICABLE_FIELD, computed
 * here while the spec is at hand), and our server's restart count. A cluster-wide cache of
 * whole launcher pods would cost megabytes for nothing.
 */
export function slimPod<T extends KubernetesObject>(pod: T, registry: HookRegistry = REGISTRY): T {
  const m = isObject(pod.metadata) ? (pod.metadata) : {};
  const labels = isObject(m.labels) ? m.labels : {};
  const annotations = isObject(m.annotations) ? m.annotations : {};
  const pick = (from: Json, keys: string[]): Json =>
    Object.fromEntries(keys.filter((k) => Object.prototype.hasOwnProperty.call(from, k)).map((k) => [k, from[k]]));
  const metadata: Json = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    creationTimestamp: m.creationTimestamp,
    labels: pick(labels, [KUBEVIRT_APP_LABEL, MIGRATION_JOB_LABEL]),
    annotations: pick(annotations, [INJECTED_ANNOTATION, INJECT_ANNOTATION]),
  };
  const applicable = registry.applicable(pod as TargetPod, registry.names());
  return { apiVersion: pod.apiVersion, kind: pod.kind, metadata, [APPLICABLE_FIELD]: applicable, status: { [RESTARTS_KEY]: serverRestarts(pod) } } as unknown as T;
}

// ---- the shell ----

export interface EscapedPodWatcherOptions {
  kubeConfig: KubeConfig;
  timeline: ModeTimeline;
  hooks: readonly string[];
  expectation?: ExpectationSettings;
  logger: Logger;
  registry: Registry;
  skewMs?: number;
  backoff?: Partial<BackoffOptions>;
  minWatchMs?: number;
}

export interface EscapedPodWatcher {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Listed and watching right now. */
  watching(): boolean;
}

export const ESCAPED_METRIC = `${METRIC_PREFIX}escaped_target_pods_total`;
export const OBSERVED_METRIC = `${METRIC_PREFIX}target_pods_observed_total`;

export function createEscapedPodWatcher(opts: EscapedPodWatcherOptions): EscapedPodWatcher {
  const log = opts.logger.child({ watch: 'target-pods' });
  const registers = [opts.registry];
  const escaped = new Counter({
    name: ESCAPED_METRIC,
    help: 'Migration-target launcher pods created while this webhook would have injected them, that carry no injected marker.',
    registers,
  });
  const observed = new Counter({
    name: OBSERVED_METRIC,
    help: 'Migration-target launcher pods seen by the target-pod watch, by outcome (injected|opted-out|escaped|not-expected|unknown).',
    labelNames: ['outcome'] as const,
    registers,
  });
  const misses = missCounter(opts.registry);
  // Born at zero, so rate()/increase() see the first one.
  escaped.inc(0);
  for (const outcome of OUTCOMES) observed.inc({ outcome }, 0);

  /** UIDs already judged or waiting: the cache re-adds nothing, but a relist must not judge a pod twice. */
  const judged = new Set<string>();
  const pending = new Map<string, NodeJS.Timeout>();
  const uidOf = (pod: KubernetesObject): string => String(pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`);
  const skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;

  const judge = (pod: KubernetesObject): void => {
    const uid = uidOf(pod);
    pending.delete(uid);
    const outcome = classifyTargetPod(pod, {
      timeline: opts.timeline, hooks: opts.hooks, skewMs, now: Date.now(), ...(opts.expectation ? { expectation: opts.expectation } : {}),
    });
    if (outcome === 'pending') {
      // Its window is still open: judge it when it closes, against the modes seen by then.
      const delay = Math.max(1, judgeableAt(creationTime(pod) ?? 0, skewMs) - Date.now());
      pending.set(uid, setTimeout(() => judge(pod), delay).unref());
      return;
    }
    if (outcome === 'not-target') return;
    observed.inc({ outcome });
    const fields = {
      namespace: pod.metadata?.namespace,
      pod: pod.metadata?.name,
      migrationJobUID: pod.metadata?.labels?.[MIGRATION_JOB_LABEL],
      outcome,
    };
    if (outcome === 'escaped') {
      escaped.inc();
      log.warn(fields, 'migration-target pod escaped injection: created while injecting, but has no injected marker');
    } else {
      log.debug(fields, 'migration-target pod observed');
    }
  };

  /** Our server's last seen restart count per injected pod: only increases seen here count. */
  const restarts = new Map<string, number>();
  const onRestarts = (pod: KubernetesObject): void => {
    const uid = uidOf(pod);
    const now = slimRestarts(pod);
    const before = restarts.get(uid);
    restarts.set(uid, now);
    if (before === undefined || now <= before) return;
    for (let i = before; i < now; i++) misses.miss('server-restarted');
    log.warn(
      { namespace: pod.metadata?.namespace, pod: pod.metadata?.name, restarts: now },
      'hook server restarted in a migration-target pod; a hook call meanwhile went on without it',
    );
  };

  const onAdd = (pod: KubernetesObject): void => {
    const uid = uidOf(pod);
    onRestarts(pod);
    if (judged.has(uid)) return;
    judged.add(uid);
    judge(pod);
  };

  const onDelete = (pod: KubernetesObject): void => {
    const uid = uidOf(pod);
    judged.delete(uid);
    restarts.delete(uid);
    // A pod deleted within its window is still judged: it may have run a migration meanwhile.
  };

  const api = opts.kubeConfig.makeApiClient(CoreV1Api);
  const informer: RestartingInformer<KubernetesObject> = createRestartingInformer<KubernetesObject>({
    resource: PODS_RESOURCE,
    kubeConfig: opts.kubeConfig,
    path: '/api/v1/pods',
    labelSelector: TARGET_POD_SELECTOR,
    list: async () => (await api.listPodForAllNamespaces({ labelSelector: TARGET_POD_SELECTOR })),
    transform: (pod) => slimPod(pod),
    handlers: {
      add: onAdd,
      update: onRestarts,
      delete: onDelete,
    },
    logger: log,
    registry: opts.registry,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
    ...(opts.minWatchMs !== undefined ? { minWatchMs: opts.minWatchMs } : {}),
  });

  return {
    start: () => informer.start(),
    async stop() {
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
      await informer.stop();
    },
    watching: () => informer.watching(),
  };
}
