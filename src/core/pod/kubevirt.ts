/**
 * What a KubeVirt-rendered migration-target launcher pod tells about its VM, read structurally
 * from the pod JSON (no Kubernetes types). The registry's appliesTo(pod) rules use these, so the
 * webhook injects only where a hook can act (docs/webhook.md, "Which hooks apply").
 *
 * The facts (KubeVirt release-1.5, 1.7 and main; cited in docs/webhook.md):
 * - dedicated CPUs: NodeSelectorRenderer adds the cpumanager label whenever vmi.IsCPUDedicated(),
 *   and WithCPUPinning sets compute's CPU requests == limits to one integer. The label key is
 *   `kubevirt.io/cpumanager` today and was the bare `cpumanager` in older releases.
 * - decentralized (cross-namespace or cross-cluster) targets carry the VMI annotation
 *   `kubevirt.io/create-migration-target: "true"`, which filterVMIAnnotationsForPod copies onto the pod.
 */
import { parseQuantity } from './quantity.js';
import { qosClass } from './qos.js';

/** KubeVirt's main container; other webhooks rely on it staying at index 0. */
export const COMPUTE_CONTAINER = 'compute';

/** The node label KubeVirt selects for dedicated-CPU VMs: current key first, then the older one. */
export const CPU_MANAGER_LABELS: readonly string[] = ['kubevirt.io/cpumanager', 'cpumanager'];

/** Set on the receiver VMI of a decentralized live migration and copied to its target pod. */
export const CREATE_MIGRATION_TARGET_ANNOTATION = 'kubevirt.io/create-migration-target';

/** The parts of a pod a rule reads: a plain Kubernetes Pod object as JSON. */
export interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? v.map(obj) : []);

const ONE_CPU = 1_000_000_000n; // nano-units of one CPU (src/core/pod/quantity.ts)

/** The compute container of the pod's spec, or undefined. */
export function computeContainer(spec: unknown): Json | undefined {
  return arr(obj(spec).containers).find((c) => c.name === COMPUTE_CONTAINER);
}

/**
 * compute's CPU as KubeVirt renders it for dedicated CPUs: request == limit == a whole number
 * (≥ 1) of CPUs. A request left out counts as the limit, as API defaulting makes it.
 */
export function hasIntegerExclusiveCpu(compute: Json | undefined): boolean {
  const resources = obj(compute?.resources);
  const limit = parseQuantity(obj(resources.limits).cpu);
  const requestText = obj(resources.requests).cpu;
  const request = requestText === undefined ? limit : parseQuantity(requestText);
  return limit !== undefined && request === limit && limit >= ONE_CPU && limit % ONE_CPU === 0n;
}

const isTrue = (v: unknown): boolean => v === 'true';

/**
 * The pod must land on a node carrying a cpumanager label set to "true": in spec.nodeSelector, or
 * in every term of the required node affinity (terms are ORed, so one term without it is enough
 * to land elsewhere).
 */
export function requiresCpuManagerNode(spec: unknown): boolean {
  const s = obj(spec);
  const selector = obj(s.nodeSelector);
  if (CPU_MANAGER_LABELS.some((l) => isTrue(selector[l]))) return true;
  const required = obj(obj(obj(s.affinity).nodeAffinity).requiredDuringSchedulingIgnoredDuringExecution);
  const terms = arr(required.nodeSelectorTerms);
  if (terms.length === 0) return false;
  return terms.every((term) =>
    arr(term.matchExpressions).some((e) => {
      const values = Array.isArray(e.values) ? e.values : [];
      return typeof e.key === 'string' && CPU_MANAGER_LABELS.includes(e.key) && e.operator === 'In' && values.length > 0 && values.every(isTrue);
    }),
  );
}

/**
 * KubeVirt's dedicated-CPU shape: a Guaranteed pod (QoS as the kubelet computes it), compute with
 * an integer CPU request == limit, and the cpumanager node selector. The label alone is not proof
 * (users, cluster nodeSelectors and a migration's addedNodeSelector can set it on any VM), and
 * without the integer CPUs the kubelet's static CPU manager gives compute no exclusive CPUs.
 */
export function hasDedicatedCpuShape(pod: PodLike): boolean {
  const spec = pod.spec;
  return qosClass(spec) === 'Guaranteed' && hasIntegerExclusiveCpu(computeContainer(spec)) && requiresCpuManagerNode(spec);
}

/** The target pod of a decentralized live migration (KubeVirt 1.6+, gate DecentralizedLiveMigration). */
export function isDecentralizedTarget(pod: PodLike): boolean {
  return obj(pod.metadata?.annotations)[CREATE_MIGRATION_TARGET_ANNOTATION] === 'true';
}
