import type { DomainXml } from '../xml/index.js';
import type { HostTopology } from '../topology/types.js';

/** What a hook knows besides the XML: facts measured on the target. */
export interface HookContext {
  /** cpuset of the target's compute container (from its cgroup), ascending. */
  cpuset: number[];
  /** Target node topology, read from sysfs (never from vmi.status). */
  host: HostTopology;
  /** Cross-namespace (decentralized) migration: both set and different to act. */
  sourceNamespace?: string;
  targetNamespace?: string;
}

/** One edit a hook made, for the change report and logs (never carries whole XML). */
export interface Change {
  hook: string;
  /** Element path such as `/domain/cputune/vcpupin[@vcpu='0']/@cpuset`. */
  path: string;
  before: string | null;
  after: string | null;
  /**
   * Set when this change corrects a placement that was already made for this target (cpu-dedicated:
   * every enabled vCPU was pinned inside the target's cpuset, but not where the placement on this
   * node's topology puts it). A readable note that names the mis-pinned vCPUs.
   */
  correction?: string;
}

export interface Hook {
  /** Stable name used in --hooks, metrics and logs (kebab-case). */
  readonly name: string;
  readonly description: string;
  /** Cheap check on the XML: should this hook run at all? */
  appliesTo(doc: DomainXml, ctx: HookContext): boolean;
  /** Edit `doc` in place, return what changed. Throw HookRefusal to refuse. */
  apply(doc: DomainXml, ctx: HookContext): Change[];
}

/**
 * The parts of a migration-target launcher pod that a registry rule may read: a plain
 * Kubernetes Pod object as JSON, structurally typed so that the core needs no Kubernetes types.
 */
export interface TargetPod {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}
