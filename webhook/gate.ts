/**
 * The GateProvider: where admission decisions get their mode from.
 * - source 'always' | 'never': a fixed state, synced from the start, no API access.
 * - source 'kubevirt': a restarting informer on kubevirts.kubevirt.io/v1 in one namespace; every
 *   change of the CRs recomputes the state with the pure rules of mode.ts.
 *
 * Metrics: this module's informer exports watch_restarts_total{resource="kubevirts"} and
 * watch_synced{resource="kubevirts"}. mode{mode}, feature_gate_enabled and kubevirt_info{version}
 * are read from current() at scrape time by webhook/metrics.ts, so they cannot lag behind.
 */
import { CustomObjectsApi, KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../src/log.js';
import { createRestartingInformer, type BackoffOptions, type RestartingInformer } from './informer.js';
import { staticState, stateFromKubeVirts } from './mode.js';
import type { GateProvider, GateSource, GateState } from './types.js';

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';
export const KUBEVIRT_PLURAL = 'kubevirts';
export const KUBEVIRT_RESOURCE = 'kubevirts';

export interface GateProviderSettings {
  source: GateSource;
  /** Namespace of the KubeVirt CR: kubevirt upstream, openshift-cnv under HCO. */
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
  /** Called after every change of the state (mode, gate, version or reason). */
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
      async start() {
        log.info({ mode: state.mode, gateEnabled: state.gateEnabled, reason: state.reason }, 'mode');
      },
      async stop() {},
    };
  }

  const namespace = settings.namespace;
  const siteHooksConfigured = (settings.siteHooks ?? []).length > 0;
  let current: GateState = {
    mode: 'off', gateEnabled: false, reason: `waiting for the first list of KubeVirt CRs in namespace ${namespace}`,
  };
  let informer: RestartingInformer<KubernetesObject> | undefined;

  const publish = (): void => {
    if (!informer?.synced()) return; // the initial list arrives object by object: decide once it is complete
    const opts: Parameters<typeof stateFromKubeVirts>[1] = { siteHooksConfigured, namespace };
    if (settings.stepAside !== undefined) opts.stepAside = settings.stepAside;
    const next = stateFromKubeVirts(informer.list(), opts);
    if (sameState(current, next)) return;
    const previous = current;
    current = next;
    const fields = { mode: next.mode, gateEnabled: next.gateEnabled, kubevirtVersion: next.kubevirtVersion ?? 'unknown', reason: next.reason };
    if (previous.mode !== next.mode) log.info({ ...fields, previousMode: previous.mode }, 'mode changed');
    else log.info(fields, 'gate state changed, mode unchanged');
    deps.onChange?.(next);
  };

  const kubeConfig = settings.kubeConfig ?? defaultKubeConfig();
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  informer = createRestartingInformer<KubernetesObject>({
    resource: KUBEVIRT_RESOURCE,
    kubeConfig,
    path: kubevirtCollectionPath(namespace),
    list: async () =>
      (await api.listNamespacedCustomObject({
        group: KUBEVIRT_GROUP, version: KUBEVIRT_VERSION, namespace, plural: KUBEVIRT_PLURAL,
      })) as KubernetesListObject<KubernetesObject>,
    handlers: { add: publish, update: publish, delete: publish, synced: publish },
    logger: log,
    registry: deps.registry,
    ...(settings.backoff ? { backoff: settings.backoff } : {}),
    ...(settings.minWatchMs !== undefined ? { minWatchMs: settings.minWatchMs } : {}),
  });
  const watcher = informer;

  return {
    current: () => current,
    synced: () => watcher.synced(),
    start: () => watcher.start(),
    stop: () => watcher.stop(),
  };
}

function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // $KUBECONFIG, ~/.kube/config, else the in-cluster service account
  return kc;
}
