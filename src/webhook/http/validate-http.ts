/**
 * POST /validate on the webhook's HTTPS port: the ValidatingWebhookConfiguration's endpoint
 *. The decision is validate() (pure); this is decode, time, count, log, answer.
 */
import express, { type Request, type Response } from 'express';
import type { Logger } from '../../shared/log.js';
import { validate, type ValidateSettings } from '../admission/validate.js';
import type { ValidateMetrics } from './validate-metrics.js';

export interface ValidateRouteOptions {
  settings: ValidateSettings;
  metrics: ValidateMetrics;
  logger: Logger;
  maxBodyBytes: number;
}

export function validateRoute(opts: ValidateRouteOptions): (app: express.Express) => void {
  const json = express.json({ limit: opts.maxBodyBytes, strict: true });
  const handle = (req: Request, res: Response): void => {
    json(req, res, (err?: unknown) => {
      const started = process.hrtime.bigint();
      if (err || req.body === undefined) {
        // Nothing the apiserver sends; answering non-200 lets failurePolicy (Ignore) apply.
        const status = (err as { status?: number } | undefined)?.status === 413 ? 413 : 400;
        opts.metrics.observe({ result: 'error', violations: [], denied: false, dryRun: false }, 0);
        opts.logger.warn({ status }, 'rejected validation request body');
        res.status(status).json({ error: status === 413 ? 'too-large' : 'expected an application/json AdmissionReview' });
        return;
      }
      const { review, outcome } = validate(req.body, opts.settings);
      opts.metrics.observe(outcome, Number(process.hrtime.bigint() - started) / 1e9);
      const fields = { uid: outcome.uid, namespace: outcome.namespace, result: outcome.result, dryRun: outcome.dryRun, policy: opts.settings.policy };
      if (outcome.result === 'violation') {
        opts.logger.warn(
          { ...fields, denied: outcome.denied, violations: outcome.violations.map((v) => `${v.check}: ${v.message}`) },
          outcome.denied ? 'target pod rejected: hook injection broken after our patch' : 'target pod admitted with broken hook injection',
        );
      } else if (outcome.result === 'error') {
        opts.logger.error({ ...fields, reason: outcome.reason, err: outcome.message }, 'validation fault; allowed');
      } else {
        opts.logger.debug({ ...fields, reason: outcome.reason }, 'validation passed');
      }
      res.status(200).json(review);
    });
  };
  return (app) => {
    app.post('/validate', handle);
  };
}
