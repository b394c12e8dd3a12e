/**
 * The webhook's read-only view of the cluster beyond the KubeVirt CR (docs/webhook.md):
 * - versions, for --sidecar-mode auto: the apiserver's GET /version (re-read every 10 min, so an
 *   upgrade is noticed) and, through a restarting informer on nodes, every kubelet's
 *   status.nodeInfo.kubeletVersion;
 * - with --namespace-limits check: restarting informers on ResourceQuotas and LimitRanges, all
 *   namespaces, so admit() can tell whether our containers would get a pod refused.
 * Thin: it keeps only the fields the pure rules read (src/webhook/admission/sidecar.ts and
 * src/webhook/admission/limits.ts) and hands them over through the ClusterView interface.
 * RBAC: list/watch on nodes, resourcequotas and limitranges (manifests/clusterrole.yaml); GET
 * /version needs none beyond authentication.
 */
import { CoreV1Api, VersionApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { backoffDelay, createRestartingInformer, DEFAULT_BACKOFF, type BackoffOptions, type RestartingInformer } from './informer.js';
import type { ClusterView } from '../admission/admit.js';
import type { NamespaceLimits } from '../admission/inject.js';
import { nativeSidecarSupport, type SidecarSupport } from '../admission/sidecar.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

export const NODES_RESOURCE = 'nodes';
export const QUOTAS_RESOURCE = 'resourcequotas';
export const LIMITRANGES_RESOURCE = 'limitranges';
export const VERSION_REFRESH_MS = 10 * 60_000;

const obj = (v: unknown): Json => (isObject(v) ? v : {});

/** Identity the cache and watch resumption need. */
function identity(o: KubernetesObject): Json {
  const m = obj(o.metadata);
  return { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
}

export function slimNode<T extends KubernetesObject>(node: T): T {
  const kubeletVersion = obj(obj(obj(node as unknown).status).nodeInfo).kubeletVersion;
  return { apiVersion: node.apiVersion, kind: node.kind, metadata: identity(node), status: { nodeInfo: { kubeletVersion } } } as unknown as T;
}

export function slimQuota<T extends KubernetesObject>(q: T): T {
  const spec = obj(obj(q as unknown).spec);
  const used = obj(obj(obj(q as unknown).status).used);
  return {
    apiVersion: q.apiVersion, kind: q.kind, metadata: identity(q),
    spec: { hard: spec.hard, scopes: spec.scopes, scopeSelector: spec.scopeSelector }, status: { used },
  } as unknown as T;
}

export function slimLimitRange<T extends KubernetesObject>(lr: T): T {
  return { apiVersion: lr.apiVersion, kind: lr.kind, metadata: identity(lr), spec: { limits: obj(obj(lr as unknown).spec).limits } } as unknown as T;
}

export interface ClusterWatchSettings {
  kubeConfig: KubeConfig;
  /** Nodes and /version, for --sidecar-mode auto and native. */
  versions: boolean;
  /** ResourceQuotas and LimitRanges (--namespace-limits check). */
  namespaceLimits: boolean;
  backoff?: Partial<BackoffOptions>;
  minWatchMs?: number;
  versionRefreshMs?: number;
}

export interface ClusterWatch extends ClusterView {
  /** The namespace informers (when on) have applied their first list. */
  synced(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createClusterWatch(settings: ClusterWatchSettings, deps: { logger: Logger; registry: Registry }): ClusterWatch {
  const log = deps.logger.child({ watch: 'cluster' });
  const core = settings.kubeConfig.makeApiClient(CoreV1Api);
  const common = {
    kubeConfig: settings.kubeConfig, registry: deps.registry, handlers: {},
    ...(settings.backoff ? { backoff: settings.backoff } : {}),
    ...(settings.minWatchMs !== undefined ? { minWatchMs: settings.minWatchMs } : {}),
  };
  const informers: RestartingInformer<KubernetesObject>[] = [];

  let apiserver: string | undefined;
  let lastSupport: SidecarSupport | undefined;
  const nodes = settings.versions
    ? createRestartingInformer<KubernetesObject>({
        ...common, resource: NODES_RESOURCE, path: '/api/v1/nodes', logger: log.child({ resource: NODES_RESOURCE }),
        list: async () => core.listNode(), transform: (n) => slimNode(n),
        handlers: { synced: () => support(), add: () => support(), update: () => support(), delete: () => support() },
      })
    : undefined;
  if (nodes) informers.push(nodes);

  const support = (): SidecarSupport => {
    const kubelets = nodes?.synced() ? nodes.list().map((n) => { const v = obj(obj(obj(n as unknown).status).nodeInfo).kubeletVersion; return typeof v === 'string' ? v : ''; }) : undefined;
    const s = nativeSidecarSupport({ ...(apiserver !== undefined ? { apiserver } : {}), ...(kubelets ? { kubelets } : {}) });
    if (!lastSupport || lastSupport.native !== s.native) log.info({ nativeSidecars: s.native ?? 'unknown', why: s.why }, 'native sidecar support');
    lastSupport = s;
    return s;
  };

  const quotas = settings.namespaceLimits
    ? createRestartingInformer<KubernetesObject>({
        ...common, resource: QUOTAS_RESOURCE, path: '/api/v1/resourcequotas', logger: log.child({ resource: QUOTAS_RESOURCE }),
        list: async () => core.listResourceQuotaForAllNamespaces(), transform: (q) => slimQuota(q),
      })
    : undefined;
  const limitRanges = settings.namespaceLimits
    ? createRestartingInformer<KubernetesObject>({
        ...common, resource: LIMITRANGES_RESOURCE, path: '/api/v1/limitranges', logger: log.child({ resource: LIMITRANGES_RESOURCE }),
        list: async () => core.listLimitRangeForAllNamespaces(), transform: (l) => slimLimitRange(l),
      })
    : undefined;
  if (quotas) informers.push(quotas);
  if (limitRanges) informers.push(limitRanges);

  // GET /version: at start, every versionRefreshMs, and with backoff after a failure.
  const versionApi = settings.versions ? settings.kubeConfig.makeApiClient(VersionApi) : undefined;
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...settings.backoff };
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  const readVersion = async (): Promise<void> => {
    if (!versionApi || stopped) return;
    let next = settings.versionRefreshMs ?? VERSION_REFRESH_MS;
    try {
      const info = await versionApi.getCode();
      apiserver = typeof info.gitVersion === 'string' ? info.gitVersion : undefined;
      failures = 0;
      support();
    } catch (err) {
      next = backoffDelay(failures, backoff);
      failures += 1;
      log.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: next }, 'GET /version failed');
    }
    if (!stopped) timer = setTimeout(() => void readVersion(), next).unref();
  };

  const inNamespace = (list: readonly KubernetesObject[], ns: string): KubernetesObject[] => list.filter((o) => o.metadata?.namespace === ns);

  return {
    sidecars: () => lastSupport ?? support(),
    namespaceLimits(namespace: string): NamespaceLimits | undefined {
      if (!quotas?.synced() || !limitRanges?.synced()) return undefined;
      return { quotas: inNamespace(quotas.list(), namespace), limitRanges: inNamespace(limitRanges.list(), namespace) };
    },
    synced: () => (quotas ? quotas.synced() : true) && (limitRanges ? limitRanges.synced() : true),
    async start() {
      stopped = false;
      await Promise.all([readVersion(), ...informers.map((i) => i.start())]);
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
