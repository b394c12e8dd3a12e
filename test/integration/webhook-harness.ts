/**
 * Test harness: the real webhook stack (express app, HTTPS server, CertReloader, metrics server)
 * wired as main.ts wires it, on loopback ephemeral ports, with a certificate directory laid out
 * the way the kubelet lays out a Secret volume (timestamped dir + `..data` symlink).
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../src/shared/log.js';
import { createRegistry } from '../../src/shared/metrics.js';
import type { Registry } from 'prom-client';
import { createWebhookApp, startMetricsServer, startWebhookServer, type MetricsServer, type WebhookServer } from '../../src/webhook/http/app.js';
import { fixedGate } from '../../src/webhook/main.js';
import { createWebhookMetrics } from '../../src/webhook/http/metrics.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import type { InjectSettings } from '../../src/webhook/admission/types.js';
import { CertReloader, generateSelfSigned } from '../../src/webhook/http/tls.js';
import type { GateProvider } from '../../src/webhook/admission/types.js';
import type { ClusterView } from '../../src/webhook/admission/admit.js';

export const TEST_IMAGE = 'registry.example.com/premigration-hooks:v0.1.0';

/** The golden cases' webhook flags (shared with tools/golden-update.js). */
const GOLDEN_FLAGS = (JSON.parse(readFileSync(join(process.cwd(), 'test/golden/webhook/settings.json'), 'utf8')) as { flags: string[] }).flags;

export function testInjectSettings(extra: string[] = []): InjectSettings {
  return parseWebhookSettings([...GOLDEN_FLAGS, ...extra]).inject;
}

/** A Secret-volume-like directory: tls.crt/tls.key → ..data/… → ..<timestamp>/… */
export class KubeletSecretDir {
  readonly dir: string;
  private generation = 0;
  private currentTarget: string | undefined;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'webhook-tls-'));
  }

  /** Generate a fresh self-signed pair and atomically publish it, as the kubelet's atomic writer does. */
  publishNew(): { cert: Buffer } {
    const staged = this.stage();
    staged.publish();
    return { cert: staged.cert };
  }

  /** Write a new pair into a new timestamped directory; publish() swaps `..data` to it. */
  stage(): { cert: Buffer; publish(): void } {
    const target = `..2026_11_22_00_00_00.${++this.generation}`;
    const staging = join(this.dir, target);
    mkdirSync(staging);
    generateSelfSigned(staging, { commonName: `webhook-test-${this.generation}` });
    const first = this.generation === 1;
    return {
      cert: readFileSync(join(staging, 'tls.crt')),
      publish: () => {
        symlinkSync(target, join(this.dir, '..data_tmp'));
        renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data')); // the atomic swap
        if (first) {
          symlinkSync('..data/tls.crt', join(this.dir, 'tls.crt'));
          symlinkSync('..data/tls.key', join(this.dir, 'tls.key'));
        }
        if (this.currentTarget) rmSync(join(this.dir, this.currentTarget), { recursive: true, force: true });
        this.currentTarget = target;
      },
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TestWebhook {
  url: string;
  metricsUrl: string;
  registry: Registry;
  secret: KubeletSecretDir;
  /** CA bundle trusting every certificate published so far. */
  ca: Buffer[];
  certs: CertReloader;
  server: WebhookServer;
  close(): Promise<void>;
}

export async function startTestWebhook(opts: { gate?: GateProvider; inject?: InjectSettings; cluster?: ClusterView; maxBodyBytes?: number; pollMs?: number; logger?: Logger } = {}): Promise<TestWebhook> {
  const logger = opts.logger ?? createLogger('webhook-test', 'silent');
  const registry = createRegistry();
  const gate = opts.gate ?? fixedGate('always');
  const metrics = createWebhookMetrics(registry, () => gate.current());
  const secret = new KubeletSecretDir();
  const ca = [secret.publishNew().cert];
  const inject = opts.inject ?? testInjectSettings();
  const serving: { server?: WebhookServer } = {};
  const certs = new CertReloader(secret.dir, {
    logger,
    pollMs: opts.pollMs ?? 200,
    debounceMs: 20,
    onLoad: (pair) => {
      metrics.certificateExpiry(pair.notAfter);
      serving.server?.setCertificate(pair);
    },
    onResult: (r) => metrics.tlsReload(r),
  });
  certs.start();
  const app = createWebhookApp({
    state: () => ({ gate: gate.current(), settings: inject, ...(opts.cluster ? { cluster: opts.cluster } : {}) }),
    ready: () => certs.current() !== undefined && gate.synced(),
    metrics,
    logger,
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
  });
  const first = certs.current();
  const server = await startWebhookServer({ app, port: 0, host: '127.0.0.1', ...(first ? { certificate: first } : {}) });
  serving.server = server;
  const metricsServer: MetricsServer = await startMetricsServer(registry, 0, '127.0.0.1', logger);
  return {
    url: `https://127.0.0.1:${server.port}`,
    metricsUrl: `http://127.0.0.1:${metricsServer.port}`,
    registry,
    secret,
    ca,
    certs,
    server,
    async close() {
      certs.stop();
      server.server.closeAllConnections();
      await server.close();
      await metricsServer.close();
      secret.remove();
    },
  };
}

/** Decode an AdmissionReview response's patch (or undefined). */
export function decodePatch(body: { response?: { patch?: string } }): unknown[] | undefined {
  const p = body.response?.patch;
  return p === undefined ? undefined : (JSON.parse(Buffer.from(p, 'base64').toString('utf8')) as unknown[]);
}
