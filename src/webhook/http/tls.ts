/**
 * Serving certificate from a mounted Secret directory, reloaded without a restart.
 *
 * The kubelet updates a Secret volume atomically: it writes a new timestamped directory and
 * renames the `..data` symlink to point at it; tls.crt and tls.key are symlinks through
 * `..data`. We therefore read both files through the resolved `..data` target (one consistent
 * snapshot), watch the directory with fs.watch (debounced) and also re-check it periodically,
 * because inotify events can be missed (and never arrive on some volume types). A new pair is
 * validated (parsable certificate, key matches) before it replaces the current one; a bad pair
 * is counted and the old one keeps serving.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../../shared/log.js';

export const MIN_TLS_VERSION = 'TLSv1.2' as const;

export interface CertPair {
  cert: Buffer;
  key: Buffer;
  /** sha256 over cert and key bytes: did anything change? */
  digest: string;
  serialNumber: string;
  fingerprint256: string;
  /** notAfter as Unix seconds. */
  notAfter: number;
}

function digestOf(cert: Buffer, key: Buffer): string {
  return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
}

/** Read tls.crt/tls.key (through `..data` when present). Throws on missing files. */
export function readCertFiles(dir: string): { cert: Buffer; key: Buffer; digest: string } {
  const dataLink = join(dir, '..data');
  const base = existsSync(dataLink) ? realpathSync(dataLink) : dir;
  const cert = readFileSync(join(base, 'tls.crt'));
  const key = readFileSync(join(base, 'tls.key'));
  return { cert, key, digest: digestOf(cert, key) };
}

/** Parse and check a pair: throws when the certificate is unreadable or the key does not match it. */
export function validateCertPair(cert: Buffer, key: Buffer, digest = digestOf(cert, key)): CertPair {
  const x509 = new X509Certificate(cert);
  createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION }); // throws on a key mismatch
  const notAfter = Math.floor(new Date(x509.validTo).getTime() / 1000);
  return { cert, key, digest, serialNumber: x509.serialNumber, fingerprint256: x509.fingerprint256, notAfter };
}

export interface CertReloaderOptions {
  logger: Logger;
  /** Called with every newly loaded, validated pair (first load included). */
  onLoad(pair: CertPair): void;
  onResult?(result: 'success' | 'error'): void;
  pollMs?: number;
  debounceMs?: number;
}

export class CertReloader {
  private pair: CertPair | undefined;
  private lastAttempt: string | undefined;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;

  constructor(private readonly dir: string, private readonly opts: CertReloaderOptions) {}

  current(): CertPair | undefined {
    return this.pair;
  }

  /** Load now if the files changed since the last attempt. Never throws. Returns true when a new pair was loaded. */
  check(): boolean {
    let files: { cert: Buffer; key: Buffer; digest: string };
    try {
      files = readCertFiles(this.dir);
    } catch (err) {
      if (this.lastAttempt !== 'missing') {
        this.lastAttempt = 'missing';
        this.opts.logger.warn({ dir: this.dir, err: (err as Error).message }, 'serving certificate not readable');
        this.opts.onResult?.('error');
      }
      return false;
    }
    if (files.digest === this.pair?.digest || files.digest === this.lastAttempt) return false;
    this.lastAttempt = files.digest;
    try {
      const pair = validateCertPair(files.cert, files.key, files.digest);
      this.opts.onLoad(pair);
      const first = this.pair === undefined;
      this.pair = pair;
      this.opts.onResult?.('success');
      this.opts.logger.info(
        { serial: pair.serialNumber, notAfter: new Date(pair.notAfter * 1000).toISOString() },
        first ? 'serving certificate loaded' : 'serving certificate reloaded',
      );
      return true;
    } catch (err) {
      // Often a read racing a half-done update; the next event or poll retries with new bytes.
      this.opts.onResult?.('error');
      this.opts.logger.warn({ dir: this.dir, err: (err as Error).message }, 'serving certificate rejected; keeping the previous one');
      return false;
    }
  }

  start(): void {
    this.check();
    const debounceMs = this.opts.debounceMs ?? 100;
    try {
      this.watcher = watch(this.dir, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.check(), debounceMs);
      });
      this.watcher.on('error', (err) => {
        this.opts.logger.warn({ err: err.message }, 'cert directory watch failed; relying on periodic checks');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'cannot watch cert directory; relying on periodic checks');
    }
    this.poll = setInterval(() => this.check(), this.opts.pollMs ?? 10_000);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }
}

export interface SelfSignedOptions {
  commonName?: string;
  /** subjectAltName entries, e.g. ["DNS:localhost", "IP:127.0.0.1"]. */
  altNames?: string[];
  days?: number;
}

/**
 * Write a self-signed EC P-256 tls.crt/tls.key into `dir` with the system `openssl` (development
 * mode and tests only; production certificates come from cert-manager). No npm dependency needed.
 */
export function generateSelfSigned(dir: string, opts: SelfSignedOptions = {}): void {
  const altNames = opts.altNames ?? ['DNS:localhost', 'IP:127.0.0.1'];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'),
    '-days', String(opts.days ?? 30),
    '-subj', `/CN=${opts.commonName ?? 'premigration-hooks-dev'}`,
    '-addext', `subjectAltName=${altNames.join(',')}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
}
