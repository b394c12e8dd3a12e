/**
 * POST /report on the webhook's HTTPS port: hook reports from in-pod servers.
 *   204 accepted | 400 not a report | 401 no or bad token | 403 expired token | 413 too large
 *   503 reports not configured (no --report-key-file)
 * Body errors are answered here, not by the app's admission error handler, so they are
 * counted as reports and never as admissions.
 */
import express, { type Request, type Response } from 'express';
import type { Logger } from '../../shared/log.js';
import { MAX_REPORT_BYTES, parseReport, REPORT_PATH } from '../../protocol/report-wire.js';
import type { ReportMetrics } from './report-metrics.js';
import { verifyToken } from '../admission/token.js';

export interface ReportReceiverOptions {
  /** The HMAC key; undefined while reports are not configured or the key is not readable. */
  key(): Buffer | undefined;
  /** Unix seconds. */
  now(): number;
  knownHooks: ReadonlySet<string>;
  metrics: ReportMetrics;
  logger: Logger;
}

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m?.[1];
}

export function reportRoute(opts: ReportReceiverOptions): (app: express.Express) => void {
  const json = express.json({ limit: MAX_REPORT_BYTES, strict: true });
  const handle = (req: Request, res: Response): void => {
    const key = opts.key();
    if (!key) {
      opts.metrics.report('disabled');
      res.status(503).json({ error: 'hook reports are not configured on this webhook' });
      return;
    }
    const verdict = verifyToken(key, bearer(req), opts.now());
    if (!verdict.ok) {
      const expired = verdict.reason === 'expired';
      opts.metrics.report(expired ? 'expired' : 'unauthorized');
      opts.logger.warn({ reason: verdict.reason, remote: req.socket.remoteAddress }, 'hook report refused');
      if (!expired) res.set('WWW-Authenticate', 'Bearer');
      res.status(expired ? 403 : 401).json({ error: expired ? 'token expired' : 'missing or invalid token' });
      return;
    }
    json(req, res, (err?: unknown) => {
      if (err) {
        const status = (err as { status?: number }).status === 413 ? 413 : 400;
        opts.metrics.report('invalid');
        res.status(status).json({ error: status === 413 ? 'report too large' : 'malformed JSON' });
        return;
      }
      const parsed = parseReport(req.body, opts.knownHooks);
      if ('error' in parsed) {
        opts.metrics.report('invalid');
        opts.logger.warn({ reason: parsed.error, namespace: verdict.claims.ns, vmi: verdict.claims.vmi }, 'hook report refused');
        res.status(400).json({ error: parsed.error });
        return;
      }
      const { report } = parsed;
      opts.metrics.report('accepted');
      opts.metrics.record(report);
      // Identity from the verified token; the body's own namespace/vmi are only a cross-check.
      opts.logger.info(
        {
          namespace: verdict.claims.ns,
          vmi: verdict.claims.vmi,
          generateName: verdict.claims.gn,
          kubevirtVersion: report.kubevirtVersion,
          op: report.op,
          result: report.result,
          durationMs: report.durationMs,
          hooks: report.hooks.map((h) => `${h.name}=${h.result}`),
          ...(report.namespace !== undefined && report.namespace !== verdict.claims.ns ? { claimedNamespace: report.namespace } : {}),
        },
        'hook report',
      );
      res.status(204).end();
    });
  };
  return (app) => {
    app.post(REPORT_PATH, handle);
  };
}
