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
import { resolveHooks } from './hooks/registry.js';
import type { Change, Hook, HookContext } from './hooks/types.js';
import { DEFAULT_MAX_XML_BYTES, DomainXml } from './xml/index.js';

export interface HookRun {
  name: string;
  /** false when appliesTo() said no. */
  ran: boolean;
  changes: number;
  durationMs: number;
}

export interface ChainResult {
  /** The resulting XML; equal to the input text when nothing changed. */
  xml: string;
  changed: boolean;
  changes: Change[];
  hooks: HookRun[];
  /** <name> of the domain, for logs. */
  domainName: string;
  durationMs: number;
}

export interface ChainOptions {
  /** Hook names in any order; the registry fixes the run order. Default: all default-enabled hooks. */
  hooks?: string[];
  maxBytes?: number;
}

/** Throws XmlError | HookRefusal | AbiViolation | InputError (unknown hook name). */
export function runChain(xml: string, ctx: HookContext, opts: ChainOptions = {}): ChainResult {
  return runHooks(xml, ctx, resolveHooks(opts.hooks), opts);
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
  for (const hook of hooks) {
    const t0 = performance.now();
    const ran = hook.appliesTo(doc, ctx);
    const made = ran ? hook.apply(doc, ctx) : [];
    changes.push(...made);
    runs.push({ name: hook.name, ran, changes: made.length, durationMs: performance.now() - t0 });
  }

  let out = xml;
  if (doc.modified) {
    const serialized = doc.serialize();
    if (serialized !== xml) {
      assertSameAbi(snapshot, doc, serialized);
      out = serialized;
    }
  }
  return { xml: out, changed: out !== xml, changes: out !== xml ? changes : [], hooks: runs, domainName, durationMs: performance.now() - started };
}
