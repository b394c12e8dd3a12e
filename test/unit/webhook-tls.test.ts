/** Certificate directory loading: a Secret that appears late, validation, expiry; and the healthcheck probe. */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/shared/log.js';
import { main as healthcheck, probe } from '../../src/cli/commands/healthcheck.js';
import { CertRefused, CertReloader, certPolicyViolation, generateSelfSigned, validateCertPair } from '../../src/webhook/http/tls.js';
import { capturedLogger } from '../support/log.js';
import { execFileSync } from 'node:child_process';
import { KubeletSecretDir } from '../integration/webhook-harness.js';

const logger = createLogger('test', 'silent');

test('a Secret directory that is empty at start loads once the kubelet publishes it (periodic check)', async () => {
  const secret = new KubeletSecretDir();
  const results: string[] = [];
  const loaded: string[] = [];
  const certs = new CertReloader(secret.dir, { logger, pollMs: 20, onLoad: (p) => loaded.push(p.serialNumber), onResult: (r) => results.push(r) });
  try {
    certs.start();
    expect(certs.current()).toBeUndefined();
    expect(results).toEqual(['error']);
    const { cert } = secret.publishNew();
    for (let i = 0; i < 500 && !certs.current(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(certs.current()?.serialNumber).toBe(new X509Certificate(cert).serialNumber);
    expect(loaded.length).toBe(1);
    expect(results).toEqual(['error', 'success']);
  } finally {
    certs.stop();
    secret.remove();
  }
});

test('validateCertPair reports serial, fingerprint and notAfter, and rejects a foreign key', () => {
  const a = mkdtempSync(join(tmpdir(), 'tls-a-'));
  const b = mkdtempSync(join(tmpdir(), 'tls-b-'));
  try {
    generateSelfSigned(a, { days: 10 });
    generateSelfSigned(b);
    const cert = readFileSync(join(a, 'tls.crt'));
    const pair = validateCertPair(cert, readFileSync(join(a, 'tls.key')));
    const x509 = new X509Certificate(cert);
    expect(pair.serialNumber).toBe(x509.serialNumber);
    expect(pair.fingerprint256).toBe(x509.fingerprint256);
    expect(pair.notAfter).toBe(Math.floor(Date.parse(x509.validTo) / 1000));
    expect(pair.notAfter - Date.now() / 1000).toBeGreaterThan(9 * 86400);
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(() => validateCertPair(cert, readFileSync(join(b, 'tls.key')))).toThrow();
    expect(() => validateCertPair(Buffer.from('not a cert'), readFileSync(join(a, 'tls.key')))).toThrow();
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

describe('healthcheck (the injected sidecar startup probe)', () => {
  let dir: string;
  let server: Server;
  let status = 200;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hc-'));
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? status : 404).end('ok');
    });
    await new Promise<void>((r) => server.listen(join(dir, 'hooks.sock'), r));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('200 on /healthz over the unix socket → exit 0', async () => {
    status = 200;
    expect(await probe(join(dir, 'hooks.sock'), 1000)).toEqual({ ok: true, detail: 'HTTP 200' });
    expect(await healthcheck(['--socket', join(dir, 'hooks.sock')])).toBe(0);
  });
  test('a 503, a missing socket, or bad flags → non-zero', async () => {
    status = 503;
    expect(await healthcheck(['--socket', join(dir, 'hooks.sock')])).toBe(1);
    expect((await probe(join(dir, 'absent.sock'), 1000)).detail).toMatch(/ENOENT/);
    expect(await healthcheck(['--socket', join(dir, 'absent.sock')])).toBe(1);
    expect(await healthcheck([])).toBe(2);
  });
});

describe('certificate policy: expired, not yet valid and weak pairs are refused, the old one keeps serving', () => {
  /** A self-signed pair with the given `openssl req -newkey` argument(s), valid for `days` from now. */
  function pairWith(dir: string, newkey: string[], days = 30): { cert: Buffer; key: Buffer } {
    execFileSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-days', String(days), '-subj', '/CN=policy-test'], { stdio: 'ignore' });
    return { cert: readFileSync(join(dir, 'tls.crt')), key: readFileSync(join(dir, 'tls.key')) };
  }
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tls-policy-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('RSA 1024 and EC P-224 are refused as weak; RSA 2048, EC P-256 and P-384 load', () => {
    const weak = [['-newkey', 'rsa:1024'], ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp224r1']];
    for (const args of weak) {
      const p = pairWith(dir, args);
      expect(() => validateCertPair(p.cert, p.key)).toThrow(CertRefused);
      expect(certPolicyViolation(new X509Certificate(p.cert), Date.now())).toMatch(/RSA key of 1024 bits|EC key on secp224r1/);
    }
    for (const args of [['-newkey', 'rsa:2048'], ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1']]) {
      const p = pairWith(dir, args);
      expect(validateCertPair(p.cert, p.key).serialNumber).toBe(new X509Certificate(p.cert).serialNumber);
    }
  });

  test('outside its validity period: expired and not yet valid are refused', () => {
    const p = pairWith(dir, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], 1);
    const x = new X509Certificate(p.cert);
    expect(() => validateCertPair(p.cert, p.key, undefined, Date.parse(x.validTo) + 1000)).toThrow(/expired at/);
    expect(() => validateCertPair(p.cert, p.key, undefined, Date.parse(x.validFrom) - 60_000)).toThrow(/not valid before/);
  });

  test('the reloader counts a refusal once, logs it, and keeps serving the previous pair', () => {
    const secret = new KubeletSecretDir();
    const results: string[] = [];
    const log = capturedLogger();
    let clock = Date.now();
    const certs = new CertReloader(secret.dir, { logger: log.logger, pollMs: 10_000, now: () => clock, onLoad: () => {}, onResult: (r) => results.push(r) });
    try {
      secret.publishNew();
      certs.start();
      const good = certs.current();
      expect(good).toBeDefined();
      // A renewed pair that is already expired by the reloader's clock.
      clock = Date.now() + 400 * 86400_000;
      secret.publishNew();
      expect(certs.check()).toBe(false);
      expect(certs.check()).toBe(false); // same bytes: not counted twice
      expect(certs.current()).toBe(good);
      expect(results).toEqual(['success', 'refused']);
      const line = log.lines.find((l) => l.msg === 'serving certificate refused; keeping the previous one');
      expect(String(line?.reason)).toMatch(/^expired at/);
    } finally {
      certs.stop();
      secret.remove();
    }
  });
});

test('a pair not yet valid is refused once, re-checked at each poll, and loaded once it is valid', () => {
  const secret = new KubeletSecretDir();
  const results: string[] = [];
  secret.publishNew();
  const x = new X509Certificate(readFileSync(join(secret.dir, 'tls.crt')));
  let clock = Date.parse(x.validFrom) - 60_000;
  const certs = new CertReloader(secret.dir, { logger, pollMs: 10_000, now: () => clock, onLoad: () => {}, onResult: (r) => results.push(r) });
  try {
    certs.start();
    expect(certs.current()).toBeUndefined();
    expect(certs.check()).toBe(false);
    expect(results).toEqual(['refused']);
    clock = Date.parse(x.validFrom) + 1000;
    expect(certs.check()).toBe(true);
    expect(results).toEqual(['refused', 'success']);
  } finally {
    certs.stop();
    secret.remove();
  }
});
