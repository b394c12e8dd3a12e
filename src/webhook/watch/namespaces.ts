/**
 * The namespace watch, for SiteHook namespaceSelectors (docs/site-hooks.md): the restarting
 * informer on namespaces, cluster-wide, keeping only each namespace's name and labels, and a map
 * namespace → labels for admission.
 *
 * Fail-safe: until the first list is applied, and for a namespace it has not seen, labels() is
 * undefined, and a SiteHook with a namespaceSelector then selects nothing (the state before site
 * hooks existed). Readiness does not wait for it, as it does not wait for the SiteHook watch.
 * RBAC: list/watch namespaces (the ClusterRole premigration-hooks-cluster-reader), nothing more.
 */
import { CoreV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { isObject } from '../../shared/json.js';
import { createRestartingInformer, type BackoffOptions } from './informer.js';

export const NAMESPACES_RESOURCE = 'namespaces';

/** Only what the cache and selection need: name, uid, resourceVersion and string-valued labels. */
export function slimNamespace<T extends KubernetesObject>(ns: T): T {
  const m = isObject(ns.metadata) ? (ns.metadata as Record<string, unknown>) : {};
  const labels: Record<string, string> = {};
  if (isObject(m.labels)) for (const [k, v] of Object.entries(m.labels)) if (typeof v === 'string') labels[k] = v;
  return { apiVersion: ns.apiVersion, kind: ns.kind, metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, labels } } as unknown as T;
}

export interface NamespaceWatch {
  /** The namespace's labels; undefined before the first list and for a namespace not seen. */
  labels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  synced(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createNamespaceWatch(opts: {
  kubeConfig: KubeConfig; logger: Logger; registry?: Registry; backoff?: Partial<BackoffOptions>;
}): NamespaceWatch {
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const byName = new Map<string, Readonly<Record<string, string>>>();
  const put = (ns: KubernetesObject): void => {
    const name = ns.metadata?.name;
    if (name) byName.set(name, ns.metadata?.labels ?? {});
  };
  const informer = createRestartingInformer<KubernetesObject>({
    resource: NAMESPACES_RESOURCE,
    kubeConfig: opts.kubeConfig,
    path: '/api/v1/namespaces',
    list: async () => core.listNamespace(),
    transform: (ns) => slimNamespace(ns),
    handlers: {
      add: put,
      update: put,
      delete: (ns) => {
        if (ns.metadata?.name) byName.delete(ns.metadata.name);
      },
    },
    logger: opts.logger.child({ watch: 'namespaces' }),
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
  });
  return {
    labels: (namespace) => (informer.synced() ? byName.get(namespace) : undefined),
    synced: () => informer.synced(),
    start: () => informer.start(),
    stop: () => informer.stop(),
  };
}
