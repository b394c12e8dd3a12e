/**
 * `premigration-hooks serve`: the in-pod hook server. Start-up order is the readiness contract:
 * claim the socket path → install the client → write client.conf → read and cache the topology
 * → listen. A socket that answers at all therefore answers ready. Nothing slow comes before the
 * listen: no warm-up (a cold first call is a few ms, well within the client's 2 s deadline), and
 * neither pino nor prom-client nor node:https is imported on the way (bench/RESULTS.md, Footprint).
 * Resolves (with 0) once SIGTERM/SIGINT has drained in-flight requests and removed the socket.
 * With --install-only it stops after client.conf and resolves 0 without listening: the init
 * container of the classic sidecar mode, which must leave the client in qemu.d/ before compute starts.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../shared/version.js';
import { InputError } from '../core/errors.js';
import type { ChainOptions } from '../core/chain.js';
import { REGISTRY, type HookRegistry } from '../core/hooks/registry.js';
import { siteHookEntries } from '../core/site-hooks/index.js';
import type { Change } from '../core/hooks/types.js';
import { parseCpuList } from '../core/topology/index.js';
import { readHostTopology } from '../node/index.js';
import { createApp, type ChainRunner } from './app.js';
import { installClient, writeClientConf } from './install.js';
import { ServerMetrics } from './metrics.js';
import { reporterFor } from './report-setup.js';
import { identityFacts, parseServerSettings, usage, wantsHelp, type ServerSettings } from './settings.js';
import { reportUsageError } from '../shared/flags.js';
import { claimSocketPath, listenOnSocket, releaseSocketPath } from './socket.js';
import { trackConnections } from './drain.js';
import { createServerLogger, type ServerLogger } from './log.js';

/** Where the hook client sits relative to the package root (the repo, or /app in the image: see Dockerfile). */
export const CLIENT_BINARY_IN_PACKAGE = 'hookclient/target/release/premigration-hooks-client';

/** The package root (where package.json is), found from this module whether it runs from src/ or dist/src/. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

function msSince(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e4) / 100;
}

/** Resolves with the signal name on the first SIGTERM or SIGINT. */
function nextStopSignal(): { promise: Promise<NodeJS.Signals>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const on = (sig: NodeJS.Signals): void => resolve(sig);
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
    dispose = () => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    };
  });
  return { promise, dispose };
}

export async function main(argv: string[]): Promise<number> {
  let settings: ServerSettings;
  try {
    if (wantsHelp(argv)) {
      process.stdout.write(usage());
      return 0;
    }
    settings = parseServerSettings(argv, process.env, { clientBinary: path.join(packageRoot(), CLIENT_BINARY_IN_PACKAGE) });
  } catch (err) {
    return reportUsageError('serve', err);
  }
  const log = createServerLogger('hook-server', settings.logLevel);
  // Registered before the (short) start-up, so a SIGTERM during it still stops us cleanly.
  const stop = nextStopSignal();
  try {
    return await serve(settings, log, stop.promise);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.fatal({ error: message }, settings.installOnly ? 'hook client install failed' : 'hook server failed to start');
    return err instanceof InputError ? 2 : 1;
  } finally {
    stop.dispose();
  }
}

/**
 * The registry of this pod: the built-ins, then the delivered site hooks as `site:<name>`
 * (docs/site-hooks.md), which count in metrics and logs like any hook. A site hook skipped
 * under onError: pass is logged as a warning.
 */
function registryFor(settings: ServerSettings, log: ServerLogger): HookRegistry {
  if (!settings.siteHooks || !settings.siteHookAllow) return REGISTRY;
  const onApplied = (hook: string, changes: readonly Change[]): void =>
    // The audit line of a site hook's application: which hook changed what (paths, and values of the allow-listed parts).
    log.info({ hook, changes: changes.map((c) => `${c.path}: ${c.before ?? '(none)'}→${c.after ?? '(removed)'}`) }, 'site hook applied');
  const entries = siteHookEntries(settings.siteHooks, { facts: settings.siteHookFacts ?? {}, allow: settings.siteHookAllow, onApplied }, (skip) =>
    log.warn({ hook: skip.hook, reason: skip.reason }, 'site hook refused; skipped (onError: pass)'),
  );
  return REGISTRY.with(entries);
}

/**
 * The hooks --hooks names (built-ins and `site:<name>`), in registry order; without --hooks the
 * default built-ins and every delivered site hook.
 */
function hookList(settings: ServerSettings, registry: HookRegistry): string[] {
  return registry.resolve(settings.hooks).map((e) => e.name);
}

