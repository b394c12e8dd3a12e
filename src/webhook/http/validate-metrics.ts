/** The /validate endpoint's own series. */
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../shared/metrics.js';
import { VIOLATION_CHECKS, type ValidateOutcome } from '../admission/validate.js';

export interface ValidateMetrics {
  observe(outcome: Pick<ValidateOutcome, 'result' | 'violations' | 'denied' | 'dryRun'>, seconds: number): void;
}

export function createValidateMetrics(registry: Registry): ValidateMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: `${METRIC_PREFIX}validation_requests_total`,
    help: 'Final target pods validated, by result (ok|violation|skipped|error), denied and dry_run.',
    labelNames: ['result', 'denied', 'dry_run'] as const,
    registers,
  });
  const violations = new Counter({
    name: `${METRIC_PREFIX}validation_violations_total`,
    help: 'Checks an injected pod failed after all admission webhooks ran, by check.',
    labelNames: ['check'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}validation_duration_seconds`,
    help: 'Time to answer one validating AdmissionReview.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  for (const check of VIOLATION_CHECKS) violations.inc({ check }, 0);
  for (const result of ['ok', 'violation', 'error']) requests.inc({ result, denied: 'false', dry_run: 'false' }, 0);
  return {
    observe(outcome, seconds) {
      requests.inc({ result: outcome.result, denied: String(outcome.denied), dry_run: String(outcome.dryRun) });
      for (const v of outcome.violations) violations.inc({ check: v.check });
      duration.observe(seconds);
    },
  };
}
