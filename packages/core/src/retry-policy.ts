/**
 * Delivery retry policy: a pure function of the attempt number (capped exponential backoff with jitter),
 * after BullMQ's `backoffs.ts`. A non-retryable error short-circuits it (the scheduler decides which are).
 */

export interface RetryPolicy {
  /** Delay before the first retry (attempt 1). */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per attempt (2 doubles the delay). */
  factor: number;
  /** Fraction 0..1 of the delay that is randomised ("equal jitter": delay·(1−jitter) … delay). */
  jitter: number;
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  baseMs: 1_000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.2,
});

/**
 * Delay before retry number `attempt` (1 = first retry; values < 1 count as 1):
 * `min(maxMs, baseMs · factor^(attempt−1))`, of which a `jitter` fraction is randomised downwards so that
 * many sidecars failing together do not retry in lock-step. With `random` fixed the result is deterministic.
 */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const base = Math.max(0, policy.baseMs);
  const max = Math.max(base, policy.maxMs);
  const factor = Math.max(1, policy.factor);
  // factor^(n-1) overflows to Infinity for large n; min() then yields max, which is what we want.
  const raw = Math.min(max, base * Math.pow(factor, n - 1));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(raw * (1 - jitter * r));
}
