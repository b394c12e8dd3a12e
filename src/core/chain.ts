/**
 * Run the enabled hooks in order over one domain XML, then the ABI guard.
 *
 * parse (XmlError) → ABI snapshot → each hook: appliesTo? apply (timed) → serialize →
 * unchanged: the input text itself; changed: the ABI guard re-parses what changed in the output
 * and compares it with the input (AbiViolation). Either a whole new document comes back or an
 * error does; never a part.
 */
// Imported rather than used as the global: Node loads the global lazily, on the first call's clock.
import { performance } from 'node:perf_hooks';
import { abiSnapshot, assertSameAbi } from './abi-guard.js';
import { REGISTRY, type HookRegistry } from './hooks/registry.js';
import type { Change, Hook, HookContext } from './hooks/types.js';
import { DEFAULT_MAX_XML_BYTES, DomainXml } from './xml/index.js';

export interface HookRun {
  name: string;
  /** false when appliesTo() said no. */
  ran: boolean;
  changes: number;
  durationMs: number;
  /** Why a hook that ran changed nothing, in its own words (absent when it said nothing). */
  notes?: string[];
}

export interface ChainResult {
  /** The resulting XML; equal to the input text when nothing changed. */
  xml: string;
  changed: boolean;
  changes: Change[];
  hooks: HookRun[];
  /** Every hook's notes as `<hook>: <note>`, in run order (kept whether or not the XML changed);
   * always set by runChain, optional so that hand-built results stay valid. */
  notes?: string[];
  /** <name> of the domain, for logs. */
  domainName: string;
  durationMs: number;
}

export interface ChainOptions {
  /** Hook names in any order; the registry fixes the run order. Default: all default-enabled hooks. */
  hooks?: string[];
  maxBytes?: number;
  /** The registry to resolve `hooks` in: REGISTRY, or a copy with site hooks (`with()`). */
  registry?: HookRegistry;
}

/** Throws XmlError | HookRefusal | AbiViolation | InputError (unknown hook name). */
export function runChain(xml: string, ctx: HookContext, opts: ChainOptions = {}): ChainResult {
  return runHooks(xml, ctx, (opts.registry ?? REGISTRY).resolveHooks(opts.hooks), opts);
}

/**
 * runChain over an explicit hook list, in the order given. For the registry-driven entry points
 * above and for tests that need a hook the product does not ship (e.g. one that breaks the ABI).
 */
export function runHooks(xml: string, ctx: HookContext, hooks: readonly Hook[], opts: Pick<ChainOptions, 'maxBytes'> = {}): ChainResult {
  const started = performance.now();
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const doc = DomainXml.parse(xml, { maxBytes });
  const domainName = doc.selectOne('name')?.text().trim() ?? '';
  const snapshot = abiSnapshot(doc);

  const runs: HookRun[] = [];
  const changes: Change[] = [];
  const notes: string[] = [];
  for (const hook of hooks) {
    const t0 = performance.now();
    const said: string[] = [];
    const ran = hook.appliesTo(doc, ctx);
    const made = ran ? hook.apply(doc, ctx, (message) => said.push(message)) : [];
    changes.push(...made);
    notes.push(...said.map((n) => `${hook.name}: ${n}`));
    runs.push({ name: hook.name, ran, changes: made.length, durationMs: performance.now() - t0, ...(said.length > 0 ? { notes: said } : {}) });
  }

  let out = xml;
  if (doc.modified) {
    const serialized = doc.serialize();
    if (serialized !== xml) {
      assertSameAbi(snapshot, doc, serialized);
      out = serialized;
    }
  }
  return { xml: out, changed: out !== xml, changes: out !== xml ? changes : [], hooks: runs, notes, domainName, durationMs: performance.now() - started };
}
