/**
 * `premigration-hooks webhook`: settings → gate provider → HTTPS admission server, HTTPS report
 * server and metrics server, until SIGTERM. On SIGTERM it reports unready first (so endpoints
 * drop it) and answers with `Connection: close` meanwhile, then stops accepting, closes idle
 * keep-alive sockets, lets in-flight requests finish, and exits 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VERSION } from '../shared/version.js';
import { createLogger } from '../shared/log.js';
import { createRegistry } from '../shared/metrics.js';
import { createReportApp, createWebhookApp, startMetricsServer, startWebhookServer, type WebhookServer } from './http/app.js';
import { ConcurrencyLimiter } from './http/limiter.js';
import { createWebhookMetrics } from './http/metrics.js';
import { closeTheLoop } from './http/report-setup.js';
import { parseWebhookSettings, usage, wantsHelp, type WebhookSettings } from './config/settings.js';
import { reportUsageError } from '../shared/flags.js';
import { CertReloader, generateSelfSigned } from './http/tls.js';
import { createWatches, type Watches } from './watch/watches.js';
import type { GateProvider, GateState } from './admission/types.js';
import type { ClusterView } from './admission/admit.js';
import type { NamespaceLimits } from './admission/inject.js';
import { nativeSidecarSupport, type ClusterVersions } from './admission/sidecar.js';
import { createSiteHookWatch, type SiteHookWatch } from './watch/site-hooks.js';
import { createNamespaceWatch, type NamespaceWatch } from './watch/namespaces.js';
import { loadKubeConfig } from './watch/informer.js';
import { siteHookValidateRoute } from './http/sitehook-validate-http.js';
import { allowList } from '../core/site-hooks/index.js';

/** --gate-source always|never: a fixed state, synced from the start. */
export function fixedGate(source: 'always' | 'never'): GateProvider {
  const state: GateState =
    source === 'always'
      ? { mode: 'inject', gateEnabled: true, reason: 'forced on by --gate-source=always' }
      : { mode: 'off', gateEnabled: false, reason: 'forced off by --gate-source=never' };
  return { current: () => state, synced: () => true, start: async () => {}, stop: async () => {} };
}

/**
 * A fixed ClusterView (tests and tools/golden-update.js): the versions given, and the namespace
 * limits given for every namespace (undefined: not known).
 */
export function fixedCluster(versions: ClusterVersions, limits?: NamespaceLimits): ClusterView {
  const support = nativeSidecarSupport(versions);
  return { sidecars: () => support, namespaceLimits: () => limits };
}

