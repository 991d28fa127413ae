import fc from 'fast-check';
import { backoffDelayMs, defaultRetryPolicy } from '../src/retry-policy';
import type { RetryPolicy } from '../src/retry-policy';

const policy: RetryPolicy = { baseMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 };

describe('backoffDelayMs', () => {
  it('grows exponentially from baseMs and is capped at maxMs (no jitter draw)', () => {
    const none = () => 0;
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, policy, none))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('takes away at most the jitter fraction', () => {
    expect(backoffDelayMs(3, policy, () => 1)).toBe(200);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(300);
  });

  it('treats attempts below 1 as the first and stays finite for huge attempts', () => {
    expect(backoffDelayMs(0, policy, () => 0)).toBe(100);
    expect(backoffDelayMs(-3, policy, () => 0)).toBe(100);
    expect(backoffDelayMs(10_000, policy, () => 0)).toBe(1000);
  });

  it('is a pure function of the attempt and the random draw, within [raw·(1−jitter), min(max, raw)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const d = backoffDelayMs(attempt, defaultRetryPolicy, () => r);
          expect(backoffDelayMs(attempt, defaultRetryPolicy, () => r)).toBe(d);
          const raw = Math.min(
            defaultRetryPolicy.maxMs,
            defaultRetryPolicy.baseMs * defaultRetryPolicy.factor ** (attempt - 1),
          );
          expect(d).toBeGreaterThanOrEqual(Math.floor(raw * (1 - defaultRetryPolicy.jitter)));
          expect(d).toBeLessThanOrEqual(raw);
        },
      ),
    );
  });

  it('never decreases with the attempt for a fixed draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (a, r) => {
        expect(backoffDelayMs(a + 1, defaultRetryPolicy, () => r)).toBeGreaterThanOrEqual(
          backoffDelayMs(a, defaultRetryPolicy, () => r),
        );
      }),
    );
  });
});
