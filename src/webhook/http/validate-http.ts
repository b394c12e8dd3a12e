/**
 * POST /validate on the webhook's admission port: the ValidatingWebhookConfiguration's endpoint.
 * Decode (body.ts) → validate() through handleValidate() (pure, answer.ts) → respond; it shares
 * the admission concurrency bound with /mutate.
 */
import type express from 'express';
import type { Request, Response } from 'express';
import type { Logger } from '../../shared/log.js';
import type { ValidateSettings } from '../admission/validate.js';
import { decodeJsonRequest } from './body.js';
import { handleValidate, validateOverloaded } from './answer.js';
import { respond, writeLog } from './app.js';
import { ConcurrencyLimiter, DEFAULT_LIMITS, requestWeight } from './limiter.js';
import type { ValidateMetrics } from './validate-metrics.js';

export interface ValidateRouteOptions {
  settings: ValidateSettings;
  metrics: ValidateMetrics;
  logger: Logger;
  maxBodyBytes: number;
  limiter?: ConcurrencyLimiter;
  stopping?: () => boolean;
}

export function validateRoute(opts: ValidateRouteOptions): (app: express.Express) => void {
  const stopping = opts.stopping ?? (() => false);
  const limiter = opts.limiter ?? new ConcurrencyLimiter({ ...DEFAULT_LIMITS, bytes: opts.maxBodyBytes });
  const handle = async (req: Request, res: Response): Promise<void> => {
    const started = process.hrtime.bigint();
    const slot = await limiter.acquire(requestWeight(req.headers['content-length'], opts.maxBodyBytes));
    if (!slot.ok) {
      const r = validateOverloaded(slot.reason, limiter.opts);
      opts.metrics.observe(r.metric, 0);
      writeLog(opts.logger, r.log);
      respond(res, r.answer, stopping());
      return;
    }
    try {
      const decoded = await decodeJsonRequest(req, opts.maxBodyBytes);
      const r = handleValidate(decoded, opts.settings);
      opts.metrics.observe(r.metric, decoded.ok ? Number(process.hrtime.bigint() - started) / 1e9 : 0);
      writeLog(opts.logger, r.log);
      if (!res.destroyed) respond(res, r.answer, stopping());
    } finally {
      slot.release();
    }
  };
  return (app) => {
    app.post('/validate', (req, res) => void handle(req, res));
  };
}
