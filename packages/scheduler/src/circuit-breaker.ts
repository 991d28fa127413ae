import { systemClock } from '@command-manager/core';
import type { Clock } from '@command-manager/core';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failed calls that open the breaker; default `SCHEDULER_DEFAULTS.breakerFailureThreshold`. */
  failureThreshold?: number;
  /**
   * How long the breaker stays open before it lets one trial call through; default
   * `SCHEDULER_DEFAULTS.breakerOpenMs`.
   */
  openMs?: number;
  /** Successful trial calls (half-open) needed to close it again; default 1. */
  halfOpenSuccesses?: number;
}

/** Gauge values of `scheduler_breaker_state`. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  open: 1,
  'half-open': 2,
};

/**
 * A classic three-state circuit breaker (closed → open after `failureThreshold` consecutive failures →
 * half-open after `openMs` → closed after `halfOpenSuccesses` successful trials, or open again on a failed
 * one). In half-open only one trial call is in flight at a time, so a Management API that just came back is
 * not flooded by every queued batch at once. Time comes from the injected clock.
 */
export class CircuitBreaker {
  private stateValue: BreakerState = 'closed';
  private failures = 0;
  private successes = 0;
  private openedAtMs = 0;
  private trialInFlight = false;
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly halfOpenSuccesses: number;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly clock: Clock = systemClock,
    private readonly onStateChange: (state: BreakerState) => void = () => undefined,
  ) {
    this.failureThreshold = Math.max(
      1,
      Math.floor(options.failureThreshold ?? SCHEDULER_DEFAULTS.breakerFailureThreshold),
    );
    this.openMs = Math.max(0, options.openMs ?? SCHEDULER_DEFAULTS.breakerOpenMs);
    this.halfOpenSuccesses = Math.max(1, Math.floor(options.halfOpenSuccesses ?? 1));
  }

  /** The current state (an open breaker whose cool-down has passed reads as half-open). */
  get state(): BreakerState {
    this.advance();
    return this.stateValue;
  }

  /** Milliseconds until an open breaker lets a trial through (0 when a call may be made now or soon). */
  remainingOpenMs(): number {
    this.advance();
    if (this.stateValue !== 'open') return 0;
    return Math.max(0, this.openedAtMs + this.openMs - this.clock.now().getTime());
  }

  /** True when a call would be refused right now (open, or half-open with its trial in flight). */
  isBlocked(): boolean {
    this.advance();
    return this.stateValue === 'open' || (this.stateValue === 'half-open' && this.trialInFlight);
  }

  /**
   * Asks to make a call. Returns false when the breaker refuses it; when true, the caller MUST report the
   * outcome with `success()` or `failure()` exactly once.
   */
  tryAcquire(): boolean {
    this.advance();
    if (this.stateValue === 'closed') return true;
    if (this.stateValue === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    if (this.stateValue === 'half-open') {
      this.trialInFlight = false;
      if (++this.successes >= this.halfOpenSuccesses) this.transition('closed');
      return;
    }
    this.failures = 0;
  }

  /**
   * Opens the breaker at once, whatever the count: the API answered in a way no retry soon will fix
   * (credentials refused, endpoint missing). After `openMs` one trial call goes through as usual.
   */
  trip(): void {
    if (this.stateValue === 'half-open') this.trialInFlight = false;
    this.open();
  }

  /** The call was abandoned (e.g. shutdown) without telling anything about the API's health. */
  cancel(): void {
    if (this.stateValue === 'half-open') this.trialInFlight = false;
  }

  failure(): void {
    if (this.stateValue === 'half-open') {
      this.trialInFlight = false;
      this.open();
      return;
    }
    if (this.stateValue === 'closed' && ++this.failures >= this.failureThreshold) this.open();
  }

  private open(): void {
    this.openedAtMs = this.clock.now().getTime();
    this.transition('open');
  }

  private advance(): void {
    if (this.stateValue === 'open' && this.clock.now().getTime() >= this.openedAtMs + this.openMs) {
      this.transition('half-open');
    }
  }

  private transition(to: BreakerState): void {
    if (to === this.stateValue) return;
    this.stateValue = to;
    this.failures = 0;
    this.successes = 0;
    this.trialInFlight = false;
    this.onStateChange(to);
  }
}
