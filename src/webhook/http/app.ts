/**
 * HTTP shells around the pure core, each in the shape decode → handle → respond:
 *   - the HTTPS admission server (/mutate, /validate, /healthz, /readyz) on --port, which only
 *     the apiserver (and the kubelet's probes) need to reach;
 *   - the HTTPS report server (/report) on --report-port, which target pods reach;
 *   - the plain-HTTP metrics server (/metrics) on --metrics-port.
 * No decision is made here: decoding is body.ts, the decision and its outcome mapping are pure
 * (answer.ts), and this file reads, calls and writes. Every listener gets the same connection
 * bounds (connection.ts): handshake, header, request and keep-alive timeouts and a connection cap.
 */
import express, { type Request, type Response } from 'express';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import type { AdmitState } from '../admission/admit.js';
import { decodeJsonRequest, type Decoded } from './body.js';
import { handleMutate, mutateOverloaded, type HttpAnswer, type LogLine, type OverloadReason } from './answer.js';
import { ConcurrencyLimiter, DEFAULT_LIMITS, requestWeight } from './limiter.js';
import { applyConnectionBounds, DEFAULT_BOUNDS, drain, httpServerOptions, type ConnectionBounds } from './connection.js';
import type { WebhookMetrics } from './metrics.js';
import { MIN_TLS_VERSION, type CertPair } from './tls.js';

export interface WebhookAppOptions {
  /** Read per request, so a mode change applies to the next admission. */
  state(): AdmitState;
  ready(): boolean;
  /** True once SIGTERM arrived: every answer then closes its connection (drain). */
  stopping?: () => boolean;
  metrics: WebhookMetrics;
  logger: Logger;
  maxBodyBytes: number;
  /** Shared by /mutate and /validate: the bound on concurrent admissions (default: the flags' defaults). */
  limiter?: ConcurrencyLimiter;
  /** More admission endpoints (/validate), mounted after /mutate. */
  routes?: Array<(app: express.Express) => void>;
}

/** Write an answer; `close` asks the client to open a new connection next time. */
export function respond(res: Response, answer: HttpAnswer, stopping = false): void {
  if (answer.close || stopping) res.setHeader('Connection', 'close');
  if (answer.status === 204 || answer.body === undefined) res.status(answer.status).end();
  else res.status(answer.status).json(answer.body);
}

export function writeLog(logger: Logger, line: LogLine): void {
  logger[line.level](line.fields, line.msg);
}

/** What a bounded JSON route's pure parts give back: the answer, the log line, the metric labels. */
export interface RouteResult<M> {
  answer: HttpAnswer;
  log: LogLine;
  metric: M;
}

export interface BoundedJsonRouteOptions<M> {
  limiter: ConcurrencyLimiter;
  maxBodyBytes: number;
  stopping: () => boolean;
  logger: Logger;
  /** The answer when the concurrency bound is full (pure). */
  overloaded: (reason: OverloadReason, limits: { active: number; queue: number }) => RouteResult<M>;
  /** The decoded body → the answer (pure). */
  handle: (decoded: Decoded<unknown>) => RouteResult<M>;
  observe: (metric: M, seconds: number) => void;
}

/**
 * The shell of /mutate and /validate: take a slot of the shared concurrency bound (sized by the
 * declared body length), decode, hand the decoded body to the pure handler, then count, log and
 * respond. A full bound answers at once, without reading the body.
 */
export function boundedJsonRoute<M>(o: BoundedJsonRouteOptions<M>): (req: Request, res: Response) => void {
  const finish = (res: Response, r: RouteResult<M>, seconds: number): void => {
    o.observe(r.metric, seconds);
    writeLog(o.logger, r.log);
    if (!res.destroyed) respond(res, r.answer, o.stopping());
  };
  return (req, res) => {
    void (async () => {
      const started = process.hrtime.bigint();
      const slot = await o.limiter.acquire(requestWeight(req.headers['content-length'], o.maxBodyBytes));
      if (!slot.ok) {
        finish(res, o.overloaded(slot.reason, o.limiter.opts), 0);
        return;
      }
      try {
        const decoded = await decodeJsonRequest(req, o.maxBodyBytes);
        finish(res, o.handle(decoded), decoded.ok ? Number(process.hrtime.bigint() - started) / 1e9 : 0);
      } finally {
        slot.release();
      }
    })();
  };
}

