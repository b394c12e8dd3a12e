/**
 * Wiring for hook reports in one place, so main.ts and the tests' harness stay a few lines:
 * the /validate route with its metrics, and hook reports (the key and CA bundle read from
 * files, the minting state for admissions, the /report route with its metrics, its replay
 * bound and the misses its reports reveal).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type express from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import { reportableHooks } from '../../protocol/report-wire.js';
import { createReportMetrics } from './report-metrics.js';
import { reportRoute } from './report-http.js';
import type { ReportMinting } from '../admission/report-env.js';
import type { WebhookSettings } from '../config/settings.js';
import { MIN_KEY_BYTES } from '../admission/token.js';
import { validateRoute } from './validate-http.js';
import { createValidateMetrics } from './validate-metrics.js';
import type { ConcurrencyLimiter } from './limiter.js';
import { ReplayGuard } from './replay.js';
import { missCounter, missFromReport } from '../watch/misses.js';

export interface ClosedLoop {
  /** Merged into each admission's state: present when reports are on. */
  admitState(): { report?: ReportMinting };
  /** Admission-port routes (/validate). */
  routes: Array<(app: express.Express) => void>;
  /** Report-port routes (/report). */
  reportRoutes: Array<(app: express.Express) => void>;
}

type LoopSettings = Pick<WebhookSettings, 'validatePolicy' | 'reportUrl' | 'reportKeyFile' | 'caBundleFile' | 'reportTokenTtlSeconds' | 'tlsCertDir' | 'maxBodyBytes'>
  & { inject?: Pick<WebhookSettings['inject'], 'onError' | 'clientTimeoutMs'> };

/** How often a key or CA file is looked at again (stat; re-read only when it changed). */
export const RELOAD_EVERY_MS = 30_000;

/** A secret's bytes without the trailing newline `echo` or an editor leaves. */
export function readKey(file: string): Buffer {
  const raw = readFileSync(file);
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20)) end--;
  const key = raw.subarray(0, end);
  if (key.length < MIN_KEY_BYTES) throw new Error(`report key in ${file} is ${key.length} bytes; need at least ${MIN_KEY_BYTES}`);
  return key;
}

/**
 * A file's parsed content, re-read at most every `everyMs` and only when its mtime changed.
 * A file that is gone or no longer parses drops the value at the next look: deleting the key
 * Secret stops minting and accepting within one period. Logs each change of state once.
 */
export function cachedFile<T>(file: string, parse: (file: string) => T, logger: Logger, what: string, everyMs = RELOAD_EVERY_MS, clockMs: () => number = Date.now): () => T | undefined {
  let value: T | undefined;
  let mtime = -1;
  let checked = -Infinity;
  let lastError: string | undefined;
  return () => {
    const now = clockMs();
    if (now - checked < everyMs) return value;
    checked = now;
    try {
      const m = statSync(file).mtimeMs;
      if (m !== mtime || value === undefined) {
        value = parse(file);
        mtime = m;
        if (lastError !== undefined) logger.info({ file }, `${what} loaded`);
        lastError = undefined;
      }
    } catch (err) {
      value = undefined;
      mtime = -1;
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const message = (err as Error).message;
      if (message !== lastError) {
        // A missing optional Secret is a choice, not a fault.
        logger[missing ? 'warn' : 'error']({ file, err: message }, `${what} not usable; hook reports off until it is`);
        lastError = message;
      }
    }
    return value;
  };
}

export interface LoopDeps {
  registry: Registry;
  logger: Logger;
  /** Shared with /mutate: the admission concurrency bound. */
  limiter?: ConcurrencyLimiter;
  devCertFile?: string;
  /** Unix seconds. */
  now?: () => number;
  /** Tests shorten the key/CA re-read period. */
  reloadEveryMs?: number;
  stopping?: () => boolean;
  replay?: ReplayGuard;
}

export function closeTheLoop(settings: LoopSettings, deps: LoopDeps): ClosedLoop {
  const now = deps.now ?? (() => Date.now() / 1000);
  const clockMs = () => now() * 1000;
  const hooks = reportableHooks();
  const reportMetrics = createReportMetrics(deps.registry, hooks);
  const misses = missCounter(deps.registry);
  const every = deps.reloadEveryMs ?? RELOAD_EVERY_MS;

  // Re-read (at most every 30 s, when its mtime changed): an admin may create the optional
  // Secret after the install, rotate it or delete it, without restarting the webhook.
  const key = settings.reportKeyFile ? cachedFile(settings.reportKeyFile, readKey, deps.logger, 'report key', every, clockMs) : () => undefined;
  const caFile = settings.caBundleFile ?? deps.devCertFile ?? (settings.tlsCertDir ? join(settings.tlsCertDir, 'ca.crt') : undefined);
  const ca = caFile ? cachedFile(caFile, (f) => readFileSync(f, 'utf8'), deps.logger, 'CA bundle', every, clockMs) : () => undefined;
  const configured = settings.reportUrl !== undefined && settings.reportKeyFile !== undefined && caFile !== undefined;
  if (configured) {
    deps.logger.info(
      { url: settings.reportUrl, caBundleFile: caFile, keyLoaded: key() !== undefined, tokenTtlSeconds: settings.reportTokenTtlSeconds },
      'hook reports configured',
    );
  } else if (settings.reportUrl || settings.reportKeyFile) {
    deps.logger.warn({ url: settings.reportUrl }, 'hook reports disabled: need both --report-url and --report-key-file');
  }

  return {
    admitState() {
      if (!configured) return {};
      const k = key();
      const caBundle = ca();
      // No key or CA (yet): inject nothing rather than a report the webhook or the pod cannot verify.
      if (!k || !caBundle) return {};
      return {
        report: {
          url: settings.reportUrl as string, caBundle, key: k, ttlSeconds: settings.reportTokenTtlSeconds, nowSeconds: now(),
          nonce: randomBytes(12).toString('base64url'),
        },
      };
    },
    routes: [
      validateRoute({
        settings: { policy: settings.validatePolicy }, metrics: createValidateMetrics(deps.registry), logger: deps.logger,
        maxBodyBytes: settings.maxBodyBytes, ...(deps.limiter ? { limiter: deps.limiter } : {}), ...(deps.stopping ? { stopping: deps.stopping } : {}),
      }),
    ],
    reportRoutes: [
      reportRoute({
        key: configured ? key : () => undefined, now, knownHooks: new Set(hooks), metrics: reportMetrics, logger: deps.logger,
        replay: deps.replay ?? new ReplayGuard(),
        ...(deps.stopping ? { stopping: deps.stopping } : {}),
        onAccepted: (report, claims) => {
          const reason = missFromReport(report, settings.inject ?? { onError: 'pass', clientTimeoutMs: 2000 });
          if (!reason) return;
          misses.miss(reason);
          deps.logger.warn({ namespace: claims.ns, vmi: claims.vmi, reason, result: report.result, durationMs: report.durationMs }, 'migration went on without the hooks');
        },
      }),
    ],
  };
}
