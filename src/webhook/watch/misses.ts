/**
 * premigration_hooks_hook_misses_total{reason}: migrations of injected target pods that went on
 * without our hooks' answer. This product's main service-level signal (docs/webhook.md,
 * "Missed hooks"). Two sources feed it, each counting only what it can know:
 *   refused | failed   an accepted report whose run was refused or failed while the injected
 *                      --on-error is pass: the client passed, libvirt kept the source's XML;
 *   timeout            an accepted report of a changed run that took longer than the client's
 *                      deadline (--client-timeout-ms): the client gave up and passed first;
 *   server-restarted   the target-pod watch saw our hook server restart in an injected target
 *                      pod: while it was down the client could not reach it.
 * Reports reach one replica each (sum across replicas); every replica watches every target pod
 * (take the max for server-restarted): the alert does both.
 *
 * Pure classification here; the counter is created once per registry and shared.
 */
import { Counter, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../shared/metrics.js';

export type MissReason = 'refused' | 'failed' | 'timeout' | 'server-restarted';
export const MISS_REASONS: readonly MissReason[] = ['refused', 'failed', 'timeout', 'server-restarted'];
export const MISSES_METRIC = `${METRIC_PREFIX}hook_misses_total`;

export interface MissCounter {
  miss(reason: MissReason): void;
}

/** The one counter of a registry (created at first use, every reason born at 0). */
export function missCounter(registry: Registry): MissCounter {
  const existing = registry.getSingleMetric(MISSES_METRIC) as Counter<'reason'> | undefined;
  const counter = existing ?? new Counter({
    name: MISSES_METRIC,
    help: 'Migrations of injected target pods that went on without the hooks\' answer, by reason (refused|failed|timeout|server-restarted).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  if (!existing) for (const reason of MISS_REASONS) counter.inc({ reason }, 0);
  return { miss: (reason) => counter.inc({ reason }) };
}

/** What one accepted report says about a miss, under the injected policy and client deadline. */
export function missFromReport(
  report: { result: string; durationMs: number },
  injected: { onError: 'pass' | 'abort'; clientTimeoutMs: number },
): MissReason | undefined {
  if (injected.onError !== 'pass') return undefined; // abort: the migration failed instead, counted as such
  if (report.result === 'refused' || report.result === 'failed') return report.result;
  if (report.result === 'changed' && report.durationMs > injected.clientTimeoutMs) return 'timeout';
  return undefined;
}
