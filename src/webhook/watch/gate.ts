/**
 * The GateProvider: where admission decisions get their mode from.
 * - source 'always' | 'never': a fixed state, synced from the start, no API access.
 * - source 'kubevirt': a restarting informer on kubevirts.kubevirt.io/v1 in one namespace; every
 *   change of the CRs recomputes the state with the pure rules of mode.ts.
 *
 * Logs and notifications (docs/feature-gate.md):
 *   - once the first list is complete: one "mode" line with the initial state (the same line the
 *     static sources log at start) and one onChange(state);
 *   - then one "mode changed" line per change of mode, and one "gate state changed, mode unchanged"
 *     line when only the gate, the version or the reason moved (e.g. 1.9 → 1.10 stays coexist);
 *     onChange once per such change. Events that change nothing are silent.
 *   The events of one list (or one chunk of the watch stream) are applied before the state is
 *   recomputed, so a relist that swaps CRs never shows a transient state.
 *
 * Metrics: this module's informer exports watch_restarts_total{resource="kubevirts"} and
 * watch_synced{resource="kubevirts"}. mode{mode}, feature_gate_enabled and kubevirt_info{version}
 * are read from current() at scrape time by src/webhook/http/metrics.ts, so they cannot lag behind.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { createRestartingInformer, loadKubeConfig, type BackoffOptions, type RestartingInformer } from './informer.js';
import { staticState, stateFromKubeVirts } from '../admission/mode.js';
import type { GateProvider, GateSource, GateState } from '../admission/types.js';

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';
export const KUBEVIRT_PLURAL = 'kubevirts';
export const KUBEVIRT_RESOURCE = 'kubevirts';

export interface GateProviderSettings {
  source: GateSource;
  /** Namespace of the KubeVirt CR: kubevirt upstream, openshift-cnv on OpenShift, kubevirt-hyperconverged with the community HCO. */
  namespace: string;
  /** Defaults to the in-cluster / $KUBECONFIG configuration. Only read for source 'kubevirt'. */
  kubeConfig?: KubeConfig;
  /** Hooks the server would run in coexist mode (those upstream lacks); only shapes the reason. */
  siteHooks?: readonly string[];
  /** See ModeInput.stepAside (default true). */
  stepAside?: boolean;
  backoff?: Partial<BackoffOptions>;
  minWatchMs?: number;
}

export interface GateProviderDeps {
  logger: Logger;
  registry: Registry;
  /**
   * Called with the first known state (after the first list; at start() for static sources) and
   * after every later change of it (mode, gate, version or reason).
   */
  onChange?: (state: GateState) => void;
}

export function kubevirtCollectionPath(namespace: string): string {
  return `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/namespaces/${encodeURIComponent(namespace)}/${KUBEVIRT_PLURAL}`;
}

const sameState = (a: GateState, b: GateState): boolean =>
  a.mode === b.mode && a.gateEnabled === b.gateEnabled && a.kubevirtVersion === b.kubevirtVersion && a.reason === b.reason;

export function createGateProvider(settings: GateProviderSettings, deps: GateProviderDeps): GateProvider {
  const log = deps.logger.child({ gateSource: settings.source });
  if (settings.source !== 'kubevirt') {
    const state = staticState(settings.source);
    return {
      current: () => state,
      synced: () => true,
      start() {
        log.info({ mode: state.mode, gateEnabled: state.gateEnabled, reason: state.reason }, 'mode');
        deps.onChange?.(state);
        return Promise.resolve();
      },
      stop: () => Promise.resolve(),
    };
  }

  const namespace = settings.namespace;
  const siteHooksConfigured = (settings.siteHooks ?? []).length > 0;
  let current: GateState = {
    mode: 'off', gateEnabled: false, reason: `waiting for the first list of KubeVirt CRs in namespace ${namespace}`,
  };
  let published = false;
  let scheduled = false;
  let crdMissingLogged = false;

  const publish = (): void => {
    scheduled = false;
    if (!informer.synced()) return; // the initial list arrives object by object: decide once it is complete
    const opts: Parameters<typeof stateFromKubeVirts>[1] = { siteHooksConfigured, namespace };
    if (settings.stepAside !== undefined) opts.stepAside = settings.stepAside;
    const next = stateFromKubeVirts(informer.list(), opts);
    if (published && sameState(current, next)) return;
    const previous = current;
    current = next;
    const fields = { mode: next.mode, gateEnabled: next.gateEnabled, kubevirtVersion: next.kubevirtVersion ?? 'unknown', reason: next.reason };
    if (!published) log.info(fields, 'mode');
    else if (previous.mode !== next.mode) log.info({ ...fields, previousMode: previous.mode }, 'mode changed');
    else log.info(fields, 'gate state changed, mode unchanged');
    published = true;
    deps.onChange?.(next);
  };
  /**
   * The library applies a list, or a chunk of watch events, synchronously, one callback per
   * object: recompute once, after the last of them (a microtask runs before any admission request).
   */
  const schedulePublish = (): void => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(publish);
  };

  const kubeConfig = settings.kubeConfig ?? loadKubeConfig();
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  // Handlers run only after start(), so `informer` is initialised by the time publish() reads it.
  const informer: RestartingInformer<KubernetesObject> = createRestartingInformer<KubernetesObject>({
    resource: KUBEVIRT_RESOURCE,
    kubeConfig,
    path: kubevirtCollectionPath(namespace),
    list: async () => {
      try {
        return (await api.listNamespacedCustomObject({
          group: KUBEVIRT_GROUP, version: KUBEVIRT_VERSION, namespace, plural: KUBEVIRT_PLURAL,
        })) as KubernetesListObject<KubernetesObject>;
      } catch (err) {
        // 404: the KubeVirt CRD is not installed (yet). That is a known state, not an outage: decide
        // it (mode off, so the webhook becomes ready) and let the failing watch restart with backoff
        // until the CRD appears, when the next list picks the CR up.
        if ((err as { code?: unknown }).code === 404) {
          if (!crdMissingLogged) log.warn({ namespace }, 'kubevirts.kubevirt.io not found: KubeVirt is not installed; mode off until it is');
          crdMissingLogged = true;
          return { apiVersion: `${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}`, kind: 'KubeVirtList', metadata: {}, items: [] };
        }
        crdMissingLogged = false;
        throw err;
      }
    },
    handlers: { add: schedulePublish, update: schedulePublish, delete: schedulePublish, synced: schedulePublish },
    logger: log,
    registry: deps.registry,
    ...(settings.backoff ? { backoff: settings.backoff } : {}),
    ...(settings.minWatchMs !== undefined ? { minWatchMs: settings.minWatchMs } : {}),
  });

  return {
    current: () => current,
    // Ready once the first list has been decided on, not merely received.
    synced: () => published,
    start: () => informer.start(),
    stop: () => informer.stop(),
  };
}
