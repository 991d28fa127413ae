/**
 * Counts failed logins per client IP in a fixed window; once `maxFailures` is reached the IP is refused
 * (even with good credentials) until its window ends. Memory is bounded: at most `maxEntries` IPs are
 * tracked, the least recently failing one is forgotten first (a Map iterates in insertion order and an
 * entry is re-inserted on each failure).
 */
export interface LoginRateLimitOptions {
  maxFailures?: number;
  windowMs?: number;
  maxEntries?: number;
}

interface Entry {
  failures: number;
  windowStartMs: number;
}

export class LoginRateLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;

  constructor(options: LoginRateLimitOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** Seconds until the IP may try again, or undefined when it may try now. */
  blockedForSec(ip: string, nowMs: number): number | undefined {
    const e = this.entries.get(ip);
    if (!e) return undefined;
    const endMs = e.windowStartMs + this.windowMs;
    if (nowMs >= endMs) {
      this.entries.delete(ip);
      return undefined;
    }
    return e.failures >= this.maxFailures ? Math.max(1, Math.ceil((endMs - nowMs) / 1000)) : undefined;
  }

  recordFailure(ip: string, nowMs: number): void {
    const e = this.entries.get(ip);
    const fresh = !e || nowMs >= e.windowStartMs + this.windowMs;
    const next: Entry = fresh ? { failures: 1, windowStartMs: nowMs } : { ...e, failures: e.failures + 1 };
    this.entries.delete(ip);
    this.entries.set(ip, next);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
