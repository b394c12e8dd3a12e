/**
 * The SiteHook watch (docs/site-hooks.md): the resilient informer on
 * sitehooks.premigration-hooks.kubevirt.io, the accepted SiteHooks for admission, and
 * status.conditions (type Accepted: True / False with reason Valid / Invalid and the problems).
 *
 * HA: every webhook replica watches and decides the same way; status is written only for a
 * generation that has no status yet (status.observedGeneration < metadata.generation), with a PUT
 * of the object as listed, so its resourceVersion makes the apiserver refuse (409) a second
 * replica's write for the same change. Replicas therefore never fight: the first write wins and the
 * others see it. (Replicas with different --site-hook-allow would judge differently; the first
 * judgement stands until the SiteHook changes.)
 * RBAC: list/watch sitehooks, update sitehooks/status, nothing more.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { API_GROUP, bySiteHookOrder, compileSiteHook, type AllowList, type CompiledSiteHook } from '../../core/site-hooks/index.js';
import { siteHookProblems } from '../admission/sitehook-validate.js';
import { asObject } from '../../shared/json.js';
import { createRestartingInformer } from './informer.js';

export const SITEHOOK_VERSION = 'v1alpha1';
export const SITEHOOK_PLURAL = 'sitehooks';
export const SITEHOOK_PATH = `/apis/${API_GROUP}/${SITEHOOK_VERSION}/${SITEHOOK_PLURAL}`;

export interface AcceptedCondition {
  type: 'Accepted';
  status: 'True' | 'False';
  reason: 'Valid' | 'Invalid';
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

/**
 * Pure: the status to write for this SiteHook, or undefined when its generation already has
 * one (written by us or by another replica).
 */
export function statusFor(obj: unknown, problems: string | undefined, now: Date): { observedGeneration: number; conditions: AcceptedCondition[] } | undefined {
  const metadata = asObject(asObject(obj).metadata);
  const generation = typeof metadata.generation === 'number' ? metadata.generation : 0;
  const status = asObject(asObject(obj).status);
  const observed = typeof status.observedGeneration === 'number' ? status.observedGeneration : -1;
  if (observed >= generation) return undefined;
  const old = (Array.isArray(status.conditions) ? status.conditions : []).map(asObject).find((c) => c.type === 'Accepted');
  const accepted = problems === undefined;
  const statusText = accepted ? 'True' : 'False';
  const message = accepted ? 'the SiteHook is valid and is delivered to the target pods it selects' : problems.slice(0, 32768);
  return {
    observedGeneration: generation,
    conditions: [{
      type: 'Accepted', status: statusText, reason: accepted ? 'Valid' : 'Invalid', message, observedGeneration: generation,
      // The transition time moves only when the status does (Kubernetes condition convention).
      lastTransitionTime: old && old.status === statusText && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }],
  };
}

export interface SiteHookWatch {
  /** Accepted SiteHooks, in run order. */
  current(): readonly CompiledSiteHook[];
  synced(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createSiteHookWatch(opts: { kubeConfig: KubeConfig; allow: AllowList; logger: Logger; registry?: Registry; now?: () => Date }): SiteHookWatch {
  const log = opts.logger.child({ component: 'sitehook-watch' });
  const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  let accepted: CompiledSiteHook[] = [];
  let published = false;
  let scheduled = false;

  const writeStatus = async (obj: KubernetesObject, status: NonNullable<ReturnType<typeof statusFor>>): Promise<void> => {
    const name = obj.metadata?.name ?? '';
    try {
      await api.replaceClusterCustomObjectStatus({ group: API_GROUP, version: SITEHOOK_VERSION, plural: SITEHOOK_PLURAL, name, body: { ...obj, status } });
      log.info({ sitehook: name, generation: status.observedGeneration, accepted: status.conditions[0]!.status }, 'SiteHook status written');
    } catch (err) {
      // 409: another replica wrote first (or the object changed); the next event brings the new state.
      const code = (err as { code?: unknown }).code;
      if (code !== 409) log.warn({ sitehook: name, code, err: (err as Error).message }, 'cannot write SiteHook status');
    }
  };

  // Handlers run only after start(), so `informer` is initialised by the time publish() reads it.
  const publish = (): void => {
    scheduled = false;
    const next: CompiledSiteHook[] = [];
    for (const obj of informer.list()) {
      const problems = siteHookProblems(obj, opts.allow);
      if (problems === undefined) next.push(compileSiteHook(obj, opts.allow));
      const status = statusFor(obj, problems, (opts.now ?? (() => new Date()))());
      if (status !== undefined) void writeStatus(obj, status);
    }
    accepted = next.sort(bySiteHookOrder);
    published = true;
  };
  const schedulePublish = (): void => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(publish);
  };
  const informer = createRestartingInformer<KubernetesObject>({
    resource: SITEHOOK_PLURAL,
    kubeConfig: opts.kubeConfig,
    path: SITEHOOK_PATH,
    list: async () => {
      try {
        return (await api.listClusterCustomObject({ group: API_GROUP, version: SITEHOOK_VERSION, plural: SITEHOOK_PLURAL })) as KubernetesListObject<KubernetesObject>;
      } catch (err) {
        // 404: the CRD is not installed; no SiteHooks, and the watch retries until it is.
        if ((err as { code?: unknown }).code === 404) return { apiVersion: `${API_GROUP}/${SITEHOOK_VERSION}`, kind: 'SiteHookList', metadata: {}, items: [] };
        throw err;
      }
    },
    handlers: { add: schedulePublish, update: schedulePublish, delete: schedulePublish, synced: schedulePublish },
    logger: log,
    ...(opts.registry ? { registry: opts.registry } : {}),
  });
  return {
    current: () => accepted,
    synced: () => published,
    start: () => informer.start(),
    stop: () => informer.stop(),
  };
}
