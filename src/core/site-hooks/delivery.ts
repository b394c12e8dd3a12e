/**
 * How selected SiteHooks reach the hook server in the migration-target pod, immutably.
 *
 * The webhook writes them into the injected container's environment, which a pod's tenant cannot
 * change once the pod exists (unlike annotations, which a namespace admin can patch and which a
 * downward-API file follows live):
 *
 *   PREMIGRATION_HOOKS_SITE_HOOKS = canonical JSON of
 *     {"siteHooks":[{"name":"<name>","spec":{…normalized spec…}}, …],"version":1}
 *   (object keys sorted at every level, no insignificant whitespace, hooks in run order)
 *
 * and the digest `sha256:<hex of the value's UTF-8 bytes>` into the injected marker annotation,
 * so an audit can tell which site hooks a pod was given. The value is at most
 * MAX_DELIVERY_BYTES; the webhook refuses to inject more (and says so) rather than truncate.
 * Parsing re-validates every hook against the receiver's own allow-list.
 */
import { createHash } from 'node:crypto';
import type { AllowList } from './allow.js';
import { allowList } from './allow.js';
import { bySiteHookOrder, compileSiteHook, SiteHookInvalid, type CompiledSiteHook, type SiteHookDef } from './model.js';

export const SITE_HOOKS_ENV = 'PREMIGRATION_HOOKS_SITE_HOOKS';
export const DELIVERY_VERSION = 1;
export const MAX_DELIVERY_BYTES = 64 * 1024;

/** Env names of the facts the webhook injects (downward API for node and pod, the VMI's name as a value). */
export const FACT_ENV = {
  'node.name': 'PREMIGRATION_HOOKS_NODE_NAME',
  'pod.name': 'PREMIGRATION_HOOKS_POD_NAME',
  'pod.namespace': 'PREMIGRATION_HOOKS_POD_NAMESPACE',
  'vmi.name': 'PREMIGRATION_HOOKS_VMI_NAME',
} as const;

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** The env value for these SiteHooks (sorted into run order). Throws Error above the size bound. */
export function renderDelivery(hooks: readonly SiteHookDef[]): string {
  const ordered = [...hooks].sort(bySiteHookOrder).map((h) => ({ name: h.name, spec: h.spec }));
  const text = canonicalJson({ siteHooks: ordered, version: DELIVERY_VERSION });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DELIVERY_BYTES) throw new Error(`the selected site hooks take ${bytes} bytes, above the ${MAX_DELIVERY_BYTES}-byte bound of ${SITE_HOOKS_ENV}`);
  return text;
}

export function deliveryDigest(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

/** Parse and re-validate a delivered value; '' or undefined means none. Throws Error / SiteHookInvalid. */
export function parseDelivery(value: string | undefined, allow: AllowList = allowList()): CompiledSiteHook[] {
  if (value === undefined || value.trim() === '') return [];
  if (Buffer.byteLength(value, 'utf8') > MAX_DELIVERY_BYTES) throw new Error(`${SITE_HOOKS_ENV} is larger than ${MAX_DELIVERY_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    throw new Error(`${SITE_HOOKS_ENV} is not JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${SITE_HOOKS_ENV} must be a JSON object`);
  const d = doc as Record<string, unknown>;
  if (d.version !== DELIVERY_VERSION) throw new Error(`${SITE_HOOKS_ENV}: unsupported version ${JSON.stringify(d.version)} (this server reads ${DELIVERY_VERSION})`);
  if (!Array.isArray(d.siteHooks)) throw new Error(`${SITE_HOOKS_ENV}: siteHooks must be a list`);
  const compiled = d.siteHooks.map((h) => compileSiteHook(h, allow));
  const seen = new Set<string>();
  for (const h of compiled) {
    if (seen.has(h.name)) throw new SiteHookInvalid(h.name, ['delivered twice']);
    seen.add(h.name);
  }
  return compiled.sort(bySiteHookOrder);
}