export async function main(argv: string[]): Promise<number> {
  let settings: WebhookSettings;
  try {
    if (wantsHelp(argv)) {
      process.stdout.write(usage());
      return 0;
    }
    settings = parseWebhookSettings(argv, process.env);
  } catch (err) {
    return reportUsageError('webhook', err);
  }
  const logger = createLogger('webhook', settings.logLevel);
  const registry = createRegistry({ defaults: true });
  let watches: Watches;
  try {
    watches = createWatches(settings, { logger, registry });
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'cannot create the gate provider');
    return 2;
  }
  const gate = watches.gate;
  // SiteHooks (docs/site-hooks.md): watched whenever the API is in use; /validate-sitehook always.
  const siteAllow = allowList(settings.siteHookAllow ?? []);
  let siteWatch: SiteHookWatch | undefined;
  // Namespace labels, for SiteHook namespaceSelectors; like the SiteHook watch, readiness does not wait for it.
  let namespaceWatch: NamespaceWatch | undefined;
  if (settings.gateSource === 'kubevirt') {
    try {
      const kubeConfig = loadKubeConfig(settings.kubeconfig);
      siteWatch = createSiteHookWatch({ kubeConfig, allow: siteAllow, logger, registry });
      namespaceWatch = createNamespaceWatch({ kubeConfig, logger, registry });
    } catch (err) {
      logger.fatal({ err: (err as Error).message }, 'cannot create the SiteHook watch');
      return 2;
    }
  }
  const metrics = createWebhookMetrics(registry, () => gate.current());

  let devDir: string | undefined;
  if (settings.devSelfSigned) {
    devDir = mkdtempSync(join(tmpdir(), 'premigration-hooks-tls-'));
    generateSelfSigned(devDir);
    logger.warn({ dir: devDir }, 'serving a generated self-signed certificate (development only)');
  }
  const certDir = devDir ?? (settings.tlsCertDir as string);
  let stopping = false;
  const isStopping = (): boolean => stopping;
  const limiter = new ConcurrencyLimiter({
    active: settings.admission.maxConcurrent, queue: settings.admission.queue, waitMs: settings.admission.queueWaitMs, bytes: settings.admission.maxInflightBytes,
  });
  // /validate and hook reports; in dev mode the self-signed cert is its own CA.
  const loop = closeTheLoop(settings, { registry, logger, limiter, stopping: isStopping, ...(devDir ? { devCertFile: join(devDir, 'tls.crt') } : {}) });

  // The first certificate may load before the servers exist (it is then passed at creation).
  const serving: WebhookServer[] = [];
  const certs = new CertReloader(certDir, {
    logger,
    pollMs: settings.certPollMs,
    onLoad: (pair) => {
      metrics.certificateExpiry(pair.notAfter);
      for (const s of serving) s.setCertificate(pair);
    },
    onResult: (result) => metrics.tlsReload(result),
  });
  certs.start();

  const app = createWebhookApp({
    state: () => ({
      gate: gate.current(), settings: settings.inject, ...(watches.cluster ? { cluster: watches.cluster } : {}), ...loop.admitState(),
      ...(siteWatch ? { siteHooks: siteWatch.current() } : {}),
      ...(namespaceWatch ? { namespaceLabels: namespaceWatch.labels } : {}),
      ...(settings.siteHookAllow ? { siteHookAllow: settings.siteHookAllow } : {}),
    }),
    routes: [...loop.routes, siteHookValidateRoute({ allow: siteAllow, logger, maxBodyBytes: settings.maxBodyBytes })],
    // Ready once the gate is decided and (with --namespace-limits check) quotas and limit ranges are listed.
    ready: () => !stopping && certs.current() !== undefined && watches.synced(),
    stopping: isStopping,
    metrics,
    logger,
    maxBodyBytes: settings.maxBodyBytes,
    limiter,
  });
  const bounds = settings.connections;
  const current = certs.current();
  const tls = current ? { certificate: current } : {};
  const server = await startWebhookServer({ app, port: settings.port, host: settings.bindAddress, bounds, ...tls });
  const reportServer = await startWebhookServer({
    app: createReportApp({ routes: loop.reportRoutes, stopping: isStopping }), port: settings.reportPort, host: settings.bindAddress, bounds, ...tls,
  });
  serving.push(server, reportServer);
  // A pair loaded between the first read and the listeners' start.
  const latest = certs.current();
  if (latest && latest !== current) for (const s of serving) s.setCertificate(latest);
  const metricsServer = await startMetricsServer(registry, settings.metricsPort, settings.bindAddress, logger, bounds);
  watches.start().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'gate provider failed to start'));
  siteWatch?.start().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'SiteHook watch failed to start'));
  namespaceWatch?.start().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'namespace watch failed to start'));
  logger.info(
    {
      version: VERSION, port: server.port, reportPort: reportServer.port, metricsPort: metricsServer.port, gateSource: settings.gateSource,
      sidecarMode: settings.inject.sidecarMode, injectPolicy: settings.inject.injectPolicy, namespaceLimits: settings.namespaceLimits,
      image: settings.inject.image, maxBodyBytes: settings.maxBodyBytes, admission: settings.admission,
    },
    'webhook listening',
  );

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  stopping = true;
  logger.info({ signal, delayMs: settings.shutdownDelayMs }, 'shutting down: unready, then closing');
  await sleep(settings.shutdownDelayMs);
  // Idle keep-alive sockets close now; in-flight requests finish (bounded by the request deadline).
  const grace = settings.connections.requestTimeoutMs + 1_000;
  await Promise.all([server.close(grace), reportServer.close(grace), metricsServer.close(grace)]);
  certs.stop();
  await watches.stop();
  await siteWatch?.stop();
  await namespaceWatch?.stop();
  if (devDir) rmSync(devDir, { recursive: true, force: true });
  logger.info('stopped');
  return 0;
}
