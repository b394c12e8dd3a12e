/**
 * The hook server's HTTP surface, as an express app with its dependencies passed in:
 *   POST /v1/migrate-begin  domain XML in → 200 new XML | 204 unchanged | 400/413/422/500/503 {error}
 *   GET  /healthz           200 once ready
 *   GET  /metrics           Prometheus text
 * Pure wiring: no sockets, files or sysfs here (see main.ts).
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Logger } from '../shared/log.js';
import type { ChainOptions, ChainResult } from '../core/chain.js';
import type { HookContext } from '../core/hooks/types.js';
import type { HostTopology } from '../core/topology/index.js';
import { AbiViolation, HookRefusal, PremigrationError } from '../core/errors.js';
import { BodyAbortedError, BodyTooLargeError, readBody } from './body.js';
import { ABI_GUARD_LABEL, CHAIN_LABEL, type RequestResult, type ServerMetrics } from './metrics.js';
import { requestLogLine, type RequestOutcome } from './request-log.js';
import type { RunRecord } from './report.js';

export type ChainRunner = (xml: string, ctx: HookContext, opts: ChainOptions) => ChainResult;

export interface AppDeps {
  runChain: ChainRunner;
  /** Node topology, read once at start. */
  host: HostTopology;
  /** Turns the client's `X-Premigration-Cpuset` list into CPU ids; throws on a malformed list. */
  parseCpuset: (list: string) => number[];
  hooks?: string[];
  /** Added to every request's context: disk-namespace's facts and overrides from the settings. */
  identity?: Pick<HookContext, 'sourceNamespace' | 'targetNamespace' | 'podNamespace' | 'vmiName'>;
  logger: Logger;
  metrics: ServerMetrics;
  maxBodyBytes: number;
  /** Per-request timeout; past it the request is answered 503. */
  timeoutMs: number;
  /** False until start-up finished and again while stopping. */
  ready: () => boolean;
  /** Called after each migrate-begin response went out (hook reports). */
  onRun?: (run: RunRecord) => void;
}

export const HEADER = {
  cpuset: 'x-premigration-cpuset',
  cpusetSource: 'x-premigration-cpuset-source',
  domain: 'x-premigration-domain',
  op: 'x-premigration-op',
} as const;

/** Bad request metadata (headers), as opposed to a bad XML: 400. */
class BadRequestError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function header(req: Request, name: string, maxLength = 256): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.slice(0, maxLength);
}

/** Bounded label values: anything else the client might send would grow the series without end. */
function opLabel(op: string | undefined): string {
  return op === 'migrate' || op === 'restore' ? op : 'other';
}

function cpusetFrom(req: Request, parse: (list: string) => number[]): number[] {
  const raw = header(req, HEADER.cpuset, 4096)?.trim();
  if (!raw) throw new BadRequestError(`missing header X-Premigration-Cpuset`);
  let cpus: number[];
  try {
    cpus = parse(raw);
  } catch (err) {
    throw new BadRequestError(`invalid X-Premigration-Cpuset "${raw}": ${(err as Error).message}`);
  }
  if (cpus.length === 0) throw new BadRequestError('X-Premigration-Cpuset is empty');
  return cpus;
}

/** The name libvirt called the hook with; the client percent-encodes `%`, control and non-ASCII bytes. */
function domainHeader(req: Request): string | undefined {
  const raw = header(req, HEADER.domain, 1024);
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`invalid X-Premigration-Domain "${raw}": bad percent-encoding`);
  }
}

interface Classified {
  status: number;
  result: RequestResult;
  message: string;
}

