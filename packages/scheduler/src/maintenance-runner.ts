/**
 * Maintenance, apart from the dispatch hot path (as pg-boss runs its maintenance in `boss.ts`, apart from
 * fetching in `manager.ts`). Each task given runs on its own timer until `stop()`:
 * - deadline sweep (with `stores`): fails orders past their deadline, or moves the deadline of those still in
 *   their delivery window (core's `deadline-rule.ts`; agents' presence from `agents`), at start and every
 *   `sweepIntervalMs`;
 * - order retention (with `stores`): archives or deletes old terminal orders, one sidecar at a time (lock
 *   `retention`), at start and every `retentionIntervalMs`;
 * - request retention (with `requestRetention`): expired idempotency keys and request records, at start and
 *   every `retentionIntervalMs`, in every sidecar (a delete repeated by two sidecars is harmless);
 * - audit retention (with `auditRetention`): audit records older than their retention, at start and every
 *   `retentionIntervalMs`, in every sidecar (a delete repeated by two sidecars is harmless);
 * - stale-write check (with `staleWrites`): marks partial the requests whose writer died mid fan-out (a
 *   killed sidecar), every `staleWrites.intervalMs`, whichever sidecar looks first;
 * - live membership (with `membership`, a `MembershipPoller`): orders for agents that joined live groups,
 *   every `membership.intervalMs`, one sidecar at a time (lock `membership`).
 *
 * The scheduler builds one with its stores when it is given none; the sidecar builds one with every task
 * and hands it to its scheduler, or runs it alone when it does not dispatch.
 */
import {
  ResultCodes,
  isTerminal,
  needsPresence,
  noopLogger,
  overdueVerdict,
  systemClock,
} from '@command-manager/core';
import type {
  AgentPresence,
  Clock,
  ConditionalWrite,
  LockStore,
  Logger,
  OrderStore,
  StoredOrder,
} from '@command-manager/core';
import type { AgentPresenceSource } from './agent-presence';
import { noopSchedulerMetrics, SchedulerMetricNames } from './scheduler-metrics';
import type { SchedulerMetrics } from './scheduler-metrics';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';
import { describeError } from './internal/describe-error';
import { nonNegative, positive } from './internal/option-values';
import { Ticker } from './internal/ticker';
import type { ClockSkewGuard } from './clock-skew';

export interface MaintenanceOptions {
  /** Period of the deadline sweep. */
  sweepIntervalMs?: number;
  /** Overdue orders read per sweep round. */
  sweepBatchSize?: number;
  /** Terminal orders completed longer ago than this are archived or deleted. */
  retentionMs?: number;
  /** Period of order and request retention. */
  retentionIntervalMs?: number;
  /** `archive` copies to the archive index then deletes; `delete` only deletes. */
  retentionMode?: 'archive' | 'delete';
  /** Orders per retention page. */
  retentionPageSize?: number;
  /** TTL of the `retention` lock, renewed after each page. */
  retentionLockTtlMs?: number;
}

export interface MaintenanceDeps {
  /** Lease owner of the `retention` lock. */
  owner: string;
  /** The orders and locks the deadline sweep and order retention work on; without them neither runs. */
  stores?: { orders: OrderStore; locks: LockStore };
  /**
   * Whether the agents of overdue orders are online (the agents index); without it every agent counts as
   * online, so no order fails AGENT_OFFLINE.
   */
  agents?: AgentPresenceSource;
  /** Request retention (core's `RequestRetention`); without it none runs. */
  requestRetention?: { run(): Promise<unknown> };
  /** Audit retention (the OpenSearch audit log's `removeExpired`); without it none runs. */
  auditRetention?: { run(): Promise<unknown> };
  /** The stale-write check (core's `CommandService.markStaleWrites`) and its period; without it none runs. */
  staleWrites?: { check(): Promise<unknown>; intervalMs: number };
  /** The live-membership poller (`membership-poller.ts`) and its period; without it none runs. */
  membership?: { poll(): Promise<unknown>; intervalMs: number };
  clock?: Clock;
  /** Without it deadlines are always enforced; with it, only while this clock agrees with the indexer's. */
  clockSkew?: ClockSkewGuard;
  logger?: Logger;
  metrics?: SchedulerMetrics;
  options?: MaintenanceOptions;
}

export interface SweepSummary {
  expiredUndelivered: number;
  noResultInTime: number;
  /** Overdue orders that changed under the sweep (e.g. a late result); left alone. */
  conflicts: number;
  /** Orders failed AGENT_OFFLINE (present when some were). */
  agentOffline?: number;
  /** Orders still in their delivery window whose deadline was moved later (present when some were). */
  postponed?: number;
  /** Present when the sweep did not run: this sidecar's clock is too far from the indexer's. */
  skipped?: 'clock_skew';
}

export interface RetentionSummary {
  /** False when another sidecar holds the `retention` lock. */
  ran: boolean;
  removed: number;
  conflicts: number;
}

