/**
 * CONTRACT (implementation pending): run the enabled hooks in order over one domain XML.
 */
import type { Change, HookContext } from './hooks/types.js';
import { InputError } from './errors.js';

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
export function runChain(_xml: string, _ctx: HookContext, _opts: ChainOptions = {}): ChainResult {
  throw new InputError('chain not implemented yet');
}
