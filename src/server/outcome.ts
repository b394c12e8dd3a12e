/**
 * Outcome: how one `migrate-begin` ended (a chain result, an error, a timeout, an aborted body)
 * → everything the shell does with it: the HTTP answer, the log line's level and fields, the
 * metric labels, the report record. Pure, so every mapping is tested without a socket, and
 * `refusedBy` is derived here once.
 */
import { AbiViolation, HookRefusal, PremigrationError } from '../core/errors.js';
import type { ChainResult } from '../core/chain.js';
import { BodyAbortedError, BodyTooLargeError } from './body.js';
import { DecodeError } from './decode.js';
import { ABI_GUARD_LABEL, CHAIN_LABEL, type RequestResult } from './metrics.js';
import { jsonAnswer, type Answer } from './respond.js';

export type Ended =
  | { kind: 'result'; result: ChainResult }
  | { kind: 'error'; error: unknown }
  | { kind: 'timeout'; timeoutMs: number };


export interface Outcome {
  status: number;
  result: RequestResult;
  answer: Answer;
  level: 'info' | 'warn' | 'error';
  /** Extra fields for the request's log line. */
  log: { error?: string; stack?: string };
  /** The hook (or the ABI guard) whose refusal ended the run. */
  refusedBy?: string;
  /** hook_runs_total{result="failed"} for this label. */
  failedHook?: string;
  chain?: ChainResult;
}

export const XML_TYPE = 'application/xml; charset=utf-8';

function levelOf(status: number): Outcome['level'] {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
}

function failure(status: number, result: RequestResult, message: string, extra: Partial<Outcome> = {}, headers: Record<string, string> = {}): Outcome {
  return { status, result, answer: jsonAnswer(status, { error: message }, headers), level: levelOf(status), log: { error: message }, ...extra };
}

export function outcomeOf(ended: Ended): Outcome {
  if (ended.kind === 'timeout') {
    return failure(503, 'timeout', `request not completed within ${ended.timeoutMs} ms`, {}, { Connection: 'close' });
  }
  if (ended.kind === 'result') {
    const r = ended.result;
    if (r.changed) {
      return {
        status: 200,
        result: 'changed',
        answer: { status: 200, headers: { 'X-Premigration-Changes': String(r.changes.length), 'Content-Type': XML_TYPE }, body: r.xml },
        level: 'info',
        log: {},
        chain: r,
      };
    }
    return { status: 204, result: 'unchanged', answer: { status: 204, headers: {} }, level: 'info', log: {}, chain: r };
  }
  const err = ended.error;
  if (err instanceof BodyAbortedError) {
    return { status: 400, result: 'bad-request', answer: { status: 400, headers: {}, destroy: true }, level: 'warn', log: { error: err.message } };
  }
  if (err instanceof DecodeError) return failure(400, 'bad-request', err.message);
  // The client writes its whole body before reading: the body was drained, so 413 reaches it; then close.
  if (err instanceof BodyTooLargeError) return failure(413, 'too-large', err.message, {}, { Connection: 'close' });
  if (err instanceof HookRefusal) return failure(422, 'refused', err.message, { refusedBy: err.hook });
  if (err instanceof AbiViolation) return failure(422, 'refused', err.message, { refusedBy: ABI_GUARD_LABEL });
  if (err instanceof PremigrationError) return failure(422, 'bad-request', err.message);
  const message = `internal error: ${(err as Error)?.message ?? String(err)}`;
  const stack = (err as Error)?.stack;
  return { ...failure(500, 'failed', message, { failedHook: CHAIN_LABEL }), log: { error: message, ...(stack !== undefined ? { stack } : {}) } };
}
