/**
 * POST /validate on the webhook's admission port: the ValidatingWebhookConfiguration's endpoint.
 * Decode (body.ts) → validate() through handleValidate() (pure, answer.ts) → respond; it shares
 * the admission concurrency bound with /mutate.
 */
import type express from 'express';
import type { Logger } from '../../shared/log.js';
import type { ValidateSettings } from '../admission/validate.js';
import { handleValidate, validateOverloaded } from './answer.js';
import { boundedJsonRoute } from './app.js';
import { ConcurrencyLimiter, DEFAULT_LIMITS } from './limiter.js';
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
  const handler = boundedJsonRoute({
    limiter: opts.limiter ?? new ConcurrencyLimiter({ ...DEFAULT_LIMITS, bytes: opts.maxBodyBytes }),
    maxBodyBytes: opts.maxBodyBytes,
    stopping: opts.stopping ?? (() => false),
    logger: opts.logger,
    overloaded: validateOverloaded,
    handle: (decoded) => handleValidate(decoded, opts.settings),
    observe: (metric, seconds) => opts.metrics.observe(metric, seconds),
  });
  return (app) => {
    app.post('/validate', handler);
  };
}
