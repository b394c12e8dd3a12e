/**
 * The pure middle and end of the admission handlers (decode → handle → respond): what a decoded
 * request, or a refusal, or an overload becomes as an HTTP answer, a log line and metric labels.
 * No I/O here; the shells in app.ts and validate-http.ts only read, call and write.
 *
 * The contract (docs/webhook.md, "Endpoints"): every JSON body, whatever value it holds, gets
 * 200 with `allowed: true` from /mutate (and from /validate unless `--validate-policy=deny`
 * finds a broken injection); only bytes that are not a JSON request (415, 400, 413) or a
 * webhook at its concurrency bound (503) get another status, which the apiserver treats as a
 * failed call and answers with the webhook's failurePolicy.
 */
import { admit, type AdmitOutcome, type AdmitState } from '../admission/admit.js';
import { validate, type ValidateOutcome, type ValidateSettings } from '../admission/validate.js';
import type { BodyRefusal, Decoded } from './body.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface HttpAnswer {
  status: number;
  body: unknown;
  /** Close the connection after answering: the body was not (fully) read. */
  close: boolean;
}

export interface LogLine {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

export type OverloadReason = 'queue-full' | 'queue-timeout';

/** The admission metric's labels for a request that never reached admit(). */
export type RefusalReason = BodyRefusal['reason'] | 'overloaded';

export interface MutateResult {
  answer: HttpAnswer;
  log: LogLine;
  metric: Pick<AdmitOutcome, 'result' | 'reason' | 'dryRun'>;
}

function refusal(status: number, reason: RefusalReason, message: string, close: boolean): HttpAnswer {
  return { status, body: { error: reason, message }, close };
}

/** A 503 for a request refused at the concurrency bound (its body was never read). */
export function overloadAnswer(reason: OverloadReason, limits: { active: number; queue: number }): HttpAnswer {
  return refusal(503, 'overloaded', `webhook busy (${reason}: ${limits.active} active, ${limits.queue} queued)`, true);
}

export function mutateOverloaded(reason: OverloadReason, limits: { active: number; queue: number }): MutateResult {
  return {
    answer: overloadAnswer(reason, limits),
    log: { level: 'warn', msg: 'admission refused at the concurrency bound; the apiserver applies failurePolicy', fields: { reason, ...limits } },
    metric: { result: 'error', reason: 'overloaded', dryRun: false },
  };
}

/** /mutate: a decoded body (or its refusal) → answer, log line, metric labels. Never throws. */
export function handleMutate(decoded: Decoded<unknown>, state: AdmitState): MutateResult {
  if (!decoded.ok) {
    return {
      answer: refusal(decoded.status, decoded.reason, decoded.message, true),
      log: { level: 'warn', msg: 'rejected admission request body', fields: { status: decoded.status, reason: decoded.reason } },
      metric: { result: 'error', reason: decoded.reason, dryRun: false },
    };
  }
  const { review, outcome } = admit(decoded.value, state);
  const fields = { uid: outcome.uid, namespace: outcome.namespace, result: outcome.result, reason: outcome.reason, dryRun: outcome.dryRun };
  const log: LogLine =
    outcome.result === 'error'
      ? { level: 'error', msg: 'admission fault; allowed without a patch', fields: { ...fields, err: outcome.message } }
      : outcome.result === 'injected'
        ? { level: 'info', msg: 'injected hook server into migration target pod', fields }
        : { level: 'debug', msg: 'admission skipped', fields };
  return { answer: { status: 200, body: review, close: false }, log, metric: { result: outcome.result, reason: outcome.reason, dryRun: outcome.dryRun } };
}

export interface ValidateResultOut {
  answer: HttpAnswer;
  log: LogLine;
  metric: Pick<ValidateOutcome, 'result' | 'violations' | 'denied' | 'dryRun'>;
}

const NO_VIOLATIONS = { result: 'error' as const, violations: [], denied: false, dryRun: false };

export function validateOverloaded(reason: OverloadReason, limits: { active: number; queue: number }): ValidateResultOut {
  return {
    answer: overloadAnswer(reason, limits),
    log: { level: 'warn', msg: 'validation refused at the concurrency bound; the apiserver applies failurePolicy', fields: { reason, ...limits } },
    metric: NO_VIOLATIONS,
  };
}

/** /validate: a decoded body (or its refusal) → answer, log line, metric labels. Never throws. */
export function handleValidate(decoded: Decoded<unknown>, settings: ValidateSettings): ValidateResultOut {
  if (!decoded.ok) {
    return {
      answer: refusal(decoded.status, decoded.reason, decoded.message, true),
      log: { level: 'warn', msg: 'rejected validation request body', fields: { status: decoded.status, reason: decoded.reason } },
      metric: NO_VIOLATIONS,
    };
  }
  const { review, outcome } = validate(decoded.value, settings);
  const fields = { uid: outcome.uid, namespace: outcome.namespace, result: outcome.result, dryRun: outcome.dryRun, policy: settings.policy };
  let log: LogLine;
  if (outcome.result === 'violation') {
    log = {
      level: 'warn',
      msg: outcome.denied ? 'target pod rejected: hook injection broken after our patch' : 'target pod admitted with broken hook injection',
      fields: { ...fields, denied: outcome.denied, violations: outcome.violations.map((v) => `${v.check}: ${v.message}`) },
    };
  } else if (outcome.result === 'error') {
    log = { level: 'error', msg: 'validation fault; allowed', fields: { ...fields, reason: outcome.reason, err: outcome.message } };
  } else {
    log = { level: 'debug', msg: 'validation passed', fields: { ...fields, reason: outcome.reason } };
  }
  return { answer: { status: 200, body: review, close: false }, log, metric: outcome };
}
