/**
 * Would the target namespace's LimitRanges or ResourceQuotas refuse the pod once our containers
 * are in it? Pure: pod, LimitRange and ResourceQuota objects (as JSON, status.used included) in,
 * a verdict out (docs/webhook.md, "Namespace quotas and limit ranges"). The informers that supply
 * the objects are in src/webhook/watch/cluster.ts.
 *
 * The rules are the apiserver's own:
 * - LimitRanger, type Container (containers and init containers alike): missing requests/limits
 *   are defaulted from `defaultRequest`/`default` (which the apiserver itself defaults from
 *   `default`, `max` and `min` when a LimitRange is stored); then `min` needs a request ≥ min (and
 *   a limit ≥ min), `max` needs a limit ≤ max (and a request ≤ max), `maxLimitRequestRatio` needs
 *   both and limit/request ≤ ratio. We set the defaulted values explicitly on our container, so
 *   the pod is the same whether or not the LimitRanger's defaulting runs again after our patch.
 * - ResourceQuota: for each quota whose scopes match the pod, `status.used + pod usage` must not
 *   exceed `spec.hard` for requests.cpu, requests.memory, limits.cpu, limits.memory, cpu and
 *   memory (cpu/memory mean requests); and every container must specify each of those the quota
 *   tracks. Pod usage is the effective request (limit) of the pod: regular containers and
 *   restartable init containers summed, the largest non-restartable init container (plus the
 *   restartable ones started before it) if larger, plus spec.overhead; pod-level
 *   spec.resources, when set, instead.
 * Pod count quotas are not affected by our patch.
 */
import { parseQuantity } from '../../core/pod/quantity.js';
import { qosClass } from '../../core/pod/qos.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

