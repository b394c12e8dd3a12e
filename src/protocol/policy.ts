/** What the hook client does when the server cannot give an answer (client.conf `on_error`). */
import { UsageError } from '../shared/flags.js';

export type OnErrorPolicy = 'pass' | 'abort';

export function parseOnError(value: string | undefined, fallback: OnErrorPolicy = 'pass'): OnErrorPolicy {
  if (value === undefined || value === '') return fallback;
  if (value === 'pass' || value === 'abort') return value;
  throw new UsageError(`--on-error must be "pass" or "abort", got "${value}"`);
}
