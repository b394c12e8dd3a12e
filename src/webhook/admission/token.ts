/**
 * Report tokens: minted at injection time, checked on every /report. A token is
 *   v1.<base64url(JSON {ns, gn, vmi, exp})>.<base64url(HMAC-SHA256(key, "v1." + payload))>
 * The payload names the pod (namespace, generateName, VMI) and an expiry (Unix seconds); the
 * webhook logs a report under the identity the token proves, never under what the body claims.
 * The key is a Secret only the webhook reads (docs/webhook.md, "Hook reports"), shared by all
 * replicas, so any replica can check a token another one minted. Pure: key and clock passed in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const VERSION = 'v1';
/** Short keys make HMAC guessable; `openssl rand -hex 32` gives 64 bytes of text. */
export const MIN_KEY_BYTES = 32;
/** Bounds what a caller can make us parse before the signature check. */
const MAX_TOKEN_LENGTH = 2048;

export interface TokenClaims {
  /** Namespace of the target pod (the request's namespace at admission). */
  ns: string;
  /** metadata.generateName of the pod (its name is not known at admission). */
  gn: string;
  /** VMI name (the kubevirt.io/domain annotation). */
  vmi: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

export type TokenVerdict =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: 'missing' | 'malformed' | 'bad-signature' | 'expired' };

function sign(key: Buffer, signed: string): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

export function mintToken(key: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ ns: claims.ns, gn: claims.gn, vmi: claims.vmi, exp: claims.exp })).toString('base64url');
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${sign(key, signed).toString('base64url')}`;
}

const isClaims = (v: unknown): v is TokenClaims => {
  const o = v as Record<string, unknown>;
  return v !== null && typeof v === 'object' && typeof o.ns === 'string' && typeof o.gn === 'string' && typeof o.vmi === 'string'
    && typeof o.exp === 'number' && Number.isFinite(o.exp);
};

/** Signature first (constant time), then expiry: an expired forgery is a forgery. */
export function verifyToken(key: Buffer, token: string | undefined, nowSeconds: number): TokenVerdict {
  if (!token) return { ok: false, reason: 'missing' };
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
  const [, payload, signature] = parts as [string, string, string];
  const expected = sign(key, `${VERSION}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!isClaims(claims)) return { ok: false, reason: 'malformed' };
  if (claims.exp <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
