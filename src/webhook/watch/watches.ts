/**
 * The webhook's view of the cluster, from its settings: the gate provider (KubeVirt CR watch, or
 * a static source) and, with --watch-target-pods, the escaped-pods watch, which judges target
 * pods against the modes the gate provider reports. main.ts only starts and stops them.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
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
  inject: Pick<WebhookSettings['inject'], 'hooks'>;
};

/** Throws (e.g. an unreadable --kubeconfig) only here, at creation: a startup error, exit code 2. */
export function createWatches(settings: Needed, deps: WatchesDeps): Watches {
  const needsApi = settings.gateSource === 'kubevirt' || settings.watchTargetPods;
  const kubeConfig = needsApi ? (deps.kubeConfig ?? loadKubeConfig(settings.kubeconfig)) : undefined;
  const timeline = new ModeTimeline();
  const gate = createGateProvider(
    {
      source: settings.gateSource,
      namespace: settings.kubevirtNamespace,
      ...(kubeConfig ? { kubeConfig } : {}),
      siteHooks: REGISTRY.forMode('coexist', settings.inject.hooks),
    },
    { logger: deps.logger, registry: deps.registry, onChange: (state) => timeline.record(state.mode, Date.now()) },
  );
  const escaped =
    settings.watchTargetPods && kubeConfig
      ? createEscapedPodWatcher({
          kubeConfig, timeline, hooks: settings.inject.hooks, logger: deps.logger, registry: deps.registry,
          ...(deps.escapedSkewMs !== undefined ? { skewMs: deps.escapedSkewMs } : {}),
        })
      : undefined;
  return {
    gate,
    ...(escaped ? { escaped } : {}),
    async start() {
      await Promise.all([gate.start(), escaped?.start()]);
    },
    async stop() {
      await Promise.all([gate.stop(), escaped?.stop()]);
    },
  };
}
