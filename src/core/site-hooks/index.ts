/**
 * PUBLIC API of site hooks: admin-written, declarative target-side domain edits (docs/site-hooks.md).
 *
 * model.ts (the SiteHook resource and its one validation), path.ts (the XPath subset of
 * `select`), facts.ts (`${fact}` values), allow.ts (the allow-list and the forbidden targets),
 * fragment.ts (appendXML), hook.ts (a SiteHook as the chain hook `site:<name>`), selector.ts
 * (LabelSelector), delivery.ts (the env value the webhook hands the hook server).
 */
export { DEFAULT_ALLOW, allowList, isAllowed, forbiddenShape, type AllowList } from './allow.js';
export { FACTS, isFactName, measuredFacts, type FactName, type Facts } from './facts.js';
export { parsePath, evaluatePath, pathShape, PathError, type SitePath } from './path.js';
export { labelsMatch, parseLabelSelector, type LabelSelector } from './selector.js';
export {
  API_GROUP,
  API_VERSION,
  KIND,
  MAX_EDITS,
  bySiteHookOrder,
  compileSiteHook,
  compileSiteHooks,
  SiteHookInvalid,
  type CompiledSiteHook,
  type SiteHookDef,
  type SiteHookEdit,
  type SiteHookSpec,
} from './model.js';
export { SITE_PREFIX, SITE_UPSTREAM, siteHook, siteHookEntries, siteHookEntry, type SiteHookOptions, type SiteHookSkip } from './hook.js';
export { FACT_ENV, MAX_DELIVERY_BYTES, SITE_HOOKS_ENV, canonicalJson, deliveryDigest, parseDelivery, renderDelivery } from './delivery.js';
