/**
 * The SiteHook resource (premigration-hooks.kubevirt.io/v1alpha1, cluster-scoped) and its one
 * validation, shared by the CLI (--site-hooks), the hook server (the delivered env value), the
 * webhook's SiteHook admission endpoint and its status writer. What CEL in the CRD cannot check
 * (paths, fragments, facts, the allow-list) is checked here; everything the CRD checks is checked
 * here too, so a file that never went through the apiserver gets the same answer.
 */
import { isDnsLabel } from '../names.js';
import { allowList, forbiddenShape, isAllowed, type AllowList } from './allow.js';
import { escapeForMarkup, factsIn, substitute, type FactName, type Facts, FACTS } from './facts.js';
import { parseFragmentSpec } from './fragment.js';
import { parsePath, pathShape, PathError, type SitePath } from './path.js';
import { parseLabelSelector, type LabelSelector } from './selector.js';

export const API_GROUP = 'premigration-hooks.kubevirt.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const KIND = 'SiteHook';
export const MAX_EDITS = 64;
export const MAX_SET_CHARS = 4096;
export const ORDER_MIN = -1000000;
export const ORDER_MAX = 1000000;

export interface SiteHookEdit {
  select: string;
  set?: string;
  remove?: true;
  appendXML?: string;
  require?: true;
}

export interface SiteHookSpec {
  selector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  order: number;
  onError?: 'pass' | 'abort';
  edits: SiteHookEdit[];
}

/** What is delivered and run: the name and the normalized spec. */
export interface SiteHookDef {
  name: string;
  spec: SiteHookSpec;
}

export type EditKind = 'set' | 'remove' | 'appendXML';

export interface CompiledEdit {
  index: number;
  kind: EditKind;
  select: SitePath;
  /** set: the value template; appendXML: the fragment template. */
  value?: string;
  require: boolean;
  /** Shape checked against the allow-list (appendXML: select + fragment root). */
  shape: string[];
}

export interface CompiledSiteHook extends SiteHookDef {
  edits: CompiledEdit[];
  /** Facts the edits refer to. */
  facts: FactName[];
}

