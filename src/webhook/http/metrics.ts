/**
 * The webhook's Prometheus series (listed in the README's metrics table, prefix premigration_hooks_).
 * Mode, gate and KubeVirt version are read from the GateProvider at scrape time, so they can
 * never lag behind the state admission decisions use. The watch_* series belong to gate.ts.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../shared/metrics.js';
import { VERSION } from '../../shared/version.js';
import type { GateState, Mode } from '../admission/types.js';
import type { AdmitOutcome } from '../admission/admit.js';
import type { ReloadResult } from './tls.js';

const MODES: Mode[] = ['inject', 'coexist', 'off'];

export interface WebhookMetrics {
  observeAdmission(outcome: Pick<AdmitOutcome, 'result' | 'reason' | 'dryRun'>, seconds: number): void;
  tlsReload(result: ReloadResult): void;
  certificateExpiry(notAfterSeconds: number): void;
}

export function createWebhookMetrics(registry: Registry, gate: () => GateState): WebhookMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: `${METRIC_PREFIX}admission_requests_total`,
    help: 'AdmissionReviews answered, by result (injected|skipped|error), reason and dry_run.',
    labelNames: ['result', 'reason', 'dry_run'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}admission_duration_seconds`,
    help: 'Time to answer one AdmissionReview (decode to response), by result.',
    labelNames: ['result'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  for (const result of ['injected', 'skipped', 'error']) duration.zero({ result });
  new Gauge({
    name: `${METRIC_PREFIX}mode`,
    help: 'Current injection mode: 1 for the active mode, 0 for the others.',
    labelNames: ['mode'] as const,
    registers,
    collect() {
      const current = gate().mode;
      for (const m of MODES) this.set({ mode: m }, m === current ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}feature_gate_enabled`,
    help: '1 when LibvirtHooksServerAndClient is in effect in the KubeVirt CR (or forced by --gate-source).',
    registers,
    collect() {
      this.set(gate().gateEnabled ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}kubevirt_info`,
    help: 'Observed KubeVirt version (status.observedKubeVirtVersion); "unknown" until seen.',
    labelNames: ['version'] as const,
    registers,
    collect() {
      this.reset();
      this.set({ version: gate().kubevirtVersion ?? 'unknown' }, 1);
    },
  });
  const expiry = new Gauge({
    name: `${METRIC_PREFIX}tls_certificate_expiry_timestamp_seconds`,
    help: 'notAfter of the serving certificate currently loaded, as a Unix timestamp.',
    registers,
  });
  const reloads = new Counter({
    name: `${METRIC_PREFIX}tls_reloads_total`,
    help: 'Serving certificate (re)loads from the cert directory, by result (success|error|refused: expired, not yet valid or too weak).',
    labelNames: ['result'] as const,
    registers,
  });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'error' }, 0);
  reloads.inc({ result: 'refused' }, 0);
  new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'Build information of the webhook.',
    labelNames: ['version'] as const,
    registers,
  }).set({ version: VERSION }, 1);

  return {
    observeAdmission(outcome, seconds) {
      requests.inc({ result: outcome.result, reason: outcome.reason, dry_run: String(outcome.dryRun) });
      duration.observe({ result: outcome.result }, seconds);
    },
    tlsReload(result) {
      reloads.inc({ result });
    },
    certificateExpiry(notAfterSeconds) {
      expiry.set(notAfterSeconds);
    },
  };
}
