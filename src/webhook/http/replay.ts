/**
 * The replay bound on report tokens: a per-token counter kept in a bounded LRU.
 *
 * A target pod receives one incoming migration in its life, so its server sends one report per
 * run plus at most two retries when an answer is lost; `perToken` (4) accepted reports is
 * therefore all a genuine token ever needs, and a token read from a pod spec yields no more.
 * Only tokens whose signature verified enter the map, so flushing it takes `capacity` genuine
 * tokens (as many target pods within one token lifetime), not a loop of forgeries. An entry
 * lives until its token expires or it is the least recently used of `capacity` entries
 * (about 120 bytes each: 16384 entries ≈ 2 MiB). Each replica counts its own reports, so with
 * N replicas behind the Service a token yields at most N × perToken reports.
 */
export const DEFAULT_REPLAY_CAPACITY = 16_384;
export const DEFAULT_REPORTS_PER_TOKEN = 4;

export class ReplayGuard {
  private readonly seen = new Map<string, { count: number; exp: number }>();

  constructor(readonly perToken = DEFAULT_REPORTS_PER_TOKEN, readonly capacity = DEFAULT_REPLAY_CAPACITY) {}

  /** Count one accepted report for `id` (a verified token's signature); false past the budget. */
  admit(id: string, exp: number, nowSeconds: number): boolean {
    const entry = this.seen.get(id);
    if (entry) {
      this.seen.delete(id);
      this.seen.set(id, entry); // most recently used last
      if (entry.count >= this.perToken) return false;
      entry.count++;
      return true;
    }
    this.seen.set(id, { count: 1, exp });
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    this.prune(nowSeconds);
    return true;
  }

  /** Drop a few expired entries from the cold end (amortised: never a full scan per call). */
  private prune(nowSeconds: number): void {
    let budget = 8;
    for (const [id, e] of this.seen) {
      if (budget-- === 0) break;
      if (e.exp <= nowSeconds) this.seen.delete(id);
    }
  }

  size(): number {
    return this.seen.size;
  }
}