const obj = (v: unknown): Json => (isObject(v) ? v : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

export interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export type LimitFit = { kind: 'ok'; resources: Resources | undefined } | { kind: 'violation'; message: string };

/** The item as the apiserver stores it (SetDefaults_LimitRangeItem for type Container). */
function defaultedItem(item: Json): { min: Json; max: Json; ratio: Json; default: Json; defaultRequest: Json } {
  const min = obj(item.min);
  const max = obj(item.max);
  const def: Json = { ...obj(item.default) };
  const defReq: Json = { ...obj(item.defaultRequest) };
  for (const [k, v] of Object.entries(max)) if (!(k in def)) def[k] = v;
  for (const [k, v] of Object.entries(def)) if (!(k in defReq)) defReq[k] = v;
  for (const [k, v] of Object.entries(min)) if (!(k in defReq)) defReq[k] = v;
  return { min, max, ratio: obj(item.maxLimitRequestRatio), default: def, defaultRequest: defReq };
}

function containerItems(limitRanges: readonly unknown[]): ReturnType<typeof defaultedItem>[] {
  const items: ReturnType<typeof defaultedItem>[] = [];
  for (const lr of limitRanges) {
    for (const item of arr(obj(obj(lr).spec).limits)) if (item.type === 'Container') items.push(defaultedItem(item));
  }
  return items;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/**
 * Our container's resources as they will be stored under these LimitRanges (defaults made
 * explicit), or the first constraint they break. A BestEffort pod must stay BestEffort: defaults
 * that would give our container cpu or memory are a violation.
 */
export function fitLimitRanges(ours: Resources | undefined, limitRanges: readonly unknown[], podSpec: unknown): LimitFit {
  const items = containerItems(limitRanges);
  if (items.length === 0) return { kind: 'ok', resources: ours };
  const requests: Record<string, string> = { ...(ours?.requests ?? {}) };
  const limits: Record<string, string> = { ...(ours?.limits ?? {}) };
  // LimitRanger: each LimitRange in turn fills only what is still missing (limits, then requests).
  for (const item of items) {
    for (const [k, v] of Object.entries(item.default)) if (!(k in limits)) limits[k] = text(v);
    for (const [k, v] of Object.entries(item.defaultRequest)) if (!(k in requests)) requests[k] = text(v);
  }
  // API validation after defaulting: a request above its limit is refused.
  for (const [k, l] of Object.entries(limits)) {
    const r = parseQuantity(requests[k]);
    const lv = parseQuantity(l);
    if (r !== undefined && lv !== undefined && r > lv) return { kind: 'violation', message: `LimitRange default limit ${k}=${l} is below our request ${requests[k] ?? ''}` };
  }
  for (const item of items) {
    for (const [k, v] of Object.entries(item.min)) {
      const min = parseQuantity(v);
      const r = parseQuantity(requests[k]);
      const l = parseQuantity(limits[k]);
      if (min === undefined) continue;
      if (r === undefined) return { kind: 'violation', message: `LimitRange min ${k}=${text(v)} needs a request` };
      if (r < min) return { kind: 'violation', message: `LimitRange min ${k}=${text(v)} is above our request ${requests[k] ?? ''}` };
      if (l !== undefined && l < min) return { kind: 'violation', message: `LimitRange min ${k}=${text(v)} is above our limit ${limits[k] ?? ''}` };
    }
    for (const [k, v] of Object.entries(item.max)) {
      const max = parseQuantity(v);
      const r = parseQuantity(requests[k]);
      const l = parseQuantity(limits[k]);
      if (max === undefined) continue;
      if (l === undefined) return { kind: 'violation', message: `LimitRange max ${k}=${text(v)} needs a limit` };
      if (l > max) return { kind: 'violation', message: `LimitRange max ${k}=${text(v)} is below our limit ${limits[k] ?? ''}` };
      if (r !== undefined && r > max) return { kind: 'violation', message: `LimitRange max ${k}=${text(v)} is below our request ${requests[k] ?? ''}` };
    }
    for (const [k, v] of Object.entries(item.ratio)) {
      const ratio = parseQuantity(v);
      const r = parseQuantity(requests[k]);
      const l = parseQuantity(limits[k]);
      if (ratio === undefined) continue;
      if (r === undefined || r === 0n || l === undefined || l === 0n) {
        return { kind: 'violation', message: `LimitRange maxLimitRequestRatio ${k}=${text(v)} needs a request and a limit` };
      }
      // l/r ≤ ratio, in exact integers: ratio is in nano-units.
      if (l * 1_000_000_000n > ratio * r) return { kind: 'violation', message: `LimitRange maxLimitRequestRatio ${k}=${text(v)} is below our limit/request` };
    }
  }
  const resources: Resources = {
    ...(Object.keys(requests).length ? { requests } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
  };
  if (qosClass(podSpec) === 'BestEffort' && ['cpu', 'memory'].some((k) => k in requests || k in limits)) {
    return { kind: 'violation', message: 'LimitRange defaults would give our container cpu/memory and make the BestEffort pod Burstable' };
  }
  return { kind: 'ok', resources: Object.keys(resources).length ? resources : undefined };
}

// ---- ResourceQuota ----

/** Quota resources our containers add to; cpu and memory mean requests. */
export const QUOTA_RESOURCES = ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory', 'cpu', 'memory'] as const;
type QuotaResource = (typeof QUOTA_RESOURCES)[number];

function split(r: QuotaResource): { kind: 'requests' | 'limits'; name: 'cpu' | 'memory' } {
  if (r === 'cpu' || r === 'memory') return { kind: 'requests', name: r };
  const [kind, name] = r.split('.') as ['requests' | 'limits', 'cpu' | 'memory'];
  return { kind, name };
}

const amount = (c: Json, kind: 'requests' | 'limits', name: string): bigint => {
  const res = obj(c.resources);
  let v = parseQuantity(obj(res[kind])[name]);
  // A limit without a request counts as request = limit (API defaulting did it before admission).
  if (v === undefined && kind === 'requests' && obj(res.requests)[name] === undefined) v = parseQuantity(obj(res.limits)[name]);
  return v !== undefined && v > 0n ? v : 0n;
};

/** The pod's effective request or limit of one resource, as the quota evaluator computes it (nano-units). */
export function podUsage(spec: unknown, kind: 'requests' | 'limits', name: 'cpu' | 'memory'): bigint {
  const s = obj(spec);
  const podLevel = obj(obj(s.resources)[kind])[name];
  let total: bigint;
  if (podLevel !== undefined) {
    total = parseQuantity(podLevel) ?? 0n;
  } else {
    total = 0n;
    for (const c of arr(s.containers)) total += amount(c, kind, name);
    let sidecars = 0n;
    let initMax = 0n;
    for (const c of arr(s.initContainers)) {
      const v = amount(c, kind, name);
      if (c.restartPolicy === 'Always') {
        total += v;
        sidecars += v;
        initMax = initMax > sidecars ? initMax : sidecars;
      } else {
        initMax = initMax > v + sidecars ? initMax : v + sidecars;
      }
    }
    if (initMax > total) total = initMax;
  }
  return total + (parseQuantity(obj(s.overhead)[name]) ?? 0n);
}

function scopeMatches(scope: string, spec: Json): boolean {
  switch (scope) {
    case 'Terminating': return spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null;
    case 'NotTerminating': return spec.activeDeadlineSeconds === undefined || spec.activeDeadlineSeconds === null;
    case 'BestEffort': return qosClass(spec) === 'BestEffort';
    case 'NotBestEffort': return qosClass(spec) !== 'BestEffort';
    default: return true; // unknown or pod-independent scopes: assume the quota applies (the safe side)
  }
}

/** Does this quota's scope (spec.scopes, spec.scopeSelector) cover the pod? */
export function quotaCovers(quota: unknown, spec: unknown): boolean {
  const qs = obj(obj(quota).spec);
  const s = obj(spec);
  for (const scope of Array.isArray(qs.scopes) ? qs.scopes : []) if (!scopeMatches(String(scope), s)) return false;
  for (const e of arr(obj(qs.scopeSelector).matchExpressions)) {
    const values = (Array.isArray(e.values) ? e.values : []).map(String);
    const scope = String(e.scopeName);
    if (scope === 'PriorityClass') {
      const pc = typeof s.priorityClassName === 'string' ? s.priorityClassName : '';
      const ok = e.operator === 'In' ? values.includes(pc)
        : e.operator === 'NotIn' ? !values.includes(pc)
          : e.operator === 'Exists' ? pc !== ''
            : e.operator === 'DoesNotExist' ? pc === '' : true;
      if (!ok) return false;
    } else if (e.operator === 'DoesNotExist' ? scopeMatches(scope, s) : !scopeMatches(scope, s)) {
      return false;
    }
  }
  return true;
}

/**
 * The first reason a quota would refuse the patched pod where the original was within it, or
 * undefined. `ours` are the containers we add (each must specify what a quota tracks).
 */
export function quotaVerdict(before: unknown, after: unknown, quotas: readonly unknown[], ours: readonly Json[]): string | undefined {
  for (const q of quotas) {
    if (!quotaCovers(q, before)) continue;
    const name = text(obj(obj(q).metadata).name);
    const hard = obj(obj(q).spec).hard;
    const used = obj(obj(obj(q).status).used);
    for (const r of QUOTA_RESOURCES) {
      const hardText = obj(hard)[r];
      const limit = parseQuantity(hardText);
      if (limit === undefined) continue;
      const { kind, name: res } = split(r);
      const missing = ours.find((c) => obj(obj(c.resources)[kind])[res] === undefined && !(kind === 'requests' && obj(obj(c.resources).limits)[res] !== undefined));
      if (missing) return `ResourceQuota ${name} tracks ${r}, which our container ${String(missing.name)} does not set`;
      const added = podUsage(after, kind, res) - podUsage(before, kind, res);
      if (added <= 0n) continue;
      const now = parseQuantity(used[r]) ?? 0n;
      if (now + podUsage(after, kind, res) > limit) {
        return `ResourceQuota ${name}: ${r} would exceed hard ${text(hardText)} (used ${text(used[r]) || '0'})`;
      }
    }
  }
  return undefined;
}

/**
 * LimitRange items of type Pod cap the pod's total: the first `max` (cpu or memory, on the pod's
 * effective request or limit) that our containers make the pod exceed, or undefined. A pod over
 * the cap without us is refused anyway and is not ours to judge.
 */
export function podLimitRangeVerdict(before: unknown, after: unknown, limitRanges: readonly unknown[]): string | undefined {
  for (const lr of limitRanges) {
    for (const item of arr(obj(obj(lr).spec).limits)) {
      if (item.type !== 'Pod') continue;
      for (const [k, v] of Object.entries(obj(item.max))) {
        if (k !== 'cpu' && k !== 'memory') continue;
        const max = parseQuantity(v);
        if (max === undefined) continue;
        for (const kind of ['limits', 'requests'] as const) {
          if (podUsage(after, kind, k) > max && podUsage(before, kind, k) <= max) {
            return `LimitRange ${text(obj(obj(lr).metadata).name)} Pod max ${k}=${text(v)} would be exceeded by the pod's ${kind}`;
          }
        }
      }
    }
  }
  return undefined;
}
