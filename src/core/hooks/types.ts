import type { DomainXml } from '../xml/index.js';
import type { HostTopology } from '../topology/types.js';

/** What a hook knows besides the XML: facts measured on the target. */
export interface HookContext {
  /** cpuset of the target's compute container (from its cgroup), ascending. */
  cpuset: number[];
  /** Target node topology, read from sysfs (never from vmi.status). */
  host: HostTopology;
  /**
   * The domain name libvirt called the hook with (its argv[1], sent by the client as
   * X-Premigration-Domain). libvirt renames the domain to the migration's DestName before it
   * calls the hook, so this equals the incoming `<name>`; disk-namespace cross-checks the two.
   */
  domainName?: string;
  /** Namespace of this target pod (downward API `metadata.namespace`, passed by the webhook). */
  podNamespace?: string;
  /** Name of the VMI this target pod runs (passed by the webhook). */
  vmiName?: string;
  /**
   * Explicit overrides for disk-namespace (CLI and server flags): the namespace the VM comes from
   * and the one it lands in. Each replaces what the hook would otherwise read from the domain.
   */
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
  /**
   * Edit `doc` in place, return what changed. Throw HookRefusal to refuse. `note` records why a
   * hook that ran chose to change nothing (the chain report and the log line carry it).
   */
  apply(doc: DomainXml, ctx: HookContext, note?: (message: string) => void): Change[];
}

/**
 * The parts of a migration-target launcher pod that a registry rule may read: a plain
 * Kubernetes Pod object as JSON, structurally typed so that the core needs no Kubernetes types.
 */
export interface TargetPod {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}
