/**
 * Kubernetes resource quantities ("100m", "2", "1.5Gi", "128974848", "1e3", "129M"), parsed to an
 * exact integer count of nano-units so that QoS and requests ≤ limits checks compare exactly,
 * as the apiserver does. Fractions below a nano-unit round up, as Kubernetes does.
 */

const DECIMAL_SUFFIX: Record<string, bigint> = {
  n: 1n, u: 1_000n, m: 1_000_000n, '': 1_000_000_000n,
  k: 10n ** 12n, M: 10n ** 15n, G: 10n ** 18n, T: 10n ** 21n, P: 10n ** 24n, E: 10n ** 27n,
};
const BINARY_SUFFIX: Record<string, bigint> = {
  Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n,
};

const QUANTITY_RE = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** Pods repeat the same few quantities; BigInt parsing is the costly part of a QoS check. */
const cache = new Map<string, bigint | undefined>();
const CACHE_MAX = 1024;

/** Nano-units of a quantity, or undefined when the text is not a valid quantity. */
export function parseQuantity(text: unknown): bigint | undefined {
  if (typeof text === 'number' && Number.isFinite(text)) text = String(text);
  if (typeof text !== 'string') return undefined;
  if (cache.has(text)) return cache.get(text);
  const value = parse(text);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, value);
  return value;
}

function parse(text: string): bigint | undefined {
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return undefined;
  const [, sign = '', number = '', suffix, exponent] = m;
  const [whole = '', frac = ''] = number.split('.');
  const digits = BigInt((whole || '0') + frac);
  const fracScale = 10n ** BigInt(frac.length);
  let numerator: bigint;
  let denominator = fracScale;
  if (exponent !== undefined) {
    const e = Number(exponent);
    if (Math.abs(e) > 30) return undefined;
    numerator = digits * 1_000_000_000n;
    if (e >= 0) numerator *= 10n ** BigInt(e);
    else denominator *= 10n ** BigInt(-e);
  } else if (suffix !== undefined && suffix in BINARY_SUFFIX) {
    numerator = digits * (BINARY_SUFFIX[suffix] as bigint) * 1_000_000_000n;
  } else {
    numerator = digits * (DECIMAL_SUFFIX[suffix ?? ''] as bigint);
  }
  const value = (numerator + denominator - 1n) / denominator; // round up to a whole nano-unit
  return sign === '-' ? -value : value;
}

/** True when the quantity is a whole number of milli-units (required for CPU values we emit). */
export function isWholeMilli(text: string): boolean {
  const v = parseQuantity(text);
  return v !== undefined && v > 0n && v % 1_000_000n === 0n;
}
