/**
 * Report tokens: minted at injection time, checked on every /report. A token is
 *   v1.<base64url(JSON {ns, gn, vmi, exp, n})>.<base64url(HMAC-SHA256(key, "v1." + payload))>
 * The payload names the pod (namespace, generateName, VMI), an expiry (Unix seconds) and a
 * random nonce `n` that makes every pod's token unique (the replay bound counts per token); the
 * webhook logs a report under the identity the token proves, never under what the body claims.
 *
 * One spelling only: both parts are unpadded url-safe base64 in canonical form (re-encoding the
 * decoded bytes gives the same text, so no padding, no `+`/`/`, no stray trailing bits or
 * characters), the signature is exactly 43 characters, and the payload is the exact JSON that
 * mintToken writes for its claims. Any other spelling of a valid token is `malformed`.
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
  /** Random nonce (base64url), unique per minted token; absent in tokens minted before 0.2. */
  n?: string;
}

export type TokenVerdict =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: 'missing' | 'malformed' | 'bad-signature' | 'expired' };

function sign(key: Buffer, signed: string): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

/** The one JSON text of a claim set: fixed key order, `n` only when present. */
function claimsJson(c: TokenClaims): string {
  return JSON.stringify({ ns: c.ns, gn: c.gn, vmi: c.vmi, exp: c.exp, ...(c.n !== undefined ? { n: c.n } : {}) });
}

/** 32 bytes of HMAC-SHA256 in unpadded base64url. */
export const SIGNATURE_LENGTH = 43;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** Unpadded url-safe base64 that decodes and re-encodes to itself. */
function canonicalBase64url(text: string): Buffer | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export function mintToken(key: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(claimsJson(claims)).toString('base64url');
  const signed = `${VERSION}.${payload}`;
  return `${signed}.${sign(key, signed).toString('base64url')}`;
}

const isClaims = (v: unknown): v is TokenClaims => {
  const o = v as Record<string, unknown>;
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof o.ns === 'string' && typeof o.gn === 'string' && typeof o.vmi === 'string'
    && typeof o.exp === 'number' && Number.isSafeInteger(o.exp) && (o.n === undefined || (typeof o.n === 'string' && B64URL.test(o.n)));
};

/** Signature first (constant time), then expiry: an expired forgery is a forgery. */
export function verifyToken(key: Buffer, token: string | undefined, nowSeconds: number): TokenVerdict {
  if (!token) return { ok: false, reason: 'missing' };
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
  const [, payload, signature] = parts as [string, string, string];
  if (signature.length !== SIGNATURE_LENGTH) return { ok: false, reason: 'malformed' };
  const given = canonicalBase64url(signature);
  const payloadBytes = canonicalBase64url(payload);
  if (!given || !payloadBytes) return { ok: false, reason: 'malformed' };
  const expected = sign(key, `${VERSION}.${payload}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  let claims: unknown;
  const text = payloadBytes.toString('utf8');
  try {
    claims = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  // Signed by us yet not in our one spelling: never minted by this code.
  if (!isClaims(claims) || claimsJson(claims) !== text) return { ok: false, reason: 'malformed' };
  if (claims.exp <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
