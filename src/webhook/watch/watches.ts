/**
 * The webhook's view of the cluster, from its settings: the gate provider (KubeVirt CR watch, or
 * a static source); the cluster watch (versions for --sidecar-mode auto/native, ResourceQuotas and
 * LimitRanges for --namespace-limits check); and, with --watch-target-pods, the escaped-pods
 * watch, which judges target pods against the modes the gate provider reports. main.ts only
 * starts and stops them.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { createClusterWatch, type ClusterWatch } from './cluster.js';
import { createEscapedPodWatcher, ModeTimeline, type EscapedPodWatcher } from './escaped.js';
import { createGateProvider } from './gate.js';
import { loadKubeConfig } from './informer.js';
import { REGISTRY } from '../../core/hooks/registry.js';
import type { WebhookSettings } from '../config/settings.js';
import type { GateProvider } from '../admission/types.js';

export interface Watches {
  gate: GateProvider;
  /** Present with --watch-target-pods. */
  escaped?: EscapedPodWatcher;
  /** Present unless --sidecar-mode classic and --namespace-limits ignore (then nothing is watched for it). */
  cluster?: ClusterWatch;
  /** Everything readiness waits for: the gate decided, the namespace limits listed. */
  synced(): boolean;
  /** Never rejects: a watch that cannot start retries with backoff. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface WatchesDeps {
  logger: Logger;
  registry: Registry;
  /** Tests pass a kubeconfig for their API server; otherwise --kubeconfig, $KUBECONFIG or in-cluster. */
  kubeConfig?: KubeConfig;
  /** See escaped.ts; tests shorten it to judge fresh pods quickly. */
  escapedSkewMs?: number;
}

type Needed = Pick<WebhookSettings, 'gateSource' | 'kubevirtNamespace' | 'kubeconfig' | 'watchTargetPods'> & {
  namespaceLimits?: WebhookSettings['namespaceLimits'];
  inject: Pick<WebhookSettings['inject'], 'hooks'> & Partial<Pick<WebhookSettings['inject'], 'sidecarMode' | 'injectPolicy' | 'trustUpstream'>>;
};

/** Throws (e.g. an unreadable --kubeconfig) only here, at creation: a startup error, exit code 2. */
export function createWatches(settings: Needed, deps: WatchesDeps): Watches {
  const versions = (settings.inject.sidecarMode ?? 'classic') !== 'classic';
  const namespaceLimits = settings.namespaceLimits === 'check';
  const needsApi = settings.gateSource === 'kubevirt' || settings.watchTargetPods || versions || namespaceLimits;
  const kubeConfig = needsApi ? (deps.kubeConfig ?? loadKubeConfig(settings.kubeconfig)) : undefined;
  const timeline = new ModeTimeline();
  const gate = createGateProvider(
    {
      source: settings.gateSource,
      namespace: settings.kubevirtNamespace,
      ...(kubeConfig ? { kubeConfig } : {}),
      siteHooks: REGISTRY.forMode('coexist', settings.inject.hooks, { trustUpstream: settings.inject.trustUpstream ?? [] }),
    },
    { logger: deps.logger, registry: deps.registry, onChange: (state) => timeline.record(state.mode, Date.now()) },
  );
  const escaped =
    settings.watchTargetPods && kubeConfig
      ? createEscapedPodWatcher({
          kubeConfig, timeline, hooks: settings.inject.hooks, logger: deps.logger, registry: deps.registry,
          expectation: { injectPolicy: settings.inject.injectPolicy ?? 'needed', trustUpstream: settings.inject.trustUpstream ?? [] },
          ...(deps.escapedSkewMs !== undefined ? { skewMs: deps.escapedSkewMs } : {}),
        })
      : undefined;
  const cluster = kubeConfig && (versions || namespaceLimits)
    ? createClusterWatch({ kubeConfig, versions, namespaceLimits }, { logger: deps.logger, registry: deps.registry })
    : undefined;
  return {
    gate,
    ...(escaped ? { escaped } : {}),
    ...(cluster ? { cluster } : {}),
    synced: () => gate.synced() && (cluster ? cluster.synced() : true),
    async start() {
      await Promise.all([gate.start(), escaped?.start(), cluster?.start()]);
    },
    async stop() {
      await Promise.all([gate.stop(), escaped?.stop(), cluster?.stop()]);
    },
  };
}
