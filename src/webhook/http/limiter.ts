/**
 * A bound on concurrent admissions, by count and by bytes: at most `active` requests read,
 * parse and decide at once, and together they may declare at most `bytes` of body (a request
 * with no Content-Length is counted at `maxWeight`); at most `queue` more wait, first come first
 * served, holding only their headers (their bodies stay in the socket, which Node stops
 * reading), each for at most `waitMs`. Past that a request is refused at once with a 503, which
 * the apiserver treats as a failed call and answers with the webhook's failurePolicy: the
 * admin's choice stays in force (docs/webhook.md, "Bounded memory").
 *
 * Why bytes: parsed JSON can cost ~30× its text (a 3 MiB array of empty objects is a million
 * objects), so memory is bounded by `bytes × 30` plus the process's base, whatever callers
 * send. One request is always let in when nothing runs, so a maximum-size review still passes.
 */
export interface LimiterOptions {
  active: number;
  queue: number;
  waitMs: number;
  /** Sum of declared body sizes in flight; default: no byte bound. */
  bytes?: number;
}

/** The flags' defaults (src/webhook/config/settings.ts), without the byte bound (set from --max-body-bytes). */
export const DEFAULT_LIMITS: LimiterOptions = { active: 4, queue: 16, waitMs: 2_000 };

export type Admission = { ok: true; release(): void } | { ok: false; reason: 'queue-full' | 'queue-timeout' };

interface Waiter {
  weight: number;
  grant(): void;
}

export class ConcurrencyLimiter {
  private running = 0;
  private usedBytes = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly opts: LimiterOptions) {}

  inFlight(): number {
    return this.running;
  }

  inFlightBytes(): number {
    return this.usedBytes;
  }

  queued(): number {
    return this.waiting.length;
  }

  private fits(weight: number): boolean {
    if (this.running >= this.opts.active) return false;
    return this.running === 0 || this.opts.bytes === undefined || this.usedBytes + weight <= this.opts.bytes;
  }

  /** `weight`: the request's declared body size (0 when the bound is by count only). */
  acquire(weight = 0): Promise<Admission> {
    if (this.waiting.length === 0 && this.fits(weight)) return Promise.resolve(this.take(weight));
    if (this.waiting.length >= this.opts.queue) return Promise.resolve({ ok: false, reason: 'queue-full' });
    return new Promise((resolve) => {
      const entry: Waiter = {
        weight,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(weight));
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve({ ok: false, reason: 'queue-timeout' });
        this.wake();
      }, this.opts.waitMs);
      this.waiting.push(entry);
    });
  }

  private take(weight: number): Admission {
    this.running++;
    this.usedBytes += weight;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        this.usedBytes -= weight;
        this.wake();
      },
    };
  }

  /** Grant waiters in order while the head fits (never past a head that does not). */
  private wake(): void {
    while (this.waiting.length > 0 && this.fits((this.waiting[0] as Waiter).weight)) (this.waiting.shift() as Waiter).grant();
  }
}

/** What a request weighs: its declared Content-Length, or `max` when it declares none or more. */
export function requestWeight(contentLength: string | undefined, max: number): number {
  const n = contentLength === undefined ? NaN : Number(contentLength);
  return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, max) : max;
}
