/**
 * Hook reports from the in-pod server to the webhook. Launcher pods are not scraped, and a VM's
 * pod network may forward every pod port to the guest (masquerade without a port list), so a
 * port opened in the pod may not be reachable: the server pushes each run's outcome to the
 * webhook instead, which aggregates it for Prometheus (docs/webhook.md).
 *
 * Never in the way of a migration: a report is built after the response went out, sent with a
 * short timeout and a couple of retries, then dropped with one log line. A NetworkPolicy (or a
 * bridge-bound pod network) that blocks it only loses the report.
 */
import https from 'node:https';
import type { ServerLogger } from './log.js';
import type { ChainResult } from '../core/chain.js';
import type { RequestResult } from './metrics.js';
import { CHAIN_LABEL } from './metrics.js';
import { REPORT_SCHEMA, type HookReport, type HookReportEntry, type MigrationReportResult } from '../protocol/report-wire.js';

/** What the app knows about one finished /v1/migrate-begin request. */
export interface RunRecord {
  op: string;
  result: RequestResult;
  seconds: number;
  chain?: ChainResult;
  /** The hook (or abi-guard) whose refusal ended the run. */
  refusedBy?: string;
}

export interface ReportTarget {
  url: string;
  /** PEM bundle: the only CAs trusted for the webhook's certificate. */
  ca: string;
  token: string;
  kubevirtVersion?: string;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

function migrationResult(r: RequestResult): MigrationReportResult {
  return r === 'changed' || r === 'unchanged' || r === 'refused' ? r : 'failed';
}

/** Pure: the report for one run. Hooks a refusal or fault cut short are not guessed at. */
export function buildReport(run: RunRecord, extra: { kubevirtVersion?: string; namespace?: string; vmi?: string } = {}): HookReport {
  let hooks: HookReportEntry[] = [];
  if (run.chain) {
    hooks = run.chain.hooks.map((h) =>
      h.ran ? { name: h.name, result: h.changes > 0 ? 'changed' : 'unchanged', durationMs: round(h.durationMs) } : { name: h.name, result: 'skipped' },
    );
  } else if (run.result === 'refused' && run.refusedBy) {
    hooks = [{ name: run.refusedBy, result: 'refused' }];
  } else if (run.result === 'failed') {
    hooks = [{ name: CHAIN_LABEL, result: 'failed' }];
  }
  return {
    schema: REPORT_SCHEMA,
    op: run.op === 'migrate' || run.op === 'restore' ? run.op : 'other',
    result: migrationResult(run.result),
    durationMs: round(run.seconds * 1000),
    hooks,
    ...(extra.kubevirtVersion ? { kubevirtVersion: extra.kubevirtVersion } : {}),
    ...(extra.namespace ? { namespace: extra.namespace } : {}),
    ...(extra.vmi ? { vmi: extra.vmi } : {}),
  };
}

/** The pod identity inside our own token (src/webhook/admission/token.ts format), read without the key: for the report's log fields only. */
export function identityFromToken(token: string): { namespace?: string; vmi?: string } {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { ns?: unknown; vmi?: unknown };
    return {
      ...(typeof claims.ns === 'string' && claims.ns ? { namespace: claims.ns } : {}),
      ...(typeof claims.vmi === 'string' && claims.vmi ? { vmi: claims.vmi } : {}),
    };
  } catch {
    return {};
  }
}

export interface ReporterOptions {
  target: ReportTarget;
  logger: ServerLogger;
  /** Per attempt. */
  timeoutMs?: number;
  /** After the first attempt. */
  retries?: number;
  backoffMs?: number;
  /** Reports in flight at once; more are dropped (a burst of runs must not pile up sockets). */
  maxInFlight?: number;
}

type Attempt = { ok: true; status: number } | { ok: false; retry: boolean; why: string };

export class Reporter {
  private inFlight = 0;
  private readonly identity: { namespace?: string; vmi?: string };

  constructor(private readonly opts: ReporterOptions) {
    this.identity = identityFromToken(opts.target.token);
  }

  /** Fire and forget; the promise (for tests) resolves to true when the webhook took the report. */
  send(run: RunRecord): Promise<boolean> {
    const report = buildReport(run, { ...this.identity, ...(this.opts.target.kubevirtVersion ? { kubevirtVersion: this.opts.target.kubevirtVersion } : {}) });
    if (this.inFlight >= (this.opts.maxInFlight ?? 4)) {
      this.opts.logger.warn({ result: report.result }, 'hook report dropped: too many reports in flight');
      return Promise.resolve(false);
    }
    this.inFlight++;
    return this.deliver(JSON.stringify(report))
      .catch((err: unknown) => {
        this.opts.logger.warn({ error: (err as Error).message }, 'hook report dropped');
        return false;
      })
      .finally(() => {
        this.inFlight--;
      });
  }

  private async deliver(body: string): Promise<boolean> {
    const retries = this.opts.retries ?? 2;
    const backoff = this.opts.backoffMs ?? 200;
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await delay(backoff * 2 ** (attempt - 1));
      const r = await this.post(body);
      if (r.ok) {
        this.opts.logger.debug({ status: r.status, attempt }, 'hook report delivered');
        return true;
      }
      last = r.why;
      if (!r.retry) break;
    }
    this.opts.logger.warn({ url: this.opts.target.url, error: last, attempts: retries + 1 }, 'hook report dropped');
    return false;
  }

  private post(body: string): Promise<Attempt> {
    const url = new URL(this.opts.target.url);
    return new Promise((resolve) => {
      const req = https.request(
        url,
        {
          method: 'POST',
          ca: this.opts.target.ca,
          minVersion: 'TLSv1.2',
          timeout: this.opts.timeoutMs ?? 2000,
          // No keep-alive: reports are rare, and an idle socket would hold the pod's event loop.
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${this.opts.target.token}`,
          },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ ok: true, status });
          // 4xx will not get better by asking again (bad or expired token, bad report).
          else resolve({ ok: false, retry: status >= 500 || status === 429, why: `HTTP ${status}` });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 2000} ms`)));
      req.on('error', (err) => resolve({ ok: false, retry: true, why: err.message }));
      req.end(body);
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
