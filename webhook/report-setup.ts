/**
 * Wiring for issue 7 in one place, so main.ts and the tests' harness stay a few lines:
 * the /validate route with its metrics, and hook reports (the key and CA bundle read from
 * files, the minting state for admissions, the /report route with its metrics).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type express from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../src/log.js';
import { reportableHooks } from '../src/server/report-wire.js';
import { createReportMetrics } from './report-metrics.js';
import { reportRoute } from './report-http.js';
import type { ReportMinting } from './report-env.js';
import type { WebhookSettings } from './settings.js';
import { MIN_KEY_BYTES } from './token.js';
import { validateRoute } from './validate-http.js';
import { createValidateMetrics } from './validate-metrics.js';

export interface ClosedLoop {
  /** Merged into each admission's state: present when reports are on. */
  admitState(): { report?: ReportMinting };
  routes: Array<(app: express.Express) => void>;
}

type LoopSettings = Pick<WebhookSettings, 'validatePolicy' | 'reportUrl' | 'reportKeyFile' | 'caBundleFile' | 'reportTokenTtlSeconds' | 'tlsCertDir' | 'maxBodyBytes'>;

/** A secret's bytes without the trailing newline `echo` or an editor leaves. */
export function readKey(file: string): Buffer {
  const raw = readFileSync(file);
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20)) end--;
  const key = raw.subarray(0, end);
  if (key.length < MIN_KEY_BYTES) throw new Error(`report key in ${file} is ${key.length} bytes; need at least ${MIN_KEY_BYTES}`);
  return key;
}

/** Re-read a file at most every `everyMs` when its mtime changed (cert-manager may rotate the CA). */
function cachedText(file: string, everyMs = 30_000): () => string | undefined {
  let text: string | undefined;
  let mtime = -1;
  let checked = 0;
  return () => {
    const now = Date.now();
    if (now - checked < everyMs && text !== undefined) return text;
    checked = now;
    try {
      const m = statSync(file).mtimeMs;
      if (m !== mtime || text === undefined) {
        text = readFileSync(file, 'utf8');
        mtime = m;
      }
    } catch {
      // Keep the last good bundle; undefined until one was read.
    }
    return text;
  };
}

export function closeTheLoop(settings: LoopSettings, deps: { registry: Registry; logger: Logger; devCertFile?: string; now?: () => number }): ClosedLoop {
  const now = deps.now ?? (() => Date.now() / 1000);
  const hooks = reportableHooks();
  const reportMetrics = createReportMetrics(deps.registry, hooks);

  let key: Buffer | undefined;
  if (settings.reportKeyFile) {
    try {
      key = readKey(settings.reportKeyFile);
    } catch (err) {
      // Not fatal: admission must work without reports (the Secret is optional in the manifests).
      deps.logger.error({ err: (err as Error).message }, 'hook reports disabled: cannot use the report key');
    }
  }
  const caFile = settings.caBundleFile ?? deps.devCertFile ?? (settings.tlsCertDir ? join(settings.tlsCertDir, 'ca.crt') : undefined);
  const ca = caFile ? cachedText(caFile) : () => undefined;
  const enabled = key !== undefined && settings.reportUrl !== undefined && caFile !== undefined;
  if (enabled) deps.logger.info({ url: settings.reportUrl, caBundleFile: caFile, tokenTtlSeconds: settings.reportTokenTtlSeconds }, 'hook reports enabled');
  else if (settings.reportUrl || settings.reportKeyFile) deps.logger.warn({ url: settings.reportUrl, keyLoaded: key !== undefined }, 'hook reports disabled: need --report-url and a usable --report-key-file');

  return {
    admitState() {
      if (!enabled) return {};
      const caBundle = ca();
      // No CA yet (file not there): inject nothing rather than a report the pod cannot verify.
      if (!caBundle) return {};
      return { report: { url: settings.reportUrl as string, caBundle, key: key as Buffer, ttlSeconds: settings.reportTokenTtlSeconds, nowSeconds: now() } };
    },
    routes: [
      validateRoute({ settings: { policy: settings.validatePolicy }, metrics: createValidateMetrics(deps.registry), logger: deps.logger, maxBodyBytes: settings.maxBodyBytes }),
      reportRoute({ key: enabled ? key : undefined, now, knownHooks: new Set(hooks), metrics: reportMetrics, logger: deps.logger }),
    ],
  };
}
