import { InputError } from '../core/errors.js';

/** What the hook client does when the server cannot give an answer. */
export type OnErrorPolicy = 'pass' | 'abort';

export const PRODUCT = 'premigration-hooks';
export const VERSION = '0.1.0';

export function parseOnError(value: string | undefined, fallback: OnErrorPolicy = 'pass'): OnErrorPolicy {
  if (value === undefined || value === '') return fallback;
  if (value === 'pass' || value === 'abort') return value;
  throw new InputError(`--on-error must be "pass" or "abort", got "${value}"`);
}

/** "a,b , c" → ["a","b","c"]; empty → undefined (meaning: the default set). */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return items.length ? items : undefined;
}

export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new InputError(`${name} must be a positive integer, got "${value}"`);
  return Number(value);
}