export const RETENTION_LOCK = 'retention';
export { EXPIRED_UNDELIVERED_MESSAGE, NO_RESULT_IN_TIME_MESSAGE } from '@command-manager/core';

const MAX_SWEEP_ROUNDS = 100;
const MAX_RETENTION_PAGES = 1000;

type Resolved = Required<MaintenanceOptions>;

function resolveOptions(o: MaintenanceOptions = {}): Resolved {
  const d = SCHEDULER_DEFAULTS;
  return {
    sweepIntervalMs: positive(o.sweepIntervalMs, d.sweepIntervalMs),
    sweepBatchSize: positive(o.sweepBatchSize, d.sweepBatchSize),
    retentionMs: nonNegative(o.retentionMs, d.retentionMs),
    retentionIntervalMs: positive(o.retentionIntervalMs, d.retentionIntervalMs),
    retentionMode: o.retentionMode ?? d.retentionMode,
    retentionPageSize: positive(o.retentionPageSize, d.retentionPageSize),
    retentionLockTtlMs: positive(o.retentionLockTtlMs, d.retentionLockTtlMs),
  };
}

export class MaintenanceRunner {
  private readonly deps: MaintenanceDeps;
  private readonly owner: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: SchedulerMetrics;
  private readonly opts: Resolved;
  private readonly tickers: Ticker[] = [];
  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;

  constructor(deps: MaintenanceDeps) {
    this.deps = deps;
    this.owner = deps.owner;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? noopLogger;
    this.metrics = deps.metrics ?? noopSchedulerMetrics;
    this.opts = resolveOptions(deps.options);
    if (deps.stores) {
      this.tickers.push(
        new Ticker(
          this.opts.sweepIntervalMs,
          () => this.sweepDeadlines(),
          this.onTaskError('deadline sweep'),
        ),
        new Ticker(this.opts.retentionIntervalMs, () => this.runRetention(), this.onTaskError('retention')),
      );
    }
    for (const [name, task] of [
      ['request retention', deps.requestRetention],
      ['audit retention', deps.auditRetention],
    ] as const) {
      if (!task) continue;
      this.tickers.push(
        new Ticker(
          this.opts.retentionIntervalMs,
          () => task.run(),
          (e) =>
            this.logger.warn(`${name} failed; retried at the next interval`, {
              error: describeError(e),
            }),
          { unref: true },
        ),
      );
    }
    const staleWrites = deps.staleWrites;
    if (staleWrites) {
      this.tickers.push(
        new Ticker(
          staleWrites.intervalMs,
          () => staleWrites.check(),
          (e) => this.logger.warn('could not check for interrupted writes', { error: describeError(e) }),
          { runAtStart: false, unref: true },
        ),
      );
    }
    const membership = deps.membership;
    if (membership) {
      this.tickers.push(
        new Ticker(
          membership.intervalMs,
          () => membership.poll(),
          (e) => this.logger.warn('live membership round failed', { error: describeError(e) }),
        ),
      );
    }
  }

  /** Starts every task. Calling it again does nothing. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    for (const t of this.tickers) t.start();
  }

  /** Stops every task and waits for runs in progress (retention releases its lock). Idempotent. */
  stop(): Promise<void> {
    if (!this.stopPromise) {
      this.stopping = true;
      this.stopPromise = Promise.all(this.tickers.map((t) => t.stop())).then(() => undefined);
    }
    return this.stopPromise;
  }

