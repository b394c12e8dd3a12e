/**
 * `--site-hooks FILE`, `--fact NAME=VALUE` and `--site-hook-allow PATH` of mutate and explain:
 * reading a YAML file of SiteHook objects (`---`-separated) and turning it, with the facts, into
 * registry entries `site:<name>` that run after the built-ins. Validation is the core's
 * (src/core/site-hooks), the same the webhook and the hook server apply.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { InputError } from '../../core/errors.js';
import {
  allowList,
  compileSiteHooks,
  FACTS,
  isFactName,
  SiteHookInvalid,
  siteHookEntries,
  type AllowList,
  type CompiledSiteHook,
  type Facts,
  type SiteHookSkip,
} from '../../core/site-hooks/index.js';
import type { HookEntry } from '../../core/hooks/registry.js';

export const MAX_SITE_HOOK_FILE_BYTES = 1024 * 1024;

/** `--fact a=b` values → Facts; an unknown name or a missing `=` is an InputError. */
export function parseFactFlags(values: readonly string[]): Facts {
  const facts: Facts = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new InputError(`--fact must be NAME=VALUE, got "${v}"`);
    const name = v.slice(0, eq);
    if (!isFactName(name)) throw new InputError(`--fact ${name}: unknown fact; known facts: ${FACTS.join(', ')}`);
    facts[name] = v.slice(eq + 1);
  }
  return facts;
}

/** `--site-hook-allow` values (repeatable, each a comma list) → the allow-list. */
export function parseAllowFlags(values: readonly string[] | undefined): AllowList {
  const extra = (values ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  try {
    return allowList(extra);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/** Parse the YAML text of one or more SiteHooks and validate them (InputError on any problem). */
export function loadSiteHooksText(text: string, file: string, allow: AllowList): CompiledSiteHook[] {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  const objects: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new InputError(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS({ maxAliasCount: 0 });
    if (value === null || value === undefined) continue;
    objects.push(value);
  }
  if (objects.length === 0) throw new InputError(`${file}: no SiteHook in the file`);
  try {
    return compileSiteHooks(objects, allow);
  } catch (err) {
    if (err instanceof SiteHookInvalid) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
}

export function loadSiteHooksFile(file: string, allow: AllowList): CompiledSiteHook[] {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_SITE_HOOK_FILE_BYTES) throw new InputError(`${file}: larger than ${MAX_SITE_HOOK_FILE_BYTES} bytes`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read --site-hooks ${file}: ${(err as Error).message}`);
  }
  return loadSiteHooksText(text, file, allow);
}

/** Registry entries for the CLI, with skips (onError: pass) collected for explain. */
export function cliSiteEntries(hooks: readonly CompiledSiteHook[], facts: Facts, allow: AllowList, skips: SiteHookSkip[], measure = true): HookEntry[] {
  return siteHookEntries(hooks, { facts, allow, measure }, (s) => skips.push(s));
}
