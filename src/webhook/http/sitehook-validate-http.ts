/**
 * POST /validate-sitehook on the webhook's HTTPS port: admission of SiteHook objects
 * (failurePolicy Fail). The decision is reviewSiteHook() (pure); this is decode, log, answer.
 */
import type express from 'express';
import type { Request, Response } from 'express';
import type { Logger } from '../../shared/log.js';
import type { AllowList } from '../../core/site-hooks/index.js';
import { reviewSiteHook } from '../admission/sitehook-validate.js';
import { decodeJsonRequest } from './body.js';

export const SITEHOOK_VALIDATE_PATH = '/validate-sitehook';

export function siteHookValidateRoute(opts: { allow: AllowList; logger: Logger; maxBodyBytes: number }): (app: express.Express) => void {
  // The same decoder as /mutate and /validate: header checks before reading, the byte and
  // structure bounds, and refusals that never carry the body.
  const handle = async (req: Request, res: Response): Promise<void> => {
    const decoded = await decodeJsonRequest(req, opts.maxBodyBytes);
    if (!decoded.ok) {
      opts.logger.warn({ status: decoded.status, reason: decoded.reason }, 'rejected SiteHook validation request body');
      res.status(decoded.status).json({ error: decoded.message });
      return;
    }
    const { review, outcome } = reviewSiteHook(decoded.value, opts.allow);
    if (outcome.result === 'denied') opts.logger.info({ uid: outcome.uid, sitehook: outcome.name, reason: outcome.message }, 'SiteHook denied');
    else opts.logger.debug({ uid: outcome.uid, sitehook: outcome.name, result: outcome.result }, 'SiteHook admitted');
    res.status(200).json(review);
  };
  return (app) => {
    app.post(SITEHOOK_VALIDATE_PATH, (req, res) => void handle(req, res));
  };
}
