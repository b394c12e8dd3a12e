/**
 * The hooks this product ships, in the order they run (KubeVirt's target-side order).
 * Adding a hook: one file in src/core/hooks/, one line here, one golden test directory.
 */
import { InputError } from '../errors.js';
import { cpuDedicatedHook } from './cpu-dedicated.js';
import { diskNamespaceHook } from './disk-namespace.js';
import type { Hook } from './types.js';

export const HOOKS: readonly Hook[] = [cpuDedicatedHook, diskNamespaceHook];

/** Enabled when no --hooks / hooks= setting is given. Each hook decides itself whether it applies. */
export const DEFAULT_HOOKS: readonly string[] = HOOKS.map((h) => h.name);

export function hookNames(): string[] {
  return HOOKS.map((h) => h.name);
}

export function findHook(name: string): Hook | undefined {
  return HOOKS.find((h) => h.name === name);
}

/**
 * The hooks named (in any order, duplicates ignored), in registry order.
 * Undefined means the default set; unknown names are an InputError listing the valid ones.
 */
export function resolveHooks(names: readonly string[] | undefined = undefined): Hook[] {
  const wanted = new Set(names ?? DEFAULT_HOOKS);
  const unknown = [...wanted].filter((n) => !findHook(n));
  if (unknown.length > 0) {
    throw new InputError(`unknown hook${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; valid hooks: ${hookNames().join(', ')}`);
  }
  return HOOKS.filter((h) => wanted.has(h.name));
}
