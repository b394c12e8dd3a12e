/**
 * HTTP shells around the pure core: the HTTPS admission server (/mutate, /healthz, /readyz)
 * and the plain-HTTP metrics server (/metrics). No decision is made here.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { admit, type AdmitState } from '../admission/admit.js';
import type { WebhookMetrics } from './metrics.js';
import { MIN_TLS_VERSION, type CertPair } from './tls.js';

export interface WebhookAppOptions {
  /** Read per request, so a mode change applies to the next admission. */
  state(): AdmitState;
  ready(): boolean;
  metrics: WebhookMetrics;
  logger: Logger;
  maxBodyBytes: number;
  /** More HTTPS endpoints (/validate, /report), mounted before the error handler. */
  routes?: Array<(app: express.Express) => void>;
}

export function createWebhookApp(opts: WebhookAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = opts.ready();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'not ready');
  });

  app.post('/mutate', express.json({ limit: opts.maxBodyBytes, strict: true }), (req: Request, res: Response) => {
    const started = process.hrtime.bigint();
    if (req.body === undefined) {
      // Not application/json: nothing the apiserver would send. 400 → failurePolicy applies.
      opts.metrics.observeAdmission({ result: 'error', reason: 'not-json', dryRun: false }, 0);
      res.status(400).json({ error: 'expected an application/json AdmissionReview' });
      return;
    }
    const { review, outcome } = admit(req.body, opts.state());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    opts.metrics.observeAdmission(outcome, seconds);
    const fields = { uid: outcome.uid, namespace: outcome.namespace, result: outcome.result, reason: outcome.reason, dryRun: outcome.dryRun };
    if (outcome.result === 'error') opts.logger.error({ ...fields, err: outcome.message }, 'admission fault; allowed without a patch');
    else if (outcome.result === 'injected') opts.logger.info(fields, 'injected hook server into migration target pod');
    else opts.logger.debug(fields, 'admission skipped');
    res.status(200).json(review);
  });

  for (const mount of opts.routes ?? []) mount(app);

  // Body-parser failures (malformed JSON → 400, oversize → 413) and anything unexpected.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    const reason = status === 413 ? 'too-large' : status === 400 ? 'malformed-json' : 'internal';
    opts.metrics.observeAdmission({ result: 'error', reason, dryRun: false }, 0);
    if (status >= 500) opts.logger.error({ err: (err as Error).message }, 'request failed');
    else opts.logger.warn({ status, reason }, 'rejected admission request body');
    res.status(status).json({ error: reason });
  });
  return app;
}

export interface WebhookServerOptions {
  app: express.Express;
  port: number;
  host: string;
  /** Initial certificate, if already loaded; otherwise call setCertificate() later. */
  certificate?: CertPair;
}

export interface WebhookServer {
  server: HttpsServer;
  port: number;
  setCertificate(pair: CertPair): void;
  close(): Promise<void>;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const tlsOptions = (pair?: CertPair) => ({ minVersion: MIN_TLS_VERSION, ...(pair ? { cert: pair.cert, key: pair.key } : {}) });
  const server = createHttpsServer(tlsOptions(opts.certificate), opts.app);
  // The apiserver keeps connections alive across admissions; bound slow or stuck clients.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await listen(server, opts.port, opts.host);
  return {
    server,
    port: (server.address() as AddressInfo).port,
    // New handshakes use the new pair; established connections finish on the old one.
    setCertificate: (pair) => server.setSecureContext(tlsOptions(pair)),
    close: () => close(server),
  };
}

export interface MetricsServer {
  server: HttpServer;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(registry: Registry, port: number, host: string, logger: Logger): Promise<MetricsServer> {
  const server = createHttpServer((req, res) => {
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
  await listen(server, port, host);
  return { server, port: (server.address() as AddressInfo).port, close: () => close(server) };
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

function close(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
