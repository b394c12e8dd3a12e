/**
 * The in-pod server's Prometheus series (names listed in the README's metrics table), kept in a
 * small store of its own and rendered as Prometheus text on GET /metrics. One instance per
 * server, so tests can run several servers in one process.
 *
 * Why not prom-client here: its import costs about 0.6 s of start-up under the sidecar's 100m
 * CPU limit (bench/RESULTS.md, Footprint), and launcher pods are rarely scraped at all. With
 * `defaults`, Node's process series (`process_*`, `nodejs_*`, standard names) still come from
 * prom-client, imported on the first scrape only.
 */
import { METRIC_PREFIX } from '../shared/metric-prefix.js';
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

import { ABI_GUARD_LABEL, CHAIN_LABEL } from '../protocol/report-wire.js';

export { ABI_GUARD_LABEL, CHAIN_LABEL };

// Hooks take microseconds to a few milliseconds; a request includes reading up to 4 MiB.
const HOOK_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) pairs.unshift(`${extra[0]}="${extra[1]}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

/** Go's %g-like number text, as Prometheus writes it (`+Inf`, integers without a dot). */
function num(v: number): string {
  return v === Infinity ? '+Inf' : String(v);
}

/** A counter family: one value per label combination, in first-seen order. */
export class Counter {
  private readonly series = new Map<string, { labels: string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  inc(labels: readonly string[], by = 1): void {
    const key = labels.join('\u0000');
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels: [...labels], value: by });
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.labels)} ${num(s.value)}`);
    return lines.join('\n');
  }
}

/** A histogram family with fixed buckets; observations are counted, never kept. */
export class Histogram {
  private readonly series = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: readonly string[], v: number): void {
    const key = labels.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: [...labels], counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (v <= (this.buckets[i] as number)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += v;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', num(b)])} ${s.counts[i] ?? 0}`));
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export interface MetricsOptions {
  /** Also expose Node's process series (prom-client's default metrics, loaded on the first scrape). */
  defaults?: boolean;
}

export class ServerMetrics {
  private readonly hookRuns = new Counter(`${METRIC_PREFIX}hook_runs_total`, 'Hook runs by hook and result (changed|unchanged|skipped|refused|failed).', ['hook', 'result']);
  private readonly hookDuration = new Histogram(`${METRIC_PREFIX}hook_duration_seconds`, 'Time one hook took on one domain.', ['hook'], HOOK_BUCKETS);
  private readonly requestDuration = new Histogram(`${METRIC_PREFIX}request_duration_seconds`, 'Time from request start to response, by result.', ['result'], REQUEST_BUCKETS);
  private readonly refusals = new Counter(`${METRIC_PREFIX}refusals_total`, 'Domains a hook (or the ABI guard) refused to place on this target.', ['hook']);
  private readonly requests = new Counter(`${METRIC_PREFIX}requests_total`, 'Hook requests by op (migrate|restore|other) and HTTP status code.', ['op', 'code']);
  private readonly corrections = new Counter(`${METRIC_PREFIX}placement_corrections_total`, 'Domains that arrived already placed for this target (e.g. by KubeVirt) and whose pins a hook corrected.', ['hook']);
  // The two outcomes no hook owns get their own series, so hook_runs_total{hook} only ever
  // names real hooks (docs/webhook.md, "Hook reports").
  private readonly abiGuardRefusals = new Counter(`${METRIC_PREFIX}abi_guard_refusals_total`, 'Rewritten domains the ABI guard refused (the hooks changed something libvirt would reject).', []);
  private readonly chainFailures = new Counter(`${METRIC_PREFIX}chain_failures_total`, 'Hook calls that failed outside any hook (an unexpected fault in the chain).', []);
  private readonly releases = new Counter(`${METRIC_PREFIX}releases_total`, 'libvirt release-end notices received (the domain left this pod).', []);
  private defaults: Promise<{ metrics(): Promise<string> }> | undefined;

  constructor(private readonly opts: MetricsOptions = {}) {
    this.releases.inc([], 0);
    this.abiGuardRefusals.inc([], 0);
    this.chainFailures.inc([], 0);
  }

  /** Start the per-hook series at zero so dashboards see them before the first migration. */
  initHooks(names: readonly string[]): void {
    for (const hook of names) {
      for (const result of ['changed', 'unchanged', 'skipped', 'refused', 'failed'] as const) this.hookRuns.inc([hook, result], 0);
      this.refusals.inc([hook], 0);
      this.corrections.inc([hook], 0);
    }
  }

  recordChain(result: ChainResult): void {
    for (const run of result.hooks) {
      const outcome: HookRunResult = !run.ran ? 'skipped' : run.changes > 0 ? 'changed' : 'unchanged';
      this.hookRuns.inc([run.name, outcome]);
      if (run.ran) this.hookDuration.observe([run.name], run.durationMs / 1000);
      // One per domain whose placement the hook corrected (Change.correction), however many vCPUs moved.
      if (result.changes.some((c) => c.hook === run.name && c.correction !== undefined)) this.corrections.inc([run.name]);
    }
  }

  /** A refusal by a hook, or by the ABI guard (ABI_GUARD_LABEL), which has its own series. */
  recordRefusal(hook: string): void {
    if (hook === ABI_GUARD_LABEL) {
      this.abiGuardRefusals.inc([]);
      return;
    }
    this.hookRuns.inc([hook, 'refused']);
    this.refusals.inc([hook]);
  }

  /** A failure in a hook, or in the chain itself (CHAIN_LABEL), which has its own series. */
  recordFailure(hook: string): void {
    if (hook === CHAIN_LABEL) {
      this.chainFailures.inc([]);
      return;
    }
    this.hookRuns.inc([hook, 'failed']);
  }

  recordRequest(op: string, code: number, result: RequestResult, seconds: number): void {
    this.requests.inc([op, String(code)]);
    this.requestDuration.observe([result], seconds);
  }

  recordRelease(): void {
    this.releases.inc([]);
  }

  /** The exposition for GET /metrics. */
  async render(): Promise<{ contentType: string; text: string }> {
    const own = [this.requests, this.requestDuration, this.hookRuns, this.hookDuration, this.refusals, this.corrections, this.abiGuardRefusals, this.chainFailures, this.releases].map((m) => m.render()).join('\n\n');
    let text = `${own}\n`;
    if (this.opts.defaults) {
      this.defaults ??= import('../shared/metrics.js').then((m) => m.createRegistry({ defaults: true }));
      text += `\n${await (await this.defaults).metrics()}`;
    }
    return { contentType: CONTENT_TYPE, text };
  }
}
