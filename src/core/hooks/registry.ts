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
import { cpuDedicatedHook } from './cpu-dedicated.js';
import { diskNamespaceHook } from './disk-namespace.js';
import type { Hook, TargetPod } from './types.js';

/**
 * What KubeVirt's own in-tree target-side hooks (VEP 141; Beta and on by default from 1.9,
 * the webhook's `coexist` mode) do compared with ours.
 * - `equivalent`: upstream does the same job; in `coexist` mode ours is not injected.
 * - `none`: upstream has no such hook; ours is injected in `coexist` mode too.
 */
export type UpstreamEquivalence = 'equivalent' | 'none';

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
  /** The code that edits the domain; absent for entries whose code is not compiled in. */
  readonly hook?: Hook;
}

const SITE_PREFIX = 'site:';

function builtIn(hook: Hook, fields: Omit<HookEntry, 'name' | 'description' | 'source' | 'hook'>): HookEntry {
  return { name: hook.name, description: hook.description, source: 'built-in', hook, ...fields };
}

/** Built-in hooks, in the order they run (KubeVirt's target-side order). */
const BUILT_IN: readonly HookEntry[] = [
  builtIn(cpuDedicatedHook, { defaultEnabled: true, upstream: 'equivalent', appliesTo: () => true }),
  builtIn(diskNamespaceHook, { defaultEnabled: true, upstream: 'equivalent', appliesTo: () => true }),
];

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

  /**
   * The enabled hooks to inject for a webhook mode: all of them in `inject` mode; in `coexist`
   * mode (upstream runs its own in-tree hooks) only those upstream has no equivalent for.
   */
  forMode(mode: 'inject' | 'coexist', enabled: readonly string[]): string[] {
    const entries = this.resolve(enabled);
    return (mode === 'inject' ? entries : entries.filter((e) => e.upstream !== 'equivalent')).map((e) => e.name);
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