  /**
   * Judges every order past its deadline with core's `overdueVerdict`: `pending` → failure EXPIRED_UNDELIVERED,
   * `sent` → failure NO_RESULT_IN_TIME, an offline agent's order → failure AGENT_OFFLINE once its delivery
   * window is over, and an order still in its window gets a later deadline. Bulk conditional writes; an order
   * that changed meanwhile (e.g. its result just came in) is skipped. Nothing is failed while the clock-skew
   * guard says this clock is too far from the indexer's (`skipped`).
   */
  async sweepDeadlines(): Promise<SweepSummary> {
    const { orders } = this.stores();
    const summary: SweepSummary = { expiredUndelivered: 0, noResultInTime: 0, conflicts: 0 };
    if (this.deps.clockSkew && !(await this.deps.clockSkew.allowsDeadlines()))
      return { ...summary, skipped: 'clock_skew' };
    const now = this.clock.now();
    let agentOffline = 0;
    let postponed = 0;
    for (let round = 0; round < MAX_SWEEP_ROUNDS && !this.stopping; round++) {
      const overdue = await orders.findOverdue(now, this.opts.sweepBatchSize);
      if (overdue.length === 0) break;
      const lookup = overdue.filter((o) => needsPresence(o.order, now));
      const presence = await this.presenceOf(lookup);
      const writes: ConditionalWrite[] = [];
      const codes: Array<number | undefined> = [];
      for (const o of overdue) {
        // The agents index could not be read: an order whose verdict depends on it waits for the next sweep.
        if (presence === undefined && lookup.includes(o)) continue;
        const target = o.order.command.target;
        const verdict = overdueVerdict(
          o.order,
          target.type === 'agent' ? (presence?.get(target.id) ?? 'unknown') : 'unknown',
          now,
        );
        if (verdict.kind === 'none') continue;
        writes.push({ id: o.id, rev: o.rev, order: verdict.order });
        codes.push(verdict.kind === 'fail' ? verdict.code : undefined);
      }
      const outcomes = await orders.writeConditional(writes);
      let written = 0;
      outcomes.forEach((outcome, i) => {
        if (i >= writes.length) return;
        if (!outcome.ok) {
          summary.conflicts++;
          return;
        }
        written++;
        const code = codes[i];
        if (code === undefined) postponed++;
        else if (code === ResultCodes.EXPIRED_UNDELIVERED) {
          summary.expiredUndelivered++;
          this.metrics.inc(SchedulerMetricNames.EXPIRED, { kind: 'undelivered' });
        } else if (code === ResultCodes.AGENT_OFFLINE) {
          agentOffline++;
          this.metrics.inc(SchedulerMetricNames.EXPIRED, { kind: 'agent_offline' });
        } else {
          summary.noResultInTime++;
          this.metrics.inc(SchedulerMetricNames.EXPIRED, { kind: 'no_result' });
        }
      });
      // A full page of conflicts would come back unchanged: stop instead of spinning.
      if (overdue.length < this.opts.sweepBatchSize || written === 0) break;
    }
    if (agentOffline > 0) summary.agentOffline = agentOffline;
    if (postponed > 0) summary.postponed = postponed;
    if (summary.expiredUndelivered + summary.noResultInTime + agentOffline > 0) {
      this.logger.info('deadline sweep failed overdue orders', { ...summary });
    }
    return summary;
  }

  /**
   * Archives or deletes terminal orders completed more than `retentionMs` ago, in one sidecar at a time
   * (lease-lock `retention`, renewed after each page, released at the end). Pending and sent orders are
   * never touched: the store only returns terminal ones, and each is checked again here before removal.
   */
  async runRetention(): Promise<RetentionSummary> {
    const { orders, locks } = this.stores();
    const summary: RetentionSummary = { ran: false, removed: 0, conflicts: 0 };
    const ttl = this.opts.retentionLockTtlMs;
    if (!(await locks.acquire(RETENTION_LOCK, this.owner, ttl, this.clock.now()))) return summary;
    summary.ran = true;
    try {
      const before = new Date(this.clock.now().getTime() - this.opts.retentionMs);
      let cursor: string | undefined;
      for (let pages = 0; pages < MAX_RETENTION_PAGES && !this.stopping; pages++) {
        const size = this.opts.retentionPageSize;
        const page = await orders.findTerminalBefore(
          before,
          cursor === undefined ? { size } : { size, cursor },
        );
        const eligible = page.items.filter((o) => {
          const completed = Date.parse(o.order.scheduling.completed_at ?? '');
          return (
            isTerminal(o.order.command.status) && Number.isFinite(completed) && completed < before.getTime()
          );
        });
        if (eligible.length > 0) {
          const outcomes = await orders.removeOrders(eligible, this.opts.retentionMode);
          const removed = outcomes.filter((r) => r.ok).length;
          summary.removed += removed;
          summary.conflicts += outcomes.length - removed;
          this.metrics.inc(SchedulerMetricNames.RETAINED, { mode: this.opts.retentionMode }, removed);
        }
        cursor = page.cursor;
        if (cursor === undefined) break;
        if (!(await locks.acquire(RETENTION_LOCK, this.owner, ttl, this.clock.now()))) {
          this.logger.warn('retention lock lost; stopping this run');
          break;
        }
      }
    } finally {
      await locks.release(RETENTION_LOCK, this.owner);
    }
    if (summary.removed > 0) {
      this.logger.info('retention removed terminal orders', { ...summary, mode: this.opts.retentionMode });
    }
    return summary;
  }

  /** Presence of the agents of `orders`; undefined when the agents index could not be read (logged). */
  private async presenceOf(orders: readonly StoredOrder[]): Promise<Map<string, AgentPresence> | undefined> {
    if (!this.deps.agents || orders.length === 0) return new Map();
    try {
      return await this.deps.agents.presence(orders.map((o) => o.order.command.target.id));
    } catch (e) {
      this.logger.warn('could not read the agents of overdue orders; those orders wait for the next sweep', {
        error: describeError(e),
      });
      return undefined;
    }
  }

  private stores(): { orders: OrderStore; locks: LockStore } {
    if (!this.deps.stores) throw new TypeError('this maintenance runner has no order stores');
    return this.deps.stores;
  }

  private onTaskError(task: string): (e: unknown) => void {
    return (e) => this.logger.error(`${task} failed`, { error: describeError(e) });
  }
}