/** Every problem found, each one line naming the field. */
export class SiteHookInvalid extends Error {
  constructor(
    readonly hookName: string,
    readonly problems: string[],
  ) {
    super(`SiteHook ${hookName}: ${problems.join('; ')}`);
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const SPEC_FIELDS = new Set(['selector', 'namespaceSelector', 'order', 'onError', 'edits']);
const EDIT_FIELDS = new Set(['select', 'set', 'remove', 'appendXML', 'require']);

/** A placeholder for facts that no name position can hold, so a fact used as markup is refused. */
const PROBE_FACTS: Facts = Object.fromEntries(FACTS.map((f) => [f, '<&\'">'])) as Facts;

function compileEdit(raw: unknown, index: number, allow: AllowList, problems: string[]): CompiledEdit | undefined {
  const at = `spec.edits[${index}]`;
  if (!isPlainObject(raw)) {
    problems.push(`${at} must be an object`);
    return undefined;
  }
  for (const k of Object.keys(raw)) if (!EDIT_FIELDS.has(k)) problems.push(`${at}.${k} is not a field of an edit (select, set, remove, appendXML, require)`);
  if (typeof raw.select !== 'string') {
    problems.push(`${at}.select must be a string`);
    return undefined;
  }
  let select: SitePath;
  try {
    select = parsePath(raw.select);
  } catch (err) {
    problems.push(`${at}.${err instanceof PathError ? err.message : String(err)}`);
    return undefined;
  }
  const kinds = (['set', 'remove', 'appendXML'] as const).filter((k) => raw[k] !== undefined);
  if (kinds.length !== 1) {
    problems.push(`${at} needs exactly one of set, remove, appendXML (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`);
    return undefined;
  }
  const kind = kinds[0]!;
  if (raw.require !== undefined && typeof raw.require !== 'boolean') problems.push(`${at}.require must be true or false`);
  const edit: CompiledEdit = { index, kind, select, require: raw.require === true, shape: pathShape(select) };
  if (kind === 'set') {
    if (typeof raw.set !== 'string') return void problems.push(`${at}.set must be a string`);
    if (raw.set.length > MAX_SET_CHARS) return void problems.push(`${at}.set is longer than ${MAX_SET_CHARS} characters`);
    try {
      factsIn(raw.set);
    } catch (err) {
      return void problems.push(`${at}.set: ${(err as Error).message}`);
    }
    edit.value = raw.set;
  } else if (kind === 'remove') {
    if (raw.remove !== true) return void problems.push(`${at}.remove must be true`);
  } else {
    if (typeof raw.appendXML !== 'string') return void problems.push(`${at}.appendXML must be a string`);
    if (select.attr !== undefined) return void problems.push(`${at}: appendXML needs an element to append to, not @${select.attr}`);
    let spec;
    try {
      spec = parseFragmentSpec(substitute(raw.appendXML, PROBE_FACTS, escapeForMarkup));
    } catch (err) {
      const m = (err as Error).message;
      return void problems.push(`${at}.appendXML: ${m}${/unknown fact|unterminated/.test(m) ? '' : factsIn0(raw.appendXML) ? ' (facts may stand only in text and attribute values)' : ''}`);
    }
    edit.value = raw.appendXML;
    edit.shape = [...edit.shape, spec.name];
  }
  const forbidden = forbiddenShape(edit.shape);
  if (forbidden !== undefined) return void problems.push(`${at}: ${raw.select} is a forbidden target: ${forbidden}`);
  if (!isAllowed(allow, edit.shape)) {
    return void problems.push(`${at}: ${edit.shape.join('/')} is not on the allow-list (${allow.source.join(', ')}); an admin can add it with --site-hook-allow, at their own risk`);
  }
  return edit;
}

function factsIn0(value: string): boolean {
  try {
    return factsIn(value).length > 0;
  } catch {
    return false;
  }
}

function specOf(raw: Record<string, unknown>, problems: string[]): Omit<SiteHookSpec, 'edits'> {
  for (const k of Object.keys(raw)) if (!SPEC_FIELDS.has(k)) problems.push(`spec.${k} is not a SiteHook field`);
  const out: Omit<SiteHookSpec, 'edits'> = { order: 0 };
  for (const f of ['selector', 'namespaceSelector'] as const) {
    try {
      const sel = parseLabelSelector(raw[f], `spec.${f}`);
      if (sel !== undefined) out[f] = sel;
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (raw.order !== undefined) {
    if (typeof raw.order !== 'number' || !Number.isInteger(raw.order) || raw.order < ORDER_MIN || raw.order > ORDER_MAX) {
      problems.push(`spec.order must be an integer from ${ORDER_MIN} to ${ORDER_MAX}`);
    } else out.order = raw.order;
  }
  if (raw.onError !== undefined) {
    if (raw.onError !== 'pass' && raw.onError !== 'abort') problems.push('spec.onError must be "pass" or "abort"');
    else out.onError = raw.onError;
  }
  return out;
}

/**
 * Validate one SiteHook: a whole Kubernetes object (apiVersion/kind/metadata/spec) or a delivered
 * `{name, spec}`. Throws SiteHookInvalid listing every problem.
 */
export function compileSiteHook(obj: unknown, allow: AllowList = allowList()): CompiledSiteHook {
  if (!isPlainObject(obj)) throw new SiteHookInvalid('(unnamed)', ['a SiteHook must be an object']);
  const problems: string[] = [];
  let name: unknown;
  if (obj.kind !== undefined || obj.apiVersion !== undefined || obj.metadata !== undefined) {
    if (obj.apiVersion !== API_VERSION) problems.push(`apiVersion must be ${API_VERSION}`);
    if (obj.kind !== KIND) problems.push(`kind must be ${KIND}`);
    name = isPlainObject(obj.metadata) ? obj.metadata.name : undefined;
    if (isPlainObject(obj.metadata) && obj.metadata.namespace !== undefined) problems.push('SiteHook is cluster-scoped: metadata.namespace must not be set');
  } else {
    name = obj.name;
  }
  const label = typeof name === 'string' ? name : '(unnamed)';
  if (typeof name !== 'string' || !isDnsLabel(name)) problems.push('metadata.name must be a DNS label (lowercase letters, digits and -, at most 63)');
  if (!isPlainObject(obj.spec)) {
    problems.push('spec must be an object');
    throw new SiteHookInvalid(label, problems);
  }
  const spec = specOf(obj.spec, problems);
  const rawEdits = obj.spec.edits;
  const edits: CompiledEdit[] = [];
  const kept: SiteHookEdit[] = [];
  if (!Array.isArray(rawEdits) || rawEdits.length === 0) problems.push('spec.edits must be a non-empty list');
  else if (rawEdits.length > MAX_EDITS) problems.push(`spec.edits has more than ${MAX_EDITS} entries`);
  else {
    rawEdits.forEach((raw, i) => {
      const e = compileEdit(raw, i, allow, problems);
      if (e === undefined) return;
      edits.push(e);
      const r = raw as Record<string, unknown>;
      const norm: SiteHookEdit = { select: r.select as string };
      if (e.kind === 'set') norm.set = e.value!;
      else if (e.kind === 'remove') norm.remove = true;
      else norm.appendXML = e.value!;
      if (e.require) norm.require = true;
      kept.push(norm);
    });
  }
  if (problems.length > 0) throw new SiteHookInvalid(label, problems);
  const facts = [...new Set(edits.flatMap((e) => (e.value !== undefined ? factsIn(e.value) : [])))];
  return { name: name as string, spec: { ...spec, edits: kept }, edits, facts };
}

/** Run order: `order` ascending, then name. */
export function bySiteHookOrder(a: SiteHookDef, b: SiteHookDef): number {
  return a.spec.order - b.spec.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Validate several (e.g. one YAML file); names must be unique; returned in run order. */
export function compileSiteHooks(objs: readonly unknown[], allow: AllowList = allowList()): CompiledSiteHook[] {
  const out = objs.map((o) => compileSiteHook(o, allow));
  const seen = new Set<string>();
  for (const h of out) {
    if (seen.has(h.name)) throw new SiteHookInvalid(h.name, ['the name is used twice']);
    seen.add(h.name);
  }
  return out.sort(bySiteHookOrder);
}
