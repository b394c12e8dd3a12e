/**
 * Apply a patch locally (fast-json-patch, with validation) and check the result the way the
 * apiserver would judge it, plus our own invariants. A patch that fails here is never sent:
 * the apiserver rejects a pod whose patch does not apply or whose result is invalid, whatever
 * the failurePolicy, so a bad patch would turn our bug into a failed migration.
 */
import jsonpatch, { type Operation } from 'fast-json-patch';
import { COMPUTE_CONTAINER, FORBIDDEN_MOUNT_PATHS, HOOKS_DIR, RUN_DIR } from './names.js';
import { parseQuantity } from '../../core/pod/quantity.js';
import { qosClass } from '../../core/pod/qos.js';
import { targetSkipReason } from './target.js';
import { isObject, type JsonObject as Json } from '../../shared/json.js';

const asArray = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

function duplicate(names: unknown[]): string | undefined {
  const seen = new Set<unknown>();
  for (const n of names) {
    if (seen.has(n)) return String(n);
    seen.add(n);
  }
  return undefined;
}

/**
 * Apply with validation; throws JsonPatchError when an operation does not apply. Both the pod
 * and the patch are cloned: fast-json-patch inserts op values by reference, so a later op would
 * otherwise write into an earlier op's value (e.g. `add /spec/initContainers []` then `…/-`).
 */
export function applyPatchChecked(pod: unknown, patch: readonly Operation[]): Json {
  const ops = jsonpatch.deepClone(patch) as Operation[];
  return jsonpatch.applyPatch(jsonpatch.deepClone(pod), ops, true, true).newDocument as Json; // already our copy: mutate it
}

/** Fields the apiserver's validateInitContainers forbids on an init container that is not restartable. */
export const RESTARTABLE_ONLY_FIELDS = ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/**
 * The apiserver refuses `spec.initContainers[i].startupProbe: Forbidden: may not be set for init
 * containers without restartPolicy=Always` (and the same for the other probes and lifecycle).
 * Where native sidecars are off (Kubernetes 1.28's default) restartPolicy is dropped before
 * validation, so a native sidecar's probe is refused there too; the sidecar shape decides that.
 */
export function initContainerProblem(initContainers: readonly Json[]): string | undefined {
  for (const [i, c] of initContainers.entries()) {
    if (c.restartPolicy === 'Always') continue;
    for (const field of RESTARTABLE_ONLY_FIELDS) {
      if (c[field] !== undefined) return `spec.initContainers[${i}].${field}: may not be set for init containers without restartPolicy=Always`;
    }
  }
  return undefined;
}

/** undefined when the patch is safe to send; otherwise what is wrong. */
export function verifyPatch(pod: Json, patch: readonly Operation[], ours: { volume: string; containers: string[] }): string | undefined {
  let after: Json;
  try {
    after = applyPatchChecked(pod, patch);
  } catch (err) {
    return `patch does not apply: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  const spec = isObject(after.spec) ? after.spec : {};
  const containers = asArray(spec.containers);
  const initContainers = asArray(spec.initContainers);
  const all = [...containers, ...initContainers, ...asArray(spec.ephemeralContainers)];

  if (containers[0]?.name !== COMPUTE_CONTAINER) return 'compute is no longer the first container';
  const initProblem = initContainerProblem(initContainers);
  if (initProblem !== undefined) return initProblem;
  const dupContainer = duplicate(all.map((c) => c.name));
  if (dupContainer !== undefined) return `duplicate container name "${dupContainer}"`;
  const volumes = asArray(spec.volumes);
  const dupVolume = duplicate(volumes.map((v) => v.name));
  if (dupVolume !== undefined) return `duplicate volume name "${dupVolume}"`;
  const volumeNames = new Set(volumes.map((v) => v.name));

  for (const c of all) {
    const mounts = asArray(c.volumeMounts);
    const dupMount = duplicate(mounts.map((m) => m.mountPath));
    if (dupMount !== undefined) return `container "${String(c.name)}" mounts "${dupMount}" twice`;
    for (const m of mounts) {
      if (!volumeNames.has(m.name)) return `container "${String(c.name)}" mounts unknown volume "${String(m.name)}"`;
      if (m.name === ours.volume && FORBIDDEN_MOUNT_PATHS.some((p) => m.mountPath === p || String(m.mountPath).startsWith(`${p}/`))) {
        return `our volume is mounted at forbidden path ${String(m.mountPath)}`;
      }
    }
    const resources = isObject(c.resources) ? c.resources : {};
    const requests = isObject(resources.requests) ? resources.requests : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    for (const [name, limit] of Object.entries(limits)) {
      const r = parseQuantity(requests[name]);
      const l = parseQuantity(limit);
      if (r !== undefined && l !== undefined && r > l) return `container "${String(c.name)}": ${name} request above limit`;
    }
  }

  for (const name of ours.containers) {
    if (!all.some((c) => c.name === name)) return `container "${name}" missing after patch`;
  }
  const computeMounts = asArray(containers[0]?.volumeMounts).filter((m) => m.name === ours.volume).map((m) => m.mountPath);
  if (!computeMounts.includes(HOOKS_DIR) || !computeMounts.includes(RUN_DIR)) return 'compute lacks our mounts';

  const before = qosClass(pod.spec);
  const now = qosClass(spec);
  if (before !== now) return `QoS class would change from ${before} to ${now}`;
  // Idempotency: the patched pod must be recognised as ours and left alone next time.
  if (targetSkipReason(after) !== 'already-injected') return 'patched pod is not recognised as injected';
  return undefined;
}
