/**
 * The one list of hooks: what each is called, whether it is on by default, whether KubeVirt's
 * own in-tree target-side hooks do the same job, and on which migration-target pods it can act.
 * The webhook, the server, the CLI, the docs tables and the tests all read it.
 *
 * It is data, not a hard-coded array: built-in entries carry their implementation, and entries
 * that are not compiled in (site hooks, `site:<name>`) can be added to a copy with `with()`.
 * Adding a built-in hook: one file in src/core/hooks/, one entry in BUILT_IN below, one golden
 * test directory under test/golden/<hook name>/.
 */
import { InputError } from '../errors.js';
import { isDnsLabel } from '../names.js';
import { hasDedicatedCpuShape, isDecentralizedTarget } from '../pod/kubevirt.js';
import { cpuDedicatedHook } from './cpu-dedicated.js';
import { diskNamespaceHook } from './disk-namespace.js';
import type { Hook, TargetPod } from './types.js';

/**
 * How KubeVirt's own in-tree target-side hooks (VEP 141; Beta and on by default from 1.9, the
 * webhook's `coexist` mode) compare with ours:
 * - `equivalent`: upstream does the same job, as well; in `coexist` mode ours is not injected.
 * - `partial`: upstream does part of the job, or does it wrongly in known cases; in `coexist` mode
 *   ours runs after upstream's (idempotent where upstream was right), unless the admin trusts
 *   upstream for this hook (the webhook's --coexist-<hook>=false).
 * - `none`: upstream has no such hook; ours is injected in `coexist` mode too.
 */
export type UpstreamLevel = 'equivalent' | 'partial' | 'none';

export interface UpstreamEquivalence {
  readonly level: UpstreamLevel;
  /** One sentence for the README's compatibility table: what upstream does, and what it lacks. */
  readonly reason: string;
}

export interface HookEntry {
  /** Stable name used in --hooks, metrics and logs: kebab-case, or `site:<name>` for site hooks. */
  readonly name: string;
  readonly description: string;
  readonly source: 'built-in' | 'site';
  /** In the set used when no --hooks setting is given. */
  readonly defaultEnabled: boolean;
  readonly upstream: UpstreamEquivalence;
  /**
   * Pure: can this hook change the domain of this migration-target pod? The webhook injects
   * only where some enabled hook can act (unless --inject-policy always).
   */
  appliesTo(pod: TargetPod): boolean;
  /** The rule appliesTo implements, in words, for docs/webhook.md and the README. */
  readonly appliesWhen?: string;
  /** The code that edits the domain; absent for entries whose code is not compiled in. */
  readonly hook?: Hook;
}

const SITE_PREFIX = 'site:';

function builtIn(hook: Hook, fields: Omit<HookEntry, 'name' | 'description' | 'source' | 'hook'>): HookEntry {
  return { name: hook.name, description: hook.description, source: 'built-in', hook, ...fields };
}

/** Built-in hooks, in the order they run (KubeVirt's target-side order). */
const BUILT_IN: readonly HookEntry[] = [
  builtIn(cpuDedicatedHook, {
    defaultEnabled: true,
    upstream: {
      level: 'partial',
      reason: "upstream's CPUDedicatedHook re-pins from virt-handler's capabilities topology, which drops range-formatted siblings ('4-5'), so it mis-pins on hosts with adjacent SMT siblings; ours reads sysfs",
    },
    appliesTo: hasDedicatedCpuShape,
    appliesWhen: 'the pod is Guaranteed, compute has CPU requests == limits == a whole number of CPUs, and the pod requires a node labelled kubevirt.io/cpumanager=true (or the older cpumanager=true) in nodeSelector or in every required node-affinity term',
  }),
  builtIn(diskNamespaceHook, {
    defaultEnabled: true,
    upstream: {
      level: 'partial',
      reason: "upstream's released DiskSourcePathHook rewrites the namespace segment of disk paths but not the VMI name, which a decentralized migration can change too, nor the NVRAM path",
    },
    appliesTo: isDecentralizedTarget,
    appliesWhen: 'the pod carries the annotation kubevirt.io/create-migration-target: "true" (the target of a decentralized live migration)',
  }),
];

