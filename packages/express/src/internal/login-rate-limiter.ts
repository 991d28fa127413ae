/**
 * Counts failed logins in a fixed window per key (a client address, or a presented identity). An attempt
 * is counted when it STARTS (`begin`), before any slow verification, so that parallel attempts cannot all
 * pass the check before the first failure is recorded; a success gives its count back (`succeeded`).
 * Memory is bounded: at most `maxEntries` keys are tracked, the least recently counted one is forgotten first
 * (a Map iterates in insertion order and an entry is re-inserted on each count).
 */
export interface LoginRateLimitOptions {
  /** Failed attempts per key in one window before the key is refused; default 10. */
  maxFailures?: number;
  windowMs?: number;
  maxEntries?: number;
}

interface Entry {
  count: number;
  windowStartMs: number;
}

export class LoginRateLimiter {
  private readonly entries = new Map<string, Entry>();
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(options: LoginRateLimitOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Seconds until `key` may try again (it reached `limit`, default `maxFailures`), or undefined when it may try now. */
  blockedForSec(key: string, nowMs: number, limit: number = this.maxFailures): number | undefined {
    const e = this.live(key, nowMs);
    if (!e || e.count < limit) return undefined;
    return Math.max(1, Math.ceil((e.windowStartMs + this.windowMs - nowMs) / 1000));
  }

  /** Counts an attempt that is about to be verified. Returns a token for `succeeded`. */
  begin(key: string, nowMs: number): { key: string; windowStartMs: number } {
    const e = this.live(key, nowMs);
    const next: Entry = e ? { ...e, count: e.count + 1 } : { count: 1, windowStartMs: nowMs };
    this.entries.delete(key);
    this.entries.set(key, next);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return { key, windowStartMs: next.windowStartMs };
  }

  /** The attempt counted by `begin` succeeded: it is not a failure (only within the same window). */
  succeeded(token: { key: string; windowStartMs: number }): void {
    const e = this.entries.get(token.key);
    if (e && e.windowStartMs === token.windowStartMs && e.count > 0) e.count--;
  }

  /** Counts a failure that needed no verification (e.g. a malformed header). */
  recordFailure(key: string, nowMs: number): void {
    this.begin(key, nowMs);
  }

  get size(): number {
    return this.entries.size;
  }

  private live(key: string, nowMs: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && nowMs >= e.windowStartMs + this.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}
