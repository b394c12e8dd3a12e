/**
 * The dev certificate of `webhook --dev-self-signed` is built with node:crypto alone: the image
 * has no openssl binary (test/image/image.test.ts runs it there). Here: the result is a valid
 * self-signed X.509 v3 certificate for the names asked, usable by node:tls, with no openssl on PATH.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { generateSelfSigned } from '../../src/webhook/http/tls.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pmh-selfsigned-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('defaults: localhost, 127.0.0.1 and ::1, self-signed, 30 days, key 0600; no openssl needed', () => {
  const saved = process.env.PATH;
  process.env.PATH = '';
  try {
    generateSelfSigned(dir);
  } finally {
    process.env.PATH = saved;
  }
  const cert = new X509Certificate(readFileSync(path.join(dir, 'tls.crt')));
  expect(cert.subject).toBe('CN=premigration-hooks-dev');
  expect(cert.issuer).toBe(cert.subject);
  expect(cert.verify(cert.publicKey)).toBe(true);
  expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  expect(cert.checkIP('::1')).toBe('::1');
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
  expect(Math.round(days)).toBe(30);
  expect(statSync(path.join(dir, 'tls.key')).mode & 0o777).toBe(0o600);
  expect(() => createSecureContext({ cert: readFileSync(path.join(dir, 'tls.crt')), key: readFileSync(path.join(dir, 'tls.key')) })).not.toThrow();
});

test('names, days and a compressed IPv6 address as given; a bad entry is refused', () => {
  generateSelfSigned(dir, { commonName: 'x', altNames: ['DNS:a.example', 'IP:fd00::1:2'], days: 2 });
  const cert = new X509Certificate(readFileSync(path.join(dir, 'tls.crt')));
  expect(cert.subject).toBe('CN=x');
  expect(cert.subjectAltName).toBe('DNS:a.example, IP Address:FD00:0:0:0:0:0:1:2');
  expect(() => generateSelfSigned(dir, { altNames: ['URI:x'] })).toThrow(/DNS:<name> or IP:<address>/);
});