/** Options of HookRegistry.forMode. */
export interface ModeOptions {
  /**
   * Hooks whose `partial` upstream equivalent the admin trusts: in `coexist` mode they are left
   * to upstream like `equivalent` ones (the webhook's --coexist-cpu-dedicated=false).
   */
  trustUpstream?: readonly string[];
}

export class HookRegistry {
  private constructor(readonly entries: readonly HookEntry[]) {
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.name)) throw new InputError(`hook "${e.name}" is registered twice`);
      seen.add(e.name);
      const siteName = e.name.startsWith(SITE_PREFIX);
      if (siteName !== (e.source === 'site') || !isDnsLabel(siteName ? e.name.slice(SITE_PREFIX.length) : e.name)) {
        throw new InputError(`invalid hook name "${e.name}" for a ${e.source} hook`);
      }
    }
  }

  static builtIn(): HookRegistry {
    return new HookRegistry(BUILT_IN);
  }

  /** A copy with more entries (site hooks), which run after the built-ins in the order given. */
  with(extra: readonly HookEntry[]): HookRegistry {
    return new HookRegistry([...this.entries, ...extra]);
  }

  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  defaultNames(): string[] {
    return this.entries.filter((e) => e.defaultEnabled).map((e) => e.name);
  }

  find(name: string): HookEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /**
   * The entries named (any order, duplicates ignored), in registry order; undefined means the
   * default set. Unknown names are an InputError that lists the valid ones.
   */
  resolve(names: readonly string[] | undefined = undefined): HookEntry[] {
    const wanted = new Set(names ?? this.defaultNames());
    const unknown = [...wanted].filter((n) => !this.find(n));
    if (unknown.length > 0) {
      throw new InputError(`unknown hook${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; valid hooks: ${this.names().join(', ')}`);
    }
    return this.entries.filter((e) => wanted.has(e.name));
  }

  /** The implementations of the named hooks, in registry order (resolve() rules). */
  resolveHooks(names: readonly string[] | undefined = undefined): Hook[] {
    return this.resolve(names).map((e) => {
      if (!e.hook) throw new InputError(`hook "${e.name}" has no implementation in this process`);
      return e.hook;
    });
  }

  /** Does `coexist` mode leave this hook to upstream's in-tree one? */
  leftToUpstream(entry: HookEntry, opts: ModeOptions = {}): boolean {
    if (entry.upstream.level === 'equivalent') return true;
    return entry.upstream.level === 'partial' && (opts.trustUpstream ?? []).includes(entry.name);
  }

  /**
   * The enabled hooks to inject for a webhook mode: all of them in `inject` mode; in `coexist`
   * mode (upstream runs its own in-tree hooks) those upstream lacks or does only in part.
   */
  forMode(mode: 'inject' | 'coexist', enabled: readonly string[], opts: ModeOptions = {}): string[] {
    const entries = this.resolve(enabled);
    return (mode === 'inject' ? entries : entries.filter((e) => !this.leftToUpstream(e, opts))).map((e) => e.name);
  }

  /** Of the named hooks, those whose appliesTo(pod) holds, in registry order. Never throws. */
  applicable(pod: TargetPod, names: readonly string[]): string[] {
    return this.resolve(names).filter((e) => {
      try {
        return e.appliesTo(pod);
      } catch {
        return false; // a rule that cannot read this pod does not apply to it
      }
    }).map((e) => e.name);
  }
}

/** The registry of this build (built-in hooks only). */
export const REGISTRY = HookRegistry.builtIn();
export const DEFAULT_HOOKS: readonly string[] = REGISTRY.defaultNames();

export function hookNames(): string[] {
  return REGISTRY.names();
}

export function resolveHooks(names: readonly string[] | undefined = undefined): Hook[] {
  return REGISTRY.resolveHooks(names);
}

/** The built-in implementations, in run order. */
export const HOOKS: readonly Hook[] = REGISTRY.resolveHooks(REGISTRY.names());

export function findHook(name: string): Hook | undefined {
  return REGISTRY.find(name)?.hook;
}