/** Unknown paths and methods: 404 as plain text, on every HTTPS listener. */
function notFound(app: express.Express): void {
  app.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('not found\n');
  });
}

function baseApp(stopping: () => boolean): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    if (stopping()) res.setHeader('Connection', 'close');
    next();
  });
  return app;
}

export function createWebhookApp(opts: WebhookAppOptions): express.Express {
  const stopping = opts.stopping ?? (() => false);
  const limiter = opts.limiter ?? new ConcurrencyLimiter({ ...DEFAULT_LIMITS, bytes: opts.maxBodyBytes });
  const app = baseApp(stopping);

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = opts.ready();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'not ready');
  });

  app.post(
    '/mutate',
    boundedJsonRoute({
      limiter,
      maxBodyBytes: opts.maxBodyBytes,
      stopping,
      logger: opts.logger,
      overloaded: mutateOverloaded,
      handle: (decoded) => handleMutate(decoded, opts.state()),
      observe: (metric, seconds) => opts.metrics.observeAdmission(metric, seconds),
    }),
  );

  for (const mount of opts.routes ?? []) mount(app);
  notFound(app);
  return app;
}

export interface ReportAppOptions {
  stopping?: () => boolean;
  routes: Array<(app: express.Express) => void>;
}

/** The report listener's app: POST /report and /healthz, nothing of the admission port. */
export function createReportApp(opts: ReportAppOptions): express.Express {
  const stopping = opts.stopping ?? (() => false);
  const app = baseApp(stopping);
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  for (const mount of opts.routes) mount(app);
  notFound(app);
  return app;
}

export interface WebhookServerOptions {
  app: express.Express;
  port: number;
  host: string;
  /** Initial certificate, if already loaded; otherwise call setCertificate() later. */
  certificate?: CertPair;
  bounds?: ConnectionBounds;
}

export interface WebhookServer {
  server: HttpsServer;
  port: number;
  setCertificate(pair: CertPair): void;
  /** Stop accepting, close idle keep-alive sockets, wait for in-flight ones (at most graceMs). */
  close(graceMs?: number): Promise<void>;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const tlsOptions = (pair?: CertPair) => ({ minVersion: MIN_TLS_VERSION, ...(pair ? { cert: pair.cert, key: pair.key } : {}) });
  const bounds = opts.bounds ?? DEFAULT_BOUNDS;
  const server = createHttpsServer({ ...tlsOptions(opts.certificate), ...httpServerOptions(bounds), handshakeTimeout: bounds.handshakeTimeoutMs }, opts.app);
  applyConnectionBounds(server, bounds, true);
  await listen(server, opts.port, opts.host);
  return {
    server,
    port: (server.address() as AddressInfo).port,
    // New handshakes use the new pair; established connections finish on the old one.
    setCertificate: (pair) => server.setSecureContext(tlsOptions(pair)),
    close: (graceMs = 10_000) => drain(server, graceMs),
  };
}

export interface MetricsServer {
  server: HttpServer;
  port: number;
  close(graceMs?: number): Promise<void>;
}

export async function startMetricsServer(registry: Registry, port: number, host: string, logger: Logger, bounds: ConnectionBounds = DEFAULT_BOUNDS): Promise<MetricsServer> {
  const server = createHttpServer(httpServerOptions(bounds), (req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          logger.error({ err: (err as Error).message }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  applyConnectionBounds(server, bounds, false);
  await listen(server, port, host);
  return { server, port: (server.address() as AddressInfo).port, close: (graceMs = 10_000) => drain(server, graceMs) };
}

/** The dual-stack default: one socket for IPv6 and IPv4-mapped IPv4 (docs/webhook.md). */
export const DUAL_STACK_ADDRESS = '::';
const IPV4_ANY = '0.0.0.0';
/** What listen() on `::` fails with on a kernel without IPv6 (ipv6.disable=1, or no IPv6 module). */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Listen on host:port. On `::` where the kernel has no IPv6, fall back to 0.0.0.0 (IPv4 only)
 * instead of failing: an explicit address is never replaced.
 */
export async function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  try {
    await listenOnce(server, port, host);
  } catch (err) {
    if (host !== DUAL_STACK_ADDRESS || !NO_IPV6.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    await listenOnce(server, port, IPV4_ANY);
  }
}

function listenOnce(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
