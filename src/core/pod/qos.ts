/**
 * The pod QoS class, computed the way the kubelet does (pkg/apis/core/v1/helper/qos): only cpu
 * and memory count; requests and limits are summed over every container, init containers
 * included; Guaranteed needs a cpu and a memory limit on every container and summed requests
 * equal to summed limits. A container that sets only limits gets requests == limits by API
 * defaulting, which has happened before admission; we apply the same rule for robustness.
 */
import { parseQuantity } from './quantity.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

const QOS_RESOURCES = ['cpu', 'memory'] as const;

interface ResourceRequirements {
  requests?: Record<string, unknown>;
  limits?: Record<string, unknown>;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function containersOf(spec: Record<string, unknown>): Record<string, unknown>[] {
  const list = (key: string): Record<string, unknown>[] =>
    Array.isArray(spec[key]) ? (spec[key] as unknown[]).map(record) : [];
  return [...list('containers'), ...list('initContainers')];
}

function positive(q: unknown): bigint | undefined {
  const v = parseQuantity(q);
  return v !== undefined && v > 0n ? v : undefined;
}

function classify(parts: ResourceRequirements[]): QosClass {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  for (const part of parts) {
    const req = record(part.requests);
    const lim = record(part.limits);
    const limitsFound = new Set<string>();
    for (const name of QOS_RESOURCES) {
      const l = positive(lim[name]);
      const r = positive(req[name]) ?? (req[name] === undefined ? l : undefined);
      if (r !== undefined) requests.set(name, (requests.get(name) ?? 0n) + r);
      if (l !== undefined) {
        limitsFound.add(name);
        limits.set(name, (limits.get(name) ?? 0n) + l);
      }
    }
    if (!QOS_RESOURCES.every((n) => limitsFound.has(n))) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, r] of requests) {
      if (limits.get(name) !== r) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

/** QoS class of a pod spec (raw JSON). Pod-level `spec.resources` (1.32+), when set, decides alone. */
export function qosClass(spec: unknown): QosClass {
  const s = record(spec);
  const podLevel = record(s.resources);
  if (Object.keys(record(podLevel.requests)).length || Object.keys(record(podLevel.limits)).length) {
    return classify([podLevel]);
  }
  return classify(containersOf(s).map((c) => record(c.resources) as ResourceRequirements));
}
