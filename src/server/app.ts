/**
 * The hook server's HTTP surface, a plain `node:http` request listener with its dependencies
 * passed in (docs/hook-server.md, Protocol):
 *   POST /v1/migrate-begin  domain XML in → 200 new XML | 204 unchanged | 400/413/422/500/503 {error}
 *   POST /v1/release-end    204 always: libvirt's `release end`, the domain left this pod
 *   GET  /healthz           200 once ready
 *   GET  /metrics           Prometheus text
 * A migrate-begin goes through four steps (migrate-begin.ts, imported with the first one): decode
 * (headers + body → typed request, or a 4xx) → runChain (pure) → outcomeOf (pure: status, log
 * fields, metric labels) → respond. No files or sysfs here (main.ts).
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { jsonAnswer, respond } from './respond.js';
import type { ServerLogger } from './log.js';
import type { ChainOptions, ChainResult } from '../core/chain.js';
import type { HookContext } from '../core/hooks/types.js';
import type { HostTopology } from '../core/topology/index.js';
import { header, HEADER } from './decode.js';
import type { ServerMetrics } from './metrics.js';
import type { RunRecord } from './report.js';

export { HEADER };

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
  logger: ServerLogger;
  metrics: ServerMetrics;
  maxBodyBytes: number;
  /** Per-request timeout; past it the request is answered 503. */
  timeoutMs: number;
  /** False until start-up finished and again while stopping. */
  ready: () => boolean;
  /** Called after each migrate-begin response went out (hook reports). */
  onRun?: (run: RunRecord) => void;
  /**
   * Awaited before the first chain run: the chain's modules (parser, ABI guard) are imported after
   * the socket opens, not before (main.ts). Absent: runChain is ready as given.
   */
  chainLoaded?: () => Promise<void>;
  /** Called after a release-end answer went out (--exit-on-release stops the server). */
  onRelease?: () => void;
}

/** The path without query string and one trailing slash, lower-cased (routes match loosely, as they always did). */
function routeOf(url: string | undefined): string {
  let p = url ?? '/';
  const q = p.indexOf('?');
  if (q !== -1) p = p.slice(0, q);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p.toLowerCase();
}

export function createApp(deps: AppDeps): RequestListener {
  let migrateBegin: Promise<typeof import('./migrate-begin.js')> | undefined;
  return (req, res) => {
    const route = routeOf(req.url);
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';
    if (route === '/v1/migrate-begin') {
      if (method === 'POST') {
        migrateBegin ??= import('./migrate-begin.js');
        migrateBegin.then(
          (m) => m.handleMigrateBegin(req, res, deps),
          (err: unknown) => {
            deps.logger.error({ error: (err as Error)?.message }, 'unhandled error');
            respond(res, jsonAnswer(500, { error: 'internal error' }));
          },
        );
      }
      else respond(res, jsonAnswer(405, { error: 'use POST' }, { Allow: 'POST' }));
      return;
    }
    if (route === '/v1/release-end') {
      if (method === 'POST') handleReleaseEnd(req, res, deps);
      else respond(res, jsonAnswer(405, { error: 'use POST' }, { Allow: 'POST' }));
      return;
    }
    if (route === '/healthz' && isGet) {
      respond(res, deps.ready() ? jsonAnswer(200, { status: 'ok' }) : jsonAnswer(503, { status: 'starting or stopping' }));
      return;
    }
    if (route === '/metrics' && isGet) {
      deps.metrics.render().then(
        (m) => respond(res, { status: 200, headers: { 'Content-Type': m.contentType }, body: m.text }),
        (err: unknown) => {
          deps.logger.error({ error: (err as Error)?.message }, 'unhandled error');
          respond(res, jsonAnswer(500, { error: 'internal error' }));
        },
      );
      return;
    }
    respond(res, jsonAnswer(404, { error: 'not found' }));
  };
}

/**
 * libvirt's `<domain> release end -`: the domain left this pod (migrated away, shut down, or an
 * incoming migration failed on this target, when the pod is going away anyway). Always 204, with
 * no body read beyond what arrives: the client sends none, and nothing here can fail the VM.
 */
function handleReleaseEnd(req: IncomingMessage, res: ServerResponse, deps: AppDeps): void {
  req.resume();
  deps.metrics.recordRelease();
  deps.logger.info({ domain: header(req.headers, HEADER.domain) ?? null, exitOnRelease: deps.onRelease !== undefined }, 'release-end');
  res.once('finish', () => deps.onRelease?.());
  respond(res, { status: 204, headers: {} });
}
