/**
 * The in-pod server's Prometheus series (names listed in the README's metrics table). One instance per
 * server, on its own registry, so tests can run several servers in one process.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { createRegistry, METRIC_PREFIX } from '../shared/metrics.js';
import type { ChainResult } from '../core/chain.js';

export type HookRunResult = 'changed' | 'unchanged' | 'skipped' | 'refused' | 'failed';

/** Outcome of one /v1/migrate-begin request, used for request_duration_seconds{result} and the log line. */
export type RequestResult =
  | 'changed'
  | 'unchanged'
  | 'refused'
  | 'bad-request'
  | 'too-large'
  | 'failed'
  | 'timeout';

export { ABI_GUARD_LABEL, CHAIN_LABEL } from '../protocol/report-wire.js';

// Hooks take microseconds to a few milliseconds; a request includes reading up to 4 MiB.
const HOOK_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class ServerMetrics {
  readonly registry: Registry;
  private readonly hookRuns: Counter<'hook' | 'result'>;
  private readonly hookDuration: Histogram<'hook'>;
  private readonly requestDuration: Histogram<'result'>;
  private readonly refusals: Counter<'hook'>;
  private readonly requests: Counter<'op' | 'code'>;
  private readonly corrections: Counter<'hook'>;

  constructor(opts: { defaults?: boolean } = {}) {
    this.registry = createRegistry(opts);
    const registers = [this.registry];
    this.hookRuns = new Counter({
      name: `${METRIC_PREFIX}hook_runs_total`,
      help: 'Hook runs by hook and result (changed|unchanged|skipped|refused|failed).',
      labelNames: ['hook', 'result'],
      registers,
    });
    this.hookDuration = new Histogram({
      name: `${METRIC_PREFIX}hook_duration_seconds`,
      help: 'Time one hook took on one domain.',
      labelNames: ['hook'],
      buckets: HOOK_BUCKETS,
      registers,
    });
    this.requestDuration = new Histogram({
      name: `${METRIC_PREFIX}request_duration_seconds`,
      help: 'Time from request start to response, by result.',
      labelNames: ['result'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.refusals = new Counter({
      name: `${METRIC_PREFIX}refusals_total`,
      help: 'Domains a hook (or the ABI guard) refused to place on this target.',
      labelNames: ['hook'],
      registers,
    });
    this.requests = new Counter({
      name: `${METRIC_PREFIX}requests_total`,
      help: 'Hook requests by op (migrate|restore|other) and HTTP status code.',
      labelNames: ['op', 'code'],
      registers,
    });
    this.corrections = new Counter({
      name: `${METRIC_PREFIX}placement_corrections_total`,
      help: 'Domains that arrived already placed for this target (e.g. by KubeVirt) and whose pins a hook corrected.',
      labelNames: ['hook'],
      registers,
    });
  }

  /** Start the per-hook series at zero so dashboards see them before the first migration. */
  initHooks(names: readonly string[]): void {
    for (const hook of names) {
      for (const result of ['changed', 'unchanged', 'skipped', 'refused', 'failed'] as const) {
        this.hookRuns.labels(hook, result).inc(0);
      }
      this.refusals.labels(hook).inc(0);
      this.corrections.labels(hook).inc(0);
    }
  }

  recordChain(result: ChainResult): void {
    for (const run of result.hooks) {
      const outcome: HookRunResult = !run.ran ? 'skipped' : run.changes > 0 ? 'changed' : 'unchanged';
      this.hookRuns.labels(run.name, outcome).inc();
      if (run.ran) this.hookDuration.labels(run.name).observe(run.durationMs / 1000);
      // One per domain whose placement the hook corrected (Change.correction), however many vCPUs moved.
      if (result.changes.some((c) => c.hook === run.name && c.correction !== undefined)) this.corrections.labels(run.name).inc();
    }
  }

  recordRefusal(hook: string): void {
    this.hookRuns.labels(hook, 'refused').inc();
    this.refusals.labels(hook).inc();
  }

  recordFailure(hook: string): void {
    this.hookRuns.labels(hook, 'failed').inc();
  }

  /** The exposition for GET /metrics. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  recordRequest(op: string, code: number, result: RequestResult, seconds: number): void {
    this.requests.labels(op, String(code)).inc();
    this.requestDuration.labels(result).observe(seconds);
  }
}
