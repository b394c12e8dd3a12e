/**
 * Site hooks at admission (docs/site-hooks.md), pure: which SiteHooks select a migration-target
 * pod, and what the injected containers get so that the in-pod server runs exactly those,
 * immutably (the container's env, which nobody can change once the pod exists).
 *
 * - Selection: `selector` on the pod's labels (they carry the VMI's) and `namespaceSelector` on
 *   its namespace's labels; a SiteHook with a namespaceSelector does not select a pod whose
 *   namespace labels are unknown (a site hook not applied is the state before site hooks existed).
 * - Order: `order` ascending, then name (the order they run in).
 * - Delivery: PREMIGRATION_HOOKS_SITE_HOOKS (canonical JSON, at most 64 KiB), the fact variables
 *   node and pod name (downward API; the namespace and the VMI's name are the identity env that
 *   inject.ts gives every server), and the sha256 digest of the delivered value for the marker.
 */
import type { HookEntry } from '../../core/hooks/registry.js';
import {
  bySiteHookOrder, deliveryDigest, FACT_ENV, labelsMatch, renderDelivery, SITE_HOOKS_ENV, siteHookEntry, type CompiledSiteHook,
} from '../../core/site-hooks/index.js';
import { asObject, type JsonObject } from '../../shared/json.js';

export const SITE_HOOK_ALLOW_ENV = 'PREMIGRATION_HOOKS_SITE_HOOK_ALLOW';

/** The SiteHooks that select this pod, in run order. */
export function selectSiteHooks(
  all: readonly CompiledSiteHook[],
  pod: unknown,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
): CompiledSiteHook[] {
  const labels = asObject(asObject(asObject(pod).metadata).labels) as Record<string, string>;
  return all
    .filter((h) => labelsMatch(h.spec.selector, labels))
    .filter((h) => {
      const ns = h.spec.namespaceSelector;
      if (ns === undefined || (Object.keys(ns.matchLabels ?? {}).length === 0 && (ns.matchExpressions ?? []).length === 0)) return true;
      return namespaceLabels !== undefined && labelsMatch(ns, namespaceLabels);
    })
    .sort(bySiteHookOrder);
}

/** Registry entries for selected site hooks: names only (the code runs in the pod), counting in coexist mode. */
export function siteHookNameEntries(selected: readonly CompiledSiteHook[]): HookEntry[] {
  // Already selected for this pod (labels and namespace), so it applies.
  return selected.map((h) => ({ ...siteHookEntry(h), appliesTo: () => true }));
}

export interface SiteHookDelivery {
  /** Env entries for our containers. */
  env: JsonObject[];
  /** sha256:<hex> of the PREMIGRATION_HOOKS_SITE_HOOKS value, for the injected marker. */
  digest: string;
}

/** The env for the selected site hooks, or an error message when above the size bound. */
export function siteHookDelivery(selected: readonly CompiledSiteHook[], allowExtra: readonly string[] = []): SiteHookDelivery | { error: string } {
  let value: string;
  try {
    value = renderDelivery(selected);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const field = (fieldPath: string): JsonObject => ({ valueFrom: { fieldRef: { fieldPath } } });
  return {
    env: [
      { name: SITE_HOOKS_ENV, value },
      { name: FACT_ENV['node.name'], ...field('spec.nodeName') },
      { name: FACT_ENV['pod.name'], ...field('metadata.name') },
      // The webhook's allow-list extension, so the server accepts what admission accepted.
      ...(allowExtra.length > 0 ? [{ name: SITE_HOOK_ALLOW_ENV, value: allowExtra.join(',') }] : []),
    ],
    digest: deliveryDigest(value),
  };
}
