/**
 * A bound on concurrent admissions: at most `active` requests read, parse and decide at once,
 * at most `queue` more wait (holding only their headers: their bodies stay in the socket, which
 * Node stops reading), each for at most `waitMs`. Past that a request is refused at once with a
 * 503, which the apiserver treats as a failed call and answers with the webhook's
 * failurePolicy: the admin's choice stays in force (docs/webhook.md, "Bounded memory").
 *
 * With `active × (body limit × per-byte cost)` below the memory limit, memory is bounded by
 * construction, whatever the callers send.
 */
export interface LimiterOptions {
  active: number;
  queue: number;
  waitMs: number;
}

/** The flags' defaults (src/webhook/config/settings.ts). */
export const DEFAULT_LIMITS: LimiterOptions = { active: 4, queue: 16, waitMs: 2_000 };

export type Admission = { ok: true; release(): void } | { ok: false; reason: 'queue-full' | 'queue-timeout' };

export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: Array<{ grant(): void }> = [];

  constructor(readonly opts: LimiterOptions) {}

  inFlight(): number {
    return this.running;
  }

  queued(): number {
    return this.waiting.length;
  }

  acquire(): Promise<Admission> {
    if (this.running < this.opts.active) {
      this.running++;
      return Promise.resolve({ ok: true, release: this.releaser() });
    }
    if (this.waiting.length >= this.opts.queue) return Promise.resolve({ ok: false, reason: 'queue-full' });
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          this.running++;
          resolve({ ok: true, release: this.releaser() });
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve({ ok: false, reason: 'queue-timeout' });
      }, this.opts.waitMs);
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiting.shift()?.grant();
    };
  }
}
