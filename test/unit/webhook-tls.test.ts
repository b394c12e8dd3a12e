/** Certificate directory loading: a Secret that appears late, validation, expiry; and the healthcheck probe. */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/shared/log.js';
import { main as healthcheck, probe } from '../../src/cli/commands/healthcheck.js';
import { CertReloader, generateSelfSigned, validateCertPair } from '../../src/webhook/http/tls.js';
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