/**
 * The start-up steps up to the files compute reads (client binary and client.conf), shared by
 * a normal start and --install-only, so both leave exactly the same files. Returns the hooks.
 */
async function installArtifacts(settings: ServerSettings, log: ServerLogger): Promise<string[]> {
  // First, so that a second server never overwrites the running one's client or config.
  if (await claimSocketPath(settings.socket)) log.info({ socket: settings.socket }, 'removed a stale socket');

  // An unknown --hooks name fails here, before anything is written.
  const hooks = hookList(settings, registryFor(settings, log)).filter((h) => REGISTRY.find(h) !== undefined);

  if (settings.installClient) {
    const installed = await installClient(settings.clientBinary, settings.installClient);
    log.info({ path: installed }, 'hook client installed');
  }
  await writeClientConf(settings.clientConf, {
    socket: settings.clientSocket,
    timeoutMs: settings.timeoutMs,
    onError: settings.onError,
  });
  return hooks;
}

async function serve(settings: ServerSettings, log: ServerLogger, stopSignal: Promise<NodeJS.Signals>): Promise<number> {
  const started = process.hrtime.bigint();
  const hooks = await installArtifacts(settings, log);
  if (settings.installOnly) {
    log.info({ clientConf: settings.clientConf, hooks, durationMs: msSince(started) }, 'install-only: client and client.conf in place; exiting');
    return 0;
  }

  const host = readHostTopology(settings.sysfs);
  if (host.online.length === 0) throw new Error(`no online CPUs found under ${settings.sysfs}/devices/system/cpu`);

  const registry = registryFor(settings, log);
  const allHooks = hookList(settings, registry);
  const metrics = new ServerMetrics({ defaults: true });
  metrics.initHooks(registry.names());
  // The chain (parser, hooks' edits, ABI guard) is imported after the listen: a second after
  // ready, or by the first migrate-begin if that comes sooner. The start-up probe never waits for it.
  let chain: ChainRunner | undefined;
  let chainImport: Promise<void> | undefined;
  const chainLoaded = (): Promise<void> =>
    (chainImport ??= import('../core/chain.js').then((m) => {
      chain = m.runChain;
    }));
  let ready = false;
  let released: () => void = () => {};
  const release = new Promise<'release-end'>((resolve) => {
    released = () => resolve('release-end');
  });
  const app = createApp({
    // The site entries reach the chain through the registry (the app builds its own chain options).
    runChain: (xml, ctx, opts: ChainOptions) => (chain as ChainRunner)(xml, ctx, registry === REGISTRY ? opts : { ...opts, registry }),
    chainLoaded,
    host,
    parseCpuset: parseCpuList,
    hooks: allHooks,
    identity: identityFacts(settings),
    logger: log,
    metrics,
    maxBodyBytes: settings.maxBodyBytes,
    timeoutMs: settings.timeoutMs,
    ready: () => ready,
    ...reporterFor(settings, log),
    ...(settings.exitOnRelease ? { onRelease: () => released() } : {}),
  });
  const server = http.createServer(
    {
      // Backstops for what the app's own timer cannot see (a client stuck before its headers end),
      // checked often enough that a configured value takes effect.
      headersTimeout: settings.headersTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs) / 4))),
    },
    app,
  );
  const drainer = trackConnections(server);
  const listening = await listenOnSocket(server, settings.socket);
  ready = true;
  log.info(
    {
      version: VERSION,
      socket: settings.socket,
      clientConf: settings.clientConf,
      hooks: allHooks,
      cpus: host.online.length,
      cells: host.cells.length,
      onError: settings.onError,
      timeoutMs: settings.timeoutMs,
      exitOnRelease: settings.exitOnRelease === true,
      startupMs: msSince(started),
    },
    'hook server ready',
  );
  server.on('error', (err) => log.error({ error: err.message }, 'server error'));
  setTimeout(() => void chainLoaded().catch((err: unknown) => log.error({ error: (err as Error).message }, 'chain import failed')), 1000).unref();

  // A signal, or (with --exit-on-release) libvirt saying the domain left: the same drain either way.
  const signal = await Promise.race([stopSignal, release]);
  ready = false;
  // Stop listening first, then say so: whoever reads this line can rely on new connections failing.
  const drained = drainer.drain(settings.drainTimeoutMs);
  log.info({ signal }, 'stopping: draining in-flight requests');
  const { cut } = await drained;
  if (cut > 0) log.warn({ signal, cut, drainTimeoutMs: settings.drainTimeoutMs }, 'connections cut at the drain timeout');
  await releaseSocketPath(settings.socket, listening);
  log.info({ signal }, 'hook server stopped');
  return 0;
}
