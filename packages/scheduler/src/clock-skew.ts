/**
 * Deadlines are wall-clock instants (the user's contract), so a sidecar whose clock runs ahead would fail
 * orders before their time. The guard compares this sidecar's clock with OpenSearch's (a cheap call that
 * answers the server's time), at most every `checkIntervalMs`: beyond `maxSkewMs` it logs, sets the
 * `scheduler_clock_skew_exceeded` gauge, and says deadlines must not be enforced here (the deadline sweep is
 * skipped and a failed delivery is retried rather than expired) until the clock is back within the bound.
 *
 * The skew is the local midpoint of the call minus the server's time; the server's time is known to the
 * second (`resolutionMs`), so the estimate is the middle of that second, and errors of half a second plus
 * half the round trip are expected: keep `maxSkewMs` well above both.
 *
 * While the bound is exceeded, `indexerClock()` reads this clock corrected by the last skew measured, so
 * that what the sidecar writes (an order's `@timestamp`, deadline and next attempt) and what it compares
 * (which orders are due) agree with the other sidecars to about a second, not to the skew. `serverClock()`
 * corrects whenever the skew measured exceeds the measurement's error, for pull leases, which sidecars
 * write and judge for one another. `start()` keeps checking every `checkIntervalMs` on its own timer.
 */
import { noopLogger, systemClock } from '@command-manager/core';
import type { Clock, Logger } from '@command-manager/core';
import { noopSchedulerMetrics, SchedulerMetricNames } from './scheduler-metrics';
import type { SchedulerMetrics } from './scheduler-metrics';
import { describeError } from './internal/describe-error';
import type { MonotonicClock } from './partition-leases';
import { systemMonotonicClock } from './partition-leases';

/** What the guard asks of the indexer: its current time, truncated to `resolutionMs`. */
export interface ServerTimeSource {
  serverTime(): Promise<Date>;
  /** Granularity of the time answered (1000 for a time in whole seconds). */
  readonly resolutionMs: number;
}

export interface ClockSkewOptions {
  /** Largest tolerated |local − server| (default 5 s). */
  maxSkewMs?: number;
  /** Checks at most this often (default 30 s). */
  checkIntervalMs?: number;
}

export const CLOCK_SKEW_DEFAULTS = Object.freeze({ maxSkewMs: 5000, checkIntervalMs: 30_000 });

export interface ClockSkewDeps {
  server: ServerTimeSource;
  /** The wall clock deadlines are judged by. */
  clock?: Clock;
  /** Paces the checks. */
  monotonic?: MonotonicClock;
  logger?: Logger;
  metrics?: SchedulerMetrics;
  options?: ClockSkewOptions;
}

export class ClockSkewGuard {
  readonly maxSkewMs: number;
  readonly checkIntervalMs: number;
  private readonly deps: ClockSkewDeps;
  private readonly clock: Clock;
  private readonly monotonic: MonotonicClock;
  private readonly logger: Logger;
  private readonly metrics: SchedulerMetrics;
  private lastCheckMs: number | undefined;
  private skewMs: number | undefined;
  /** How far off the last skew measurement may be: half the server's resolution plus half the round trip. */
  private skewErrorMs = Number.POSITIVE_INFINITY;
  private exceeded = false;
  private checking: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: ClockSkewDeps) {
    this.deps = deps;
    this.maxSkewMs = Math.max(0, deps.options?.maxSkewMs ?? CLOCK_SKEW_DEFAULTS.maxSkewMs);
    this.checkIntervalMs = Math.max(0, deps.options?.checkIntervalMs ?? CLOCK_SKEW_DEFAULTS.checkIntervalMs);
    this.clock = deps.clock ?? systemClock;
    this.monotonic = deps.monotonic ?? systemMonotonicClock;
    this.logger = deps.logger ?? noopLogger;
    this.metrics = deps.metrics ?? noopSchedulerMetrics;
  }

  /** Checks now and then every `checkIntervalMs` until `stop()`; resolves once the first check ended. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.allowsDeadlines(), Math.max(1000, this.checkIntervalMs));
    this.timer.unref();
    await this.allowsDeadlines();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The wall clock to write and compare order times with: this one while it is within the bound, this one
   * minus the last measured skew beyond it (the indexer's time, to about a second).
   */
  indexerClock(): Clock {
    return {
      now: () => {
        const local = this.clock.now();
        return this.exceeded && this.skewMs !== undefined ? new Date(local.getTime() - this.skewMs) : local;
      },
    };
  }

  /**
   * The indexer's time as well as this sidecar can tell it: this clock corrected by the last measured skew
   * whenever that skew is larger than the measurement's own error (half the server's resolution plus half the
   * round trip), this clock as it is otherwise (a synchronised clock is more exact than the estimate). Pull
   * leases are written and judged on it, so that a consumer's lease lapses at the same instant whichever
   * sidecar looks at it, to about a second, however far their own clocks are apart.
   */
  serverClock(): Clock {
    return {
      now: () => {
        const local = this.clock.now();
        const skew = this.skewMs;
        return skew !== undefined && Math.abs(skew) > this.skewErrorMs
          ? new Date(local.getTime() - skew)
          : local;
      },
    };
  }

  /** The last measured skew (local − server, ms), if any check succeeded. */
  lastSkewMs(): number | undefined {
    return this.skewMs;
  }

  /** Whether deadlines may be enforced, by the last check (true until a check says otherwise). */
  withinBound(): boolean {
    return !this.exceeded;
  }

  /**
   * Checks again when the last check is older than `checkIntervalMs`, then answers `withinBound()`. A check
   * that fails (indexer unreachable) keeps the last verdict.
   */
  async allowsDeadlines(): Promise<boolean> {
    const now = this.monotonic.nowMs();
    if (this.lastCheckMs !== undefined && now - this.lastCheckMs < this.checkIntervalMs)
      return this.withinBound();
    this.checking ??= this.check().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async check(): Promise<boolean> {
    const before = this.clock.now().getTime();
    let server: Date;
    try {
      server = await this.deps.server.serverTime();
    } catch (e) {
      this.logger.warn('could not read the indexer time to check this clock', { error: describeError(e) });
      return this.withinBound();
    }
    const after = this.clock.now().getTime();
    this.lastCheckMs = this.monotonic.nowMs();
    const skew = Math.round((before + after) / 2 - (server.getTime() + this.deps.server.resolutionMs / 2));
    this.skewMs = skew;
    this.skewErrorMs = this.deps.server.resolutionMs / 2 + (after - before) / 2;
    this.metrics.set(SchedulerMetricNames.CLOCK_SKEW_SECONDS, skew / 1000);
    const exceeded = Math.abs(skew) > this.maxSkewMs;
    this.metrics.set(SchedulerMetricNames.CLOCK_SKEW_EXCEEDED, exceeded ? 1 : 0);
    if (exceeded !== this.exceeded) {
      const meta = { skewMs: skew, maxSkewMs: this.maxSkewMs, roundTripMs: after - before };
      if (exceeded)
        this.logger.error(
          "this sidecar's clock disagrees with the indexer's beyond the bound: deadlines are not enforced here until it is corrected",
          meta,
        );
      else this.logger.info("this sidecar's clock agrees with the indexer's again: deadlines enforced", meta);
    }
    this.exceeded = exceeded;
    return !exceeded;
  }
}
