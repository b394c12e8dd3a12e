/**
 * POST /report on the webhook's report port (--report-port): hook reports from in-pod servers.
 *   204 accepted | 400 not a report | 401 no, malformed or badly signed token, or a loose
 *   Authorization header | 403 expired token | 409 token past its replay budget | 413 too large
 *   | 415 not JSON | 503 reports not configured (no --report-key-file, or the key was removed),
 *   or more reports in flight than the report bound (REPORT_LIMITS; the server drops the report)
 * Decode (the Authorization header, then the body) → handle (token, replay budget, report:
 * pure but for the replay counter it is handed) → respond. Body errors are answered here and
 * counted as reports, never as admissions.
 */
import type express from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';
import type { Logger } from '../../shared/log.js';
import { MAX_REPORT_BYTES, parseReport, REPORT_PATH, type HookReport } from '../../protocol/report-wire.js';
import type { ReportMetrics, ReportResult } from './report-metrics.js';
import { verifyToken, type TokenClaims } from '../admission/token.js';
import { decodeJsonRequest, type Decoded } from './body.js';
import type { ReplayGuard } from './replay.js';
import { respond, writeLog } from './app.js';
import { ConcurrencyLimiter } from './limiter.js';
import type { HttpAnswer, LogLine } from './answer.js';

export interface ReportReceiverOptions {
  /** The HMAC key; undefined while reports are not configured or the key is not readable. */
  key(): Buffer | undefined;
  /** Unix seconds. */
  now(): number;
  knownHooks: ReadonlySet<string>;
  metrics: ReportMetrics;
  logger: Logger;
  replay: ReplayGuard;
  /** Called with each accepted report and the identity its token proves (miss accounting). */
  onAccepted?(report: HookReport, claims: TokenClaims): void;
  stopping?: () => boolean;
  limiter?: ConcurrencyLimiter;
}

/**
 * The report port is open to every pod, so its work is bounded too: 8 reports decoded at once
 * (each at most MAX_REPORT_BYTES), 32 waiting at most 1 s. A target pod sends one report per
 * migration; at KubeVirt's default of 5 migrations in flight per cluster this is ample.
 */
export const REPORT_LIMITS = { active: 8, queue: 32, waitMs: 1_000 };

/**
 * The bearer token, only from exactly one Authorization header of exactly `Bearer <token>`:
 * the scheme spelt so, one space, a token of visible ASCII. Anything else is no token.
 */
export function bearerToken(headers: IncomingHttpHeaders, rawHeaders: readonly string[]): string | undefined {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === 'authorization') count++;
  if (count !== 1) return undefined;
  const h = headers.authorization;
  const m = typeof h === 'string' ? /^Bearer ([\x21-\x7e]+)$/.exec(h) : null;
  return m?.[1];
}

export interface ReportHandled {
  answer: HttpAnswer;
  result: ReportResult;
  log?: LogLine;
  accepted?: { report: HookReport; claims: TokenClaims };
}

const answer = (status: number, error?: string, extra: Partial<HttpAnswer> = {}): HttpAnswer => ({
  status, body: error === undefined ? undefined : { error }, close: false, ...extra,
});

/** Step 1 of 2: the token, before one byte of the body is read. Undefined: go on and read. */
export function checkReportAuth(key: Buffer | undefined, token: string | undefined, now: number, remote: string | undefined): ReportHandled | { claims: TokenClaims; id: string } {
  if (!key) return { answer: answer(503, 'hook reports are not configured on this webhook', { close: true }), result: 'disabled' };
  const verdict = verifyToken(key, token, now);
  if (!verdict.ok) {
    const expired = verdict.reason === 'expired';
    return {
      answer: answer(expired ? 403 : 401, expired ? 'token expired' : 'missing or invalid token', { close: true }),
      result: expired ? 'expired' : 'unauthorized',
      log: { level: 'warn', msg: 'hook report refused', fields: { reason: verdict.reason, remote } },
    };
  }
  // The signature is unique per token (the nonce), so it names the token in the replay guard.
  return { claims: verdict.claims, id: (token as string).slice((token as string).lastIndexOf('.') + 1) };
}

/** Step 2 of 2: the decoded body of an authorised request → answer, metric result, log line. */
export function handleReport(
  decoded: Decoded<unknown>, auth: { claims: TokenClaims; id: string }, deps: { knownHooks: ReadonlySet<string>; replay: ReplayGuard; now: number },
): ReportHandled {
  const who = { namespace: auth.claims.ns, vmi: auth.claims.vmi };
  if (!decoded.ok) {
    return {
      answer: answer(decoded.status, decoded.reason, { close: true }),
      result: 'invalid',
      log: { level: 'warn', msg: 'hook report refused', fields: { reason: decoded.reason, ...who } },
    };
  }
  const parsed = parseReport(decoded.value, deps.knownHooks);
  if ('error' in parsed) {
    return { answer: answer(400, parsed.error), result: 'invalid', log: { level: 'warn', msg: 'hook report refused', fields: { reason: parsed.error, ...who } } };
  }
  if (!deps.replay.admit(auth.id, auth.claims.exp, deps.now)) {
    return {
      answer: answer(409, `token already used for ${deps.replay.perToken} reports`),
      result: 'replayed',
      log: { level: 'warn', msg: 'hook report refused', fields: { reason: 'replayed', ...who } },
    };
  }
  const { report } = parsed;
  return {
    answer: answer(204),
    result: 'accepted',
    accepted: { report, claims: auth.claims },
    log: {
      level: 'info',
      msg: 'hook report',
      // Identity from the verified token; the body's own namespace/vmi are only a cross-check.
      fields: {
        ...who,
        generateName: auth.claims.gn,
        kubevirtVersion: report.kubevirtVersion,
        op: report.op,
        result: report.result,
        durationMs: report.durationMs,
        hooks: report.hooks.map((h) => `${h.name}=${h.result}`),
        ...(report.namespace !== undefined && report.namespace !== auth.claims.ns ? { claimedNamespace: report.namespace } : {}),
      },
    },
  };
}

export function reportRoute(opts: ReportReceiverOptions): (app: express.Express) => void {
  const stopping = opts.stopping ?? (() => false);
  const limiter = opts.limiter ?? new ConcurrencyLimiter(REPORT_LIMITS);
  const finish = (res: Response, h: ReportHandled): void => {
    opts.metrics.report(h.result);
    if (h.accepted) {
      opts.metrics.record(h.accepted.report);
      opts.onAccepted?.(h.accepted.report, h.accepted.claims);
    }
    if (h.log) writeLog(opts.logger, h.log);
    if (h.answer.status === 401) res.set('WWW-Authenticate', 'Bearer');
    if (!res.destroyed) respond(res, h.answer, stopping());
  };
  const handle = async (req: Request, res: Response): Promise<void> => {
    const now = opts.now();
    const auth = checkReportAuth(opts.key(), bearerToken(req.headers, req.rawHeaders), now, req.socket.remoteAddress);
    if ('answer' in auth) return finish(res, auth);
    const slot = await limiter.acquire();
    if (!slot.ok) return finish(res, { answer: answer(503, 'too many reports in flight; retry later', { close: true }), result: 'overloaded' });
    try {
      const decoded = await decodeJsonRequest(req, MAX_REPORT_BYTES);
      finish(res, handleReport(decoded, auth, { knownHooks: opts.knownHooks, replay: opts.replay, now }));
    } finally {
      slot.release();
    }
  };
  return (app) => {
    app.post(REPORT_PATH, (req, res) => void handle(req, res));
  };
}
