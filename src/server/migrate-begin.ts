/**
 * POST /v1/migrate-begin in four steps: decode (headers + body → a typed request, or a 4xx) →
 * runChain (pure) → outcomeOf (pure: status, log fields, metric labels, refusedBy) → respond.
 * Imported by app.ts with the first such request, not before the socket opens.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChainOptions } from '../core/chain.js';
import type { HookContext } from '../core/hooks/types.js';
import type { AppDeps } from './app.js';
import { respond } from './respond.js';
import { readBody } from './body.js';
import { decodeBody, decodeDomainName, decodeHeaders, requestMeta } from './decode.js';
import { outcomeOf, type Ended } from './outcome.js';
import { requestLogLine } from './request-log.js';
import type { RunRecord } from './report.js';

export async function handleMigrateBegin(req: IncomingMessage, res: ServerResponse, deps: AppDeps): Promise<void> {
  const started = process.hrtime.bigint();
  const meta = requestMeta(req.headers);
  let finished = false;

  const finish = (ended: Ended): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const o = outcomeOf(ended);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (o.chain) deps.metrics.recordChain(o.chain);
    if (o.refusedBy) deps.metrics.recordRefusal(o.refusedBy);
    if (o.failedHook) deps.metrics.recordFailure(o.failedHook);
    deps.metrics.recordRequest(meta.opLabel, o.status, o.result, seconds);
    const line = requestLogLine({ ...meta, ...o.log, ...(o.chain ? { chain: o.chain } : {}), status: o.status, result: o.result, durationMs: seconds * 1000 });
    deps.logger[o.level](line, 'migrate-begin');
    respond(res, o.answer);
    // Only after the response: a report must never delay or fail the hook.
    if (deps.onRun) {
      const run: RunRecord = { op: meta.op, result: o.result, seconds, ...(o.chain ? { chain: o.chain } : {}), ...(o.refusedBy ? { refusedBy: o.refusedBy } : {}) };
      setImmediate(() => deps.onRun?.(run));
    }
  };

  // The chain itself is synchronous and bounded; what can hang is a client that stops sending.
  const timer = setTimeout(() => finish({ kind: 'timeout', timeoutMs: deps.timeoutMs }), deps.timeoutMs);
  res.once('close', () => clearTimeout(timer));

  try {
    const request = decodeHeaders(req.headers, deps.parseCpuset);
    const body = await readBody(req, deps.maxBodyBytes);
    if (deps.chainLoaded) await deps.chainLoaded();
    if (finished) return;
    const xml = decodeBody(body);
    const domainName = decodeDomainName(req.headers);
    const ctx: HookContext = { cpuset: request.cpus, host: deps.host, ...deps.identity, ...(domainName !== undefined ? { domainName } : {}) };
    const opts: ChainOptions = { maxBytes: deps.maxBodyBytes, ...(deps.hooks ? { hooks: deps.hooks } : {}) };
    finish({ kind: 'result', result: deps.runChain(xml, ctx, opts) });
  } catch (error) {
    finish({ kind: 'error', error });
  }
}
