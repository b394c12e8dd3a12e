/**
 * POST /validate-sitehook on the webhook's HTTPS port: admission of SiteHook objects
 * (failurePolicy Fail). The decision is reviewSiteHook() (pure); this is decode, log, answer.
 */
import express, { type Request, type Response } from 'express';
import type { Logger } from '../../shared/log.js';
import type { AllowList } from '../../core/site-hooks/index.js';
import { reviewSiteHook } from '../admission/sitehook-validate.js';

export const SITEHOOK_VALIDATE_PATH = '/validate-sitehook';

export function siteHookValidateRoute(opts: { allow: AllowList; logger: Logger; maxBodyBytes: number }): (app: express.Express) => void {
  const json = express.json({ limit: opts.maxBodyBytes, strict: true });
  const handle = (req: Request, res: Response): void => {
    json(req, res, (err?: unknown) => {
      if (err || req.body === undefined) {
        const status = (err as { status?: number } | undefined)?.status === 413 ? 413 : 400;
        opts.logger.warn({ status }, 'rejected SiteHook validation request body');
        res.status(status).json({ error: status === 413 ? 'too-large' : 'expected an application/json AdmissionReview' });
        return;
      }
      const { review, outcome } = reviewSiteHook(req.body, opts.allow);
      if (outcome.result === 'denied') opts.logger.info({ uid: outcome.uid, sitehook: outcome.name, reason: outcome.message }, 'SiteHook denied');
      else opts.logger.debug({ uid: outcome.uid, sitehook: outcome.name, result: outcome.result }, 'SiteHook admitted');
      res.status(200).json(review);
    });
  };
  return (app) => {
    app.post(SITEHOOK_VALIDATE_PATH, handle);
  };
}