function classify(err: unknown, deps: AppDeps): Classified {
  if (err instanceof BadRequestError) return { status: 400, result: 'bad-request', message: err.message };
  if (err instanceof BodyTooLargeError) return { status: 413, result: 'too-large', message: err.message };
  if (err instanceof HookRefusal) {
    deps.metrics.recordRefusal(err.hook);
    return { status: 422, result: 'refused', message: err.message };
  }
  if (err instanceof AbiViolation) {
    deps.metrics.recordRefusal(ABI_GUARD_LABEL);
    return { status: 422, result: 'refused', message: err.message };
  }
  if (err instanceof PremigrationError) return { status: 422, result: 'bad-request', message: err.message };
  deps.metrics.recordFailure(CHAIN_LABEL);
  return { status: 500, result: 'failed', message: `internal error: ${(err as Error)?.message ?? String(err)}` };
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    if (deps.ready()) res.status(200).json({ status: 'ok' });
    else res.status(503).json({ status: 'starting or stopping' });
  });

  app.get('/metrics', async (_req, res, next) => {
    try {
      const text = await deps.metrics.registry.metrics();
      res.status(200).type(deps.metrics.registry.contentType).send(text);
    } catch (err) {
      next(err);
    }
  });

  app.post('/v1/migrate-begin', (req, res) => handleMigrateBegin(req, res, deps));
  app.all('/v1/migrate-begin', (_req, res) => {
    res.status(405).set('Allow', 'POST').json({ error: 'use POST' });
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  // Four arguments make this express's error handler; never echo a body back.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ error: (err as Error)?.message }, 'unhandled error');
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });
  return app;
}

async function handleMigrateBegin(req: Request, res: Response, deps: AppDeps): Promise<void> {
  const started = process.hrtime.bigint();
  const op = opLabel(header(req, HEADER.op));
  const outcome: RequestOutcome = {
    op: header(req, HEADER.op) ?? 'unknown',
    domain: header(req, HEADER.domain),
    cpuset: header(req, HEADER.cpuset, 4096),
    cpusetSource: header(req, HEADER.cpusetSource),
  };
  let finished = false;
  let refusedBy: string | undefined;
  const finish = (status: number, result: RequestResult, send: () => void, extra: Partial<RequestOutcome> = {}): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.recordRequest(op, status, result, seconds);
    const line = requestLogLine({ ...outcome, ...extra, status, result, durationMs: seconds * 1000 });
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    deps.logger[level](line, 'migrate-begin');
    send();
    // Only after the response: a report must never delay or fail the hook.
    if (deps.onRun) {
      const run: RunRecord = { op: outcome.op, result, seconds, ...(extra.chain ? { chain: extra.chain } : {}), ...(refusedBy ? { refusedBy } : {}) };
      setImmediate(() => deps.onRun?.(run));
    }
  };

  // The chain itself is synchronous and fast; what can hang is a client that stops sending.
  const timer = setTimeout(() => {
    finish(503, 'timeout', () => {
      res.set('Connection', 'close').status(503).json({ error: `request not completed within ${deps.timeoutMs} ms` });
    });
  }, deps.timeoutMs);
  res.once('close', () => clearTimeout(timer));

  try {
    const cpuset = cpusetFrom(req, deps.parseCpuset);
    const body = await readBody(req, deps.maxBodyBytes);
    if (finished) return;
    let xml: string;
    try {
      xml = utf8.decode(body);
    } catch {
      throw new BadRequestError('the body is not valid UTF-8');
    }
    const domainName = domainHeader(req);
    const ctx: HookContext = { cpuset, host: deps.host, ...deps.identity, ...(domainName !== undefined ? { domainName } : {}) };
    const opts: ChainOptions = { maxBytes: deps.maxBodyBytes, ...(deps.hooks ? { hooks: deps.hooks } : {}) };
    const result = deps.runChain(xml, ctx, opts);
    deps.metrics.recordChain(result);
    const report = { chain: result };
    if (result.changed) {
      finish(200, 'changed', () => {
        res
          .status(200)
          .set('X-Premigration-Changes', String(result.changes.length))
          .type('application/xml')
          .send(result.xml);
      }, report);
    } else {
      finish(204, 'unchanged', () => res.status(204).end(), report);
    }
  } catch (err) {
    if (err instanceof BodyAbortedError) {
      finish(400, 'bad-request', () => res.destroy(), { error: err.message });
      return;
    }
    if (err instanceof HookRefusal) refusedBy = err.hook;
    else if (err instanceof AbiViolation) refusedBy = ABI_GUARD_LABEL;
    const c = classify(err, deps);
    const send = (): void => {
      if (c.status === 413) res.set('Connection', 'close');
      res.status(c.status).json({ error: c.message });
    };
    finish(c.status, c.result, send, {
      error: c.message,
      ...(c.status === 500 ? { stack: (err as Error)?.stack } : {}),
    });
  }
}
