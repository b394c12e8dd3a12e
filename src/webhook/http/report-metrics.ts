/**
 * Hook outcomes from every target pod, aggregated by the webhook. The names match
 * the in-pod server's own series, so a dashboard reads the same either way; the labels are
 * bounded (hook names from the registry, fixed result sets). Namespace and VMI go to logs,
 * never to labels.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../shared/metrics.js';
import { ABI_GUARD_LABEL, CHAIN_LABEL, HOOK_REPORT_RESULTS, MIGRATION_REPORT_RESULTS, type HookReport } from '../../protocol/report-wire.js';

export type ReportResult = 'accepted' | 'invalid' | 'unauthorized' | 'expired' | 'replayed' | 'overloaded' | 'disabled';
const REPORT_RESULTS: readonly ReportResult[] = ['accepted', 'invalid', 'unauthorized', 'expired', 'replayed', 'overloaded', 'disabled'];

// Same buckets as the in-pod server's hook_duration_seconds.
const HOOK_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export interface ReportMetrics {
  report(result: ReportResult): void;
  record(report: HookReport): void;
}

export function createReportMetrics(registry: Registry, hooks: readonly string[]): ReportMetrics {
  const registers = [registry];
  const runs = new Counter({
    name: `${METRIC_PREFIX}hook_runs_total`,
    help: 'Hook runs reported by target pods, by hook and result (changed|unchanged|skipped|refused|failed).',
    labelNames: ['hook', 'result'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}hook_duration_seconds`,
    help: 'Time one hook took on one domain, as reported by target pods.',
    labelNames: ['hook'] as const,
    buckets: HOOK_BUCKETS,
    registers,
  });
  const migrations = new Counter({
    name: `${METRIC_PREFIX}migrations_total`,
    help: 'Migration (or restore) hook runs reported by target pods, by overall result (changed|unchanged|refused|failed).',
    labelNames: ['result'] as const,
    registers,
  });
  const reports = new Counter({
    name: `${METRIC_PREFIX}reports_total`,
    help: 'Hook reports received, by result (accepted|invalid|unauthorized|expired|replayed|overloaded|disabled).',
    labelNames: ['result'] as const,
    registers,
  });
  // The outcomes no hook owns arrive in a report's hooks list under the pseudo-names abi-guard
  // and chain (the wire format of every version); they are counted apart, so hook_runs_total
  // only names real hooks.
  const abiGuard = new Counter({
    name: `${METRIC_PREFIX}abi_guard_refusals_total`,
    help: 'Rewritten domains the ABI guard refused, as reported by target pods.',
    registers,
  });
  const chainFailures = new Counter({
    name: `${METRIC_PREFIX}chain_failures_total`,
    help: 'Hook calls that failed outside any hook (a fault in the chain, a timeout, unreadable input), as reported by target pods.',
    registers,
  });
  // Zero from the start: alerts and dashboards see the series before the first migration.
  abiGuard.inc(0);
  chainFailures.inc(0);
  for (const hook of hooks.filter((h) => h !== ABI_GUARD_LABEL && h !== CHAIN_LABEL)) for (const result of HOOK_REPORT_RESULTS) runs.inc({ hook, result }, 0);
  for (const result of MIGRATION_REPORT_RESULTS) migrations.inc({ result }, 0);
  for (const result of REPORT_RESULTS) reports.inc({ result }, 0);

  return {
    report(result) {
      reports.inc({ result });
    },
    record(report) {
      migrations.inc({ result: report.result });
      for (const h of report.hooks) {
        if (h.name === ABI_GUARD_LABEL) {
          if (h.result === 'refused') abiGuard.inc();
          continue;
        }
        if (h.name === CHAIN_LABEL) {
          if (h.result === 'failed') chainFailures.inc();
          continue;
        }
        runs.inc({ hook: h.name, result: h.result });
        if (h.durationMs !== undefined && h.result !== 'skipped') duration.observe({ hook: h.name }, h.durationMs / 1000);
      }
    },
  };
}
