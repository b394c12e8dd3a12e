import { backoffDelay, DEFAULT_BACKOFF } from '../../src/webhook/watch/informer.js';

describe('backoffDelay (restarts of the list+watch)', () => {
  const mid = () => 0.5; // no jitter
  test('starts at 500 ms and doubles per attempt, up to the 30 s cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => backoffDelay(a, DEFAULT_BACKOFF, mid))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  test('jitter spreads ±20 % around the base, and never above the cap', () => {
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0)).toBe(1600);
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0.999999)).toBe(2400);
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 0.999999)).toBe(30000);
    expect(backoffDelay(10, DEFAULT_BACKOFF, () => 0)).toBe(24000);
  });

  test('a negative attempt counts as the first', () => {
    expect(backoffDelay(-3, DEFAULT_BACKOFF, mid)).toBe(500);
  });
});
