/**
 * Serving certificate from a mounted Secret directory, reloaded without a restart.
 *
 * The kubelet updates a Secret volume atomically: it writes a new timestamped directory and
 * renames the `..data` symlink to point at it; tls.crt and tls.key are symlinks through
 * `..data`. We therefore read both files through the resolved `..data` target (one consistent
 * snapshot), watch the directory with fs.watch (debounced) and also re-check it periodically,
 * because inotify events can be missed (and never arrive on some volume types). A new pair is
 * validated (parsable certificate, key matches) and checked against policy (valid now: not
 * expired, not yet valid is refused; key at least RSA 2048 or EC 256 bits) before it replaces
 * the current one; a bad or refused pair is counted and logged, and the old one keeps serving.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../../shared/log.js';

export const MIN_TLS_VERSION = 'TLSv1.2' as const;
/** The weakest serving keys we load (docs/webhook.md, "TLS"). */
export const MIN_RSA_BITS = 2048;
export const MIN_EC_BITS = 256;
const EC_CURVE_BITS: Record<string, number> = {
  prime256v1: 256, 'P-256': 256, secp256k1: 256, secp384r1: 384, 'P-384': 384, secp521r1: 521, 'P-521': 521,
  secp224r1: 224, 'P-224': 224, prime192v1: 192, secp192k1: 192,
};

/**
 * A pair that parses and matches but that we will not serve; the message says why. `later`:
 * not yet valid, so the same bytes may pass a later check (an issuer's clock a little ahead).
 */
export class CertRefused extends Error {
  constructor(message: string, readonly later = false) {
    super(message);
  }
}

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

/**
 * Why a parsed certificate must not be served at `nowMs`, or undefined: outside its validity
 * period, or a public key below MIN_RSA_BITS / MIN_EC_BITS (DSA and unknown curves too).
 */
export function certPolicyViolation(x509: X509Certificate, nowMs: number): string | undefined {
  const from = new Date(x509.validFrom).getTime();
  const to = new Date(x509.validTo).getTime();
  if (!(nowMs >= from)) return `not valid before ${new Date(from).toISOString()}`;
  if (!(nowMs < to)) return `expired at ${new Date(to).toISOString()}`;
  const pub = x509.publicKey;
  const type = pub.asymmetricKeyType;
  const details = pub.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) return `RSA key of ${bits} bits; need at least ${MIN_RSA_BITS}`;
    return undefined;
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown';
    const bits = EC_CURVE_BITS[curve] ?? 0;
    if (bits < MIN_EC_BITS) return `EC key on ${curve}; need a curve of at least ${MIN_EC_BITS} bits`;
    return undefined;
  }
  if (type === 'ed25519' || type === 'ed448') return undefined;
  return `${type ?? 'unknown'} keys are not accepted; use RSA ≥ ${MIN_RSA_BITS} or EC ≥ ${MIN_EC_BITS} bits`;
}

/**
 * Parse and check a pair: throws when the certificate is unreadable or the key does not match
 * it, and CertRefused when it parses but fails the policy (certPolicyViolation).
 */
export function validateCertPair(cert: Buffer, key: Buffer, digest = digestOf(cert, key), nowMs = Date.now()): CertPair {
  const x509 = new X509Certificate(cert);
  createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION }); // throws on a key mismatch
  const refused = certPolicyViolation(x509, nowMs);
  if (refused) throw new CertRefused(refused, nowMs < new Date(x509.validFrom).getTime());
  const notAfter = Math.floor(new Date(x509.validTo).getTime() / 1000);
  return { cert, key, digest, serialNumber: x509.serialNumber, fingerprint256: x509.fingerprint256, notAfter };
}

