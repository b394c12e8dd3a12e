import { REGISTRY } from '../../src/core/hooks/registry.js';
/**
 * The pure parts of hook reports: token mint/verify, the report wire format both ends share,
 * the server's report builder, its settings, and the webhook's minting at admission.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit } from '../../src/webhook/admission/admit.js';
import { readKey } from '../../src/webhook/http/report-setup.js';
import { parseWebhookSettings } from '../../src/webhook/config/settings.js';
import { reportEnvFor } from '../../src/webhook/admission/report-env.js';
import { REPORT_ENV } from '../../src/webhook/admission/inject.js';
import { mintToken, SIGNATURE_LENGTH, verifyToken, type TokenClaims } from '../../src/webhook/admission/token.js';
import { createHmac } from 'node:crypto';
import { buildReport, identityFromToken } from '../../src/server/report.js';
import { parseReportTarget } from '../../src/server/report-settings.js';
import { parseReport, reportableHooks } from '../../src/protocol/report-wire.js';
import type { ChainResult } from '../../src/core/chain.js';
import { fixturePod, injectSettings, podReview, type Json } from '../support/injected-pods.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef-test-key');
const CLAIMS: TokenClaims = { ns: 'prod-db', gn: 'virt-launcher-db-pinned-', vmi: 'db-pinned', exp: 2_000_000_000 };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('report tokens', () => {
  test('a minted token verifies and carries its claims', () => {
    expect(verifyToken(KEY, mintToken(KEY, CLAIMS), 1_900_000_000)).toEqual({ ok: true, claims: CLAIMS });
  });

  test('expired at exp', () => {
    expect(verifyToken(KEY, mintToken(KEY, CLAIMS), CLAIMS.exp)).toEqual({ ok: false, reason: 'expired' });
  });

  test('another key, an edited payload or signature → bad-signature', () => {
    const token = mintToken(KEY, CLAIMS);
    expect(verifyToken(Buffer.from('another-key-another-key-another-key!'), token, 0)).toEqual({ ok: false, reason: 'bad-signature' });
    const [v, , sig] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...CLAIMS, ns: 'other' })).toString('base64url');
    expect(verifyToken(KEY, `${v}.${forged}.${sig}`, 0)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verifyToken(KEY, `${token.slice(0, -2)}AA`, 0).ok).toBe(false);
  });

  test('an expired forgery is reported as a forgery', () => {
    const forged = mintToken(Buffer.from('not-the-key-not-the-key-not-the-key'), { ...CLAIMS, exp: 1 });
    expect(verifyToken(KEY, forged, 100)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  test.each([undefined, '', 'v1.x', 'v2.a.b', 'a.b.c.d', 'v1.' + 'a'.repeat(3000) + '.b'])('malformed or missing: %p', (t) => {
    expect(verifyToken(KEY, t, 0).ok).toBe(false);
  });
});

describe('report tokens: one spelling only (issue 12, item 7)', () => {
  const token = mintToken(KEY, { ...CLAIMS, n: 'bm9uY2Utbm9uY2U' });
  const [v, payload, sig] = token.split('.') as [string, string, string];
  const now = 1_900_000_000;

  test('the canonical token verifies, nonce included', () => {
    expect(verifyToken(KEY, token, now)).toEqual({ ok: true, claims: { ...CLAIMS, n: 'bm9uY2Utbm9uY2U' } });
    expect(sig).toHaveLength(SIGNATURE_LENGTH);
  });

  test('trailing characters after the signature or the payload → malformed', () => {
    for (const t of [`${token}A`, `${token}=`, `${token} `, `${token}.`, `${v}.${payload}A.${sig}`, `${token}\n`]) {
      expect(verifyToken(KEY, t, now)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  test('standard base64 (+ and /) or padding instead of url-safe unpadded → malformed', () => {
    const std = Buffer.from(sig, 'base64url').toString('base64');
    expect(std).not.toBe(sig);
    expect(verifyToken(KEY, `${v}.${payload}.${std}`, now)).toEqual({ ok: false, reason: 'malformed' });
    // A payload whose bytes encode with '-' and '_' (>>, ??): spelt with '+' and '/' it must fail.
    const odd = mintToken(KEY, { ...CLAIMS, vmi: '>>>???' });
    const [, oddPayload, oddSig] = odd.split('.') as [string, string, string];
    const stdPayload = Buffer.from(oddPayload, 'base64url').toString('base64').replace(/=+$/, '');
    expect(stdPayload).toMatch(/[+/]/);
    expect(verifyToken(KEY, odd, now).ok).toBe(true);
    expect(verifyToken(KEY, `${v}.${stdPayload}.${oddSig}`, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyToken(KEY, `${v}.${oddPayload}=.${oddSig}`, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  test('the same signature bytes spelt with other trailing bits → malformed', () => {
    // 43 characters carry 258 bits for 256: the last character has 2 spare bits.
    const last = sig[42] as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[(alphabet.indexOf(last) ^ 1)] as string;
    const variant = `${v}.${payload}.${sig.slice(0, 42)}${sibling}`;
    expect(Buffer.from(variant.split('.')[2] as string, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
    expect(verifyToken(KEY, variant, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  test('a payload signed with the key but not in the one JSON spelling → malformed', () => {
    const sign = (p: string) => createHmac('sha256', KEY).update(`v1.${p}`).digest('base64url');
    const spaced = Buffer.from(JSON.stringify(CLAIMS, null, 1)).toString('base64url');
    expect(verifyToken(KEY, `v1.${spaced}.${sign(spaced)}`, now)).toEqual({ ok: false, reason: 'malformed' });
    const reordered = Buffer.from(JSON.stringify({ gn: CLAIMS.gn, ns: CLAIMS.ns, vmi: CLAIMS.vmi, exp: CLAIMS.exp })).toString('base64url');
    expect(verifyToken(KEY, `v1.${reordered}.${sign(reordered)}`, now)).toEqual({ ok: false, reason: 'malformed' });
  });

  test('two pods with the same claims get different tokens through their nonces', () => {
    expect(mintToken(KEY, { ...CLAIMS, n: 'AAAA' })).not.toBe(mintToken(KEY, { ...CLAIMS, n: 'AAAB' }));
  });
});

describe('minting at admission', () => {
  const gate = { mode: 'inject' as const, gateEnabled: true, kubevirtVersion: 'v1.7.2', reason: 'test' };
  const minting = { url: 'https://premigration-hooks-webhook.premigration-hooks.svc:443/report', caBundle: PEM, key: KEY, ttlSeconds: 3600, nowSeconds: 1_800_000_000.7 };

  test('the token names the request namespace, generateName and VMI, and expires after the TTL', () => {
    const env = reportEnvFor(fixturePod('kv17-dedicated-cpu'), 'prod-db', gate, minting);
    expect(env).toMatchObject({ url: minting.url, caBundle: PEM, kubevirtVersion: 'v1.7.2' });
    expect(verifyToken(KEY, env.token, 1_800_000_000)).toEqual({
      ok: true,
      claims: { ns: 'prod-db', gn: 'virt-launcher-db-pinned-', vmi: 'db-pinned', exp: 1_800_003_600 },
    });
  });

  test('admit() puts the report settings into our container\'s env, and only there', () => {
    const { review } = admit(podReview(fixturePod('kv17-dedicated-cpu')), { gate, settings: injectSettings(), report: minting });
    const patch = JSON.parse(Buffer.from(review.response.patch as string, 'base64').toString('utf8')) as Json[];
    const server = patch.find((op) => op.path === '/spec/initContainers/-')?.value as Json;
    const env = Object.fromEntries((server.env as Json[]).map((e) => [e.name, e.value]));
    expect(env[REPORT_ENV.url]).toBe(minting.url);
    expect(env[REPORT_ENV.caBundle]).toBe(PEM);
    expect(env[REPORT_ENV.kubevirtVersion]).toBe('v1.7.2');
    expect(verifyToken(KEY, env[REPORT_ENV.token] as string, 1_800_000_000).ok).toBe(true);
    expect(JSON.stringify(patch.filter((op) => op !== patch.find((o) => o.path === '/spec/initContainers/-')))).not.toContain('REPORT');
  });

  test('without report settings there is no report env', () => {
    const { review } = admit(podReview(fixturePod('kv17-dedicated-cpu')), { gate, settings: injectSettings() });
    expect(Buffer.from(review.response.patch as string, 'base64').toString('utf8')).not.toContain('REPORT');
  });
});

const run = (name: string, ran: boolean, changes: number, durationMs: number) => ({ name, ran, changes, durationMs });
const chain = (hooks: ReturnType<typeof run>[]): ChainResult => ({ xml: '', changed: true, changes: [], hooks, domainName: 'd', durationMs: 1 });

describe('the server\'s report', () => {
  test('per hook: changed, unchanged, skipped (no duration)', () => {
    const report = buildReport(
      { op: 'migrate', result: 'changed', seconds: 0.0123456, chain: chain([run('cpu-dedicated', true, 3, 0.51234), run('disk-namespace', false, 0, 0.01)]) },
      { kubevirtVersion: 'v1.7.2', namespace: 'prod-db', vmi: 'db-pinned' },
    );
    expect(report).toEqual({
      schema: 1, op: 'migrate', result: 'changed', durationMs: 12.346, kubevirtVersion: 'v1.7.2', namespace: 'prod-db', vmi: 'db-pinned',
      hooks: [{ name: 'cpu-dedicated', result: 'changed', durationMs: 0.512 }, { name: 'disk-namespace', result: 'skipped' }],
    });
    expect(parseReport(JSON.parse(JSON.stringify(report)), new Set(reportableHooks()))).toEqual({ report });
  });

  test('a refusal names the refusing hook; a fault names the chain; bad input or a timeout is a failed run', () => {
    expect(buildReport({ op: 'migrate', result: 'refused', seconds: 0, refusedBy: 'cpu-dedicated' }).hooks).toEqual([{ name: 'cpu-dedicated', result: 'refused' }]);
    expect(buildReport({ op: 'restore', result: 'failed', seconds: 0 })).toMatchObject({ op: 'restore', result: 'failed', hooks: [{ name: 'chain', result: 'failed' }] });
    expect(buildReport({ op: 'x', result: 'timeout', seconds: 0 })).toMatchObject({ op: 'other', result: 'failed', hooks: [] });
    expect(buildReport({ op: 'migrate', result: 'bad-request', seconds: 0 }).result).toBe('failed');
  });

  test('identity comes from the token payload, without the key', () => {
    expect(identityFromToken(mintToken(KEY, CLAIMS))).toEqual({ namespace: 'prod-db', vmi: 'db-pinned' });
    expect(identityFromToken('garbage')).toEqual({});
  });
});

describe('report wire validation (what the webhook accepts)', () => {
  const known = new Set(reportableHooks());
  const good = { schema: 1, op: 'migrate', result: 'unchanged', durationMs: 1, hooks: [{ name: 'cpu-dedicated', result: 'unchanged', durationMs: 0.1 }] };

  test('the label values are bounded: registry hooks plus abi-guard and chain', () => {
    expect(reportableHooks()).toEqual([...REGISTRY.names(), 'abi-guard', 'chain']);
  });

  test.each([
    ['not an object', []],
    ['wrong schema', { ...good, schema: 2 }],
    ['unknown result', { ...good, result: 'great' }],
    ['unknown hook (would add a label value)', { ...good, hooks: [{ name: 'made-up', result: 'changed' }] }],
    ['repeated hook', { ...good, hooks: [good.hooks[0], good.hooks[0]] }],
    ['negative duration', { ...good, durationMs: -1 }],
    ['bad hook result', { ...good, hooks: [{ name: 'cpu-dedicated', result: 'meh' }] }],
    ['op with control characters', { ...good, op: 'mig\nrate' }],
  ])('refused: %s', (_what, body) => {
    expect('error' in parseReport(body, known)).toBe(true);
  });

  test('log-only fields that are not printable text are dropped, not trusted', () => {
    const parsed = parseReport({ ...good, namespace: 'a\u001b[31m', vmi: 'vm-1' }, known);
    expect('report' in parsed && parsed.report).toMatchObject({ vmi: 'vm-1' });
    expect('report' in parsed && parsed.report.namespace).toBeUndefined();
  });
});

describe('server report settings', () => {
  const get = (v: Record<string, string>) => (k: string) => v[k];
  test('all three given → a target; none → not configured; partial or plain http → disabled with a reason, never an error', () => {
    expect(parseReportTarget(get({ 'report-url': 'https://w/report', 'report-ca': PEM, 'report-token': 't', 'kubevirt-version': 'v1.5.0' }))).toEqual({
      target: { url: 'https://w/report', ca: PEM, token: 't', kubevirtVersion: 'v1.5.0' },
    });
    expect(parseReportTarget(get({}))).toEqual({ disabled: 'not configured' });
    expect(parseReportTarget(get({ 'report-url': 'https://w/report' }))).toMatchObject({ disabled: expect.stringContaining('incomplete') });
    expect(parseReportTarget(get({ 'report-url': 'http://w/report', 'report-ca': PEM, 'report-token': 't' }))).toEqual({ disabled: '--report-url must be https' });
    expect(parseReportTarget(get({ 'report-url': 'https://w/report', 'report-ca': 'nope', 'report-token': 't' }))).toMatchObject({ disabled: expect.stringContaining('PEM') });
  });
});

describe('webhook flags for /validate and reports', () => {
  const base = ['--dev-self-signed', '--image', 'registry.example.com/premigration-hooks:v0.1.0'];
  test('defaults: warn, no reports, 24 h tokens', () => {
    const s = parseWebhookSettings(base);
    expect(s).toMatchObject({ validatePolicy: 'warn', reportTokenTtlSeconds: 86_400 });
    expect(s.reportUrl).toBeUndefined();
    expect(s.reportKeyFile).toBeUndefined();
    expect(s.caBundleFile).toBeUndefined();
  });

  test('flags and environment', () => {
    const s = parseWebhookSettings([...base, '--validate-policy', 'deny', '--report-url', 'https://w.ns.svc:443/report', '--report-token-ttl', '600'], {
      PREMIGRATION_HOOKS_REPORT_KEY_FILE: '/k/key',
      PREMIGRATION_HOOKS_CA_BUNDLE_FILE: '/tls/ca.crt',
    });
    expect(s).toMatchObject({ validatePolicy: 'deny', reportUrl: 'https://w.ns.svc:443/report', reportKeyFile: '/k/key', caBundleFile: '/tls/ca.crt', reportTokenTtlSeconds: 600 });
  });

  test.each([
    [['--validate-policy', 'reject'], /--validate-policy must be one of warn\|deny/],
    [['--report-url', 'http://w/report'], /must be https/],
    [['--report-url', 'not a url'], /not a URL/],
    [['--report-token-ttl', '0'], /report-token-ttl/],
  ])('%p is refused', (flags, message) => {
    expect(() => parseWebhookSettings([...base, ...flags])).toThrow(message);
  });
});

describe('the report key file', () => {
  test('trailing newline dropped; shorter than 32 bytes refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmh-key-'));
    try {
      writeFileSync(join(dir, 'good'), `${'k'.repeat(40)}\n`);
      expect(readKey(join(dir, 'good')).toString()).toBe('k'.repeat(40));
      writeFileSync(join(dir, 'short'), 'short-key\n');
      expect(() => readKey(join(dir, 'short'))).toThrow(/9 bytes; need at least 32/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