export interface CertReloaderOptions {
  logger: Logger;
  /** Called with every newly loaded, validated pair (first load included). */
  onLoad(pair: CertPair): void;
  onResult?(result: ReloadResult): void;
  pollMs?: number;
  debounceMs?: number;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

/** success: loaded; error: unreadable or key mismatch; refused: parses but fails the policy. */
export type ReloadResult = 'success' | 'error' | 'refused';

export class CertReloader {
  private pair: CertPair | undefined;
  private lastAttempt: string | undefined;
  private lastRefused: string | undefined;
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
      const pair = validateCertPair(files.cert, files.key, files.digest, (this.opts.now ?? Date.now)());
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
      if (err instanceof CertRefused) {
        // Not yet valid: look again at the next poll. Counted and logged once per pair either way.
        if (err.later) this.lastAttempt = undefined;
        if (this.lastRefused === files.digest) return false;
        this.lastRefused = files.digest;
        this.opts.onResult?.('refused');
        this.opts.logger.error(
          { dir: this.dir, reason: err.message, serving: this.pair?.serialNumber ?? null },
          this.pair ? 'serving certificate refused; keeping the previous one' : 'serving certificate refused; not serving until a valid one appears',
        );
        return false;
      }
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
  /** subjectAltName entries (default DNS:localhost, IP:127.0.0.1, IP:::1). */
  altNames?: string[];
  days?: number;
}

/**
 * Write a self-signed EC P-256 tls.crt/tls.key into `dir` (development mode and tests only;
 * production certificates come from cert-manager). Built with node:crypto alone: the image has
 * no `openssl` binary (nor a shell), and no npm dependency is needed for one DER structure.
 */
export function generateSelfSigned(dir: string, opts: SelfSignedOptions = {}): void {
  const altNames = opts.altNames ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const name = der.seq(der.set(der.seq(der.oid('2.5.4.3'), der.utf8(opts.commonName ?? 'premigration-hooks-dev'))));
  const ecdsaWithSha256 = der.seq(der.oid('1.2.840.10045.4.3.2'));
  const tbs = der.seq(
    der.explicit(0, der.int(Buffer.from([2]))), // v3
    der.int(randomBytes(16)),
    ecdsaWithSha256,
    name,
    der.seq(der.time(new Date(now - 60_000)), der.time(new Date(now + (opts.days ?? 30) * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.seq(der.seq(der.oid('2.5.29.17'), der.octets(der.seq(...altNames.map(generalName)))))),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const cert = der.seq(tbs, ecdsaWithSha256, der.bits(signature));
  const pem = (label: string, body: Buffer): string => `-----BEGIN ${label}-----\n${body.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
  writeFileSync(join(dir, 'tls.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'tls.crt'), pem('CERTIFICATE', cert));
}

/** One subjectAltName entry, `DNS:<name>` or `IP:<v4 or v6 address>`, as a GeneralName. */
function generalName(entry: string): Buffer {
  const [kind, value = ''] = [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)];
  if (kind === 'DNS') return der.tlv(0x82, Buffer.from(value, 'ascii'));
  if (kind === 'IP' && isIP(value) === 4) return der.tlv(0x87, Buffer.from(value.split('.').map(Number)));
  if (kind === 'IP' && isIP(value) === 6) {
    const [head = '', tail = ''] = value.split('::');
    const groups = (g: string): number[] => (g === '' ? [] : g.split(':').map((x) => parseInt(x, 16)));
    const h = groups(head);
    const t = value.includes('::') ? groups(tail) : [];
    const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
    return der.tlv(0x87, Buffer.from(all.flatMap((n) => [n >> 8, n & 0xff])));
  }
  throw new Error(`subjectAltName entry must be DNS:<name> or IP:<address>, got ${entry}`);
}

/** The few DER encodings an X.509 certificate needs. */
const der = {
  tlv(tag: number, body: Buffer): Buffer {
    const n = body.length;
    const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  },
  seq: (...items: Buffer[]): Buffer => der.tlv(0x30, Buffer.concat(items)),
  set: (...items: Buffer[]): Buffer => der.tlv(0x31, Buffer.concat(items)),
  explicit: (n: number, inner: Buffer): Buffer => der.tlv(0xa0 + n, inner),
  /** A non-negative INTEGER from big-endian bytes. */
  int(bytes: Buffer): Buffer {
    let b = bytes;
    while (b.length > 1 && b[0] === 0 && ((b[1] ?? 0) & 0x80) === 0) b = b.subarray(1);
    return der.tlv(0x02, ((b[0] ?? 0) & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b);
  },
  oid(dotted: string): Buffer {
    const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
    const out = [40 * a + b];
    for (const v of rest) {
      const chunk = [v & 0x7f];
      for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80);
      out.push(...chunk);
    }
    return der.tlv(0x06, Buffer.from(out));
  },
  utf8: (s: string): Buffer => der.tlv(0x0c, Buffer.from(s, 'utf8')),
  octets: (b: Buffer): Buffer => der.tlv(0x04, b),
  bits: (b: Buffer): Buffer => der.tlv(0x03, Buffer.concat([Buffer.from([0]), b])),
  /** UTCTime YYMMDDHHMMSSZ (dates before 2050). */
  time: (d: Date): Buffer => der.tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'ascii')),
};
