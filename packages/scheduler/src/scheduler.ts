/**
 * The dispatch pipeline: the poll loop finds due orders of the partitions this sidecar holds (or `wake(hint)`
 * reads a fresh submission's orders by id), rollout control admits them (`max_concurrency`, `max_errors`),
 * they go out in batches to the `OrderDelivery`, and the verdicts are recorded. Maintenance (deadline sweep,
 * retention) runs beside it in a `MaintenanceRunner` started and stopped with the scheduler.
 *
 * Several sidecars share one orders index by partition (`partition-leases.ts`): each order belongs to one
 * partition, and only the holder of a partition's lease takes its orders, so no lease is written on an
 * order. The one write per order is its verdict, conditional on the revision read when it was found: should
 * anything else have changed the order meanwhile (a cancel, a result, a new owner of the partition), the
 * write loses and the order is left as it is. Within the sidecar, `HeldOrders` keeps an order from being
 * taken twice (by two claims, or by a search that still shows it as it was before its verdict).
 */
import {
  CommandManagerError,
  ErrorCodes,
  ResultCodes,
  backoffDelayMs,
  defaultRetryPolicy,
  deliveryDeadline,
  failPendingOrders,
  partitionOfOrder,
  markFailed,
  markSent,
  isClaimableById,
  isStopped,
  markDeliveredAfterStop,
  orderDocumentId,
  scheduleRetry,
  systemClock,
  withoutLease,
  noopLogger,
} from '@command-manager/core';
import type {
  Clock,
  LockStore,
  Logger,
  Order,
  OrderStore,
  RequestRecord,
  RequestStore,
  RetryPolicy,
  StatusCounts,
  StoredOrder,
} from '@command-manager/core';
import type { OrderDelivery, OrderVerdict } from './order-delivery';
import { deliverWithArgs } from './bounded-delivery';
import { noopSchedulerMetrics, SchedulerMetricNames } from './scheduler-metrics';
import type { SchedulerMetrics } from './scheduler-metrics';
import { rolloutLimits } from './internal/rollout';
import type { RolloutLimits } from './internal/rollout';
import { Semaphore } from './internal/semaphore';
import { nonNegative, positive } from './internal/option-values';
import { MaintenanceRunner, EXPIRED_UNDELIVERED_MESSAGE } from './maintenance-runner';
import type { MaintenanceOptions, RetentionSummary, SweepSummary } from './maintenance-runner';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';
import { describeError } from './internal/describe-error';
import type { ClockSkewGuard } from './clock-skew';
import { HeldOrders } from './held-orders';
import { allPartitions } from './partition-leases';
import type { MonotonicClock, PartitionOwnership } from './partition-leases';

/** The dispatch options, and those of the maintenance runner the scheduler builds when it is given none. */
export interface SchedulerOptions extends MaintenanceOptions {
  /** Pause between claim rounds when nothing wakes the scheduler. */
  pollIntervalMs?: number;
  /** Orders per `/accept_commands` call. One claim takes up to `concurrency` batches' worth. */
  batchSize?: number;
  /**
   * `/accept_commands` calls in flight at once. Up to as many batches again are claimed ahead (held in memory,
   * nothing written on them) so that the next deliveries start the moment a call ends.
   */
  concurrency?: number;
  /**
   * How long an order whose verdict this sidecar wrote is not taken again at the revision it was taken at:
   * longer than the orders index's refresh interval (verdicts are written without a refresh).
   */
  searchLagMs?: number;
  /**
   * Orders whose revisions are remembered for `searchLagMs` at most (memory bound); beyond, the oldest are
   * forgotten, and a search still showing one of those as it was before its verdict may hand it out again.
   */
  searchLagMaxOrders?: number;
  /** How long `stop()` lets in-flight batches finish before aborting them (their orders stay pending). */
  shutdownTimeoutMs?: number;
  /** Backoff of retried deliveries; default core's `defaultRetryPolicy`. */
  retryPolicy?: RetryPolicy;
  /** How long an order held back by `max_concurrency` waits before it is due again; default 5 × pollIntervalMs. */
  rolloutDeferMs?: number;
  /**
   * Bytes of args one `/accept_commands` call carries at most; a batch is sent in as many calls as its
   * args need, read just before each (see `bounded-delivery.ts`).
   */
  deliveryMaxBytes?: number;
  /** Randomness of the backoff jitter (tests fix it). */
  random?: () => number;
  /**
   * `push` (default): the poll loop claims due orders and posts them to `/accept_commands`. `pull`: no poll
   * loop (servers claim orders through `PullDelivery`, which uses `admitForConsumer`); the deadline sweep and
   * retention run as in push mode.
   */
  mode?: 'push' | 'pull';
}

export interface SchedulerDeps {
  orders: OrderStore;
  requests: RequestStore;
  locks: LockStore;
  delivery: OrderDelivery;
  /** This sidecar's id (logs, and the owner of the leases of pull consumers' orders). Unique per process. */
  owner: string;
  /**
   * The partitions whose orders this scheduler takes; default every partition of `DEFAULT_PARTITIONS` (a
   * scheduler alone on its index). Sidecars sharing an index pass their `PartitionLeaseManager`.
   */
  partitions?: PartitionOwnership;
  clock?: Clock;
  /**
   * The monotonic clock that times how long a decided order's stale search hits are skipped (`HeldOrders`);
   * default `performance.now`. The simulator drives it in simulated time.
   */
  monotonicClock?: MonotonicClock;
  /**
   * Compares this clock with the indexer's: while they disagree beyond its bound, a failed delivery is
   * retried rather than expired (and the maintenance runner built here skips the deadline sweep).
   */
  clockSkew?: ClockSkewGuard;
  logger?: Logger;
  metrics?: SchedulerMetrics;
  /**
   * Runs the deadline sweep and order retention; started and stopped with the scheduler. Default: one built
   * from `orders`, `locks` and the maintenance options.
   */
  maintenance?: MaintenanceRunner;
  options?: SchedulerOptions;
}

/** What a submission wrote: its orders have the ids `<requestId>-1` … `<requestId>-<orders>`. */
export interface WakeHint {
  requestId: number;
  orders: number;
}

/** What one dispatch round did. */
export interface DispatchSummary {
  claimed: number;
  accepted: number;
  rejected: number;
  /** Failed by a non-retryable answer (4xx). */
  failed: number;
  retried: number;
  /** Failed because the retry would land after the deadline. */
  expired: number;
  /** Held back by `max_concurrency` (still pending). */
  deferred: number;
  rolloutStopped: number;
  leaseLost: number;
  /** Released without a verdict (shutdown). */
  released: number;
  /** Released still pending, no attempt counted: the Management API refused the dispatcher or the breaker is open. */
  halted: number;
}

const ROLLOUT_PAGE_SIZE = 500;
const NO_ROLLOUT_CACHE_MAX = 10_000;
/** Writes of orders this sidecar holds under a live lease: no search needs them at once (see `writePlans`). */
const NOT_SEARCHABLE = { searchable: false } as const;

/** Defaults of the options not in `SCHEDULER_DEFAULTS` are written below, beside what they derive from. */
type Resolved = Required<Omit<SchedulerOptions, 'random' | 'mode' | keyof MaintenanceOptions>> & {
  random: () => number;
  mode: 'push' | 'pull';
};

function resolveOptions(o: SchedulerOptions = {}): Resolved {
  const d = SCHEDULER_DEFAULTS;
  const pollIntervalMs = positive(o.pollIntervalMs, d.pollIntervalMs);
  return {
    pollIntervalMs,
    batchSize: positive(o.batchSize, d.batchSize),
    concurrency: positive(o.concurrency, d.concurrency),
    searchLagMs: nonNegative(o.searchLagMs, d.searchLagMs),
    searchLagMaxOrders: nonNegative(o.searchLagMaxOrders, d.searchLagMaxOrders),
    shutdownTimeoutMs: nonNegative(o.shutdownTimeoutMs, d.shutdownTimeoutMs),
    retryPolicy: o.retryPolicy ?? defaultRetryPolicy,
    rolloutDeferMs: nonNegative(o.rolloutDeferMs, 5 * pollIntervalMs),
    deliveryMaxBytes: positive(o.deliveryMaxBytes, d.deliveryMaxBytes),
    random: o.random ?? Math.random,
    mode: o.mode ?? 'push',
  };
}

function emptySummary(): DispatchSummary {
  return {
    claimed: 0,
    accepted: 0,
    rejected: 0,
    failed: 0,
    retried: 0,
    expired: 0,
    deferred: 0,
    rolloutStopped: 0,
    leaseLost: 0,
    released: 0,
    halted: 0,
  };
}

function addSummary(into: DispatchSummary, from: DispatchSummary): void {
  for (const k of Object.keys(into) as Array<keyof DispatchSummary>) into[k] += from[k];
}

/**
 * Per-round caches of rollout control (see `Scheduler.admit`): request records and status counts are read
 * at most once per request per claim round, so rollout control costs O(requests in the batch) reads.
 */
class RolloutRound {
  readonly records = new Map<number, RequestRecord | undefined>();
  /** sent count + this sidecar's in-flight orders of the request, when first read in this round. */
  readonly busy = new Map<number, number>();
  readonly counts = new Map<number, StatusCounts>();
  /** Orders admitted for delivery in this round, per request. */
  readonly admitted = new Map<number, number>();
  /** Requests with rollout limits among those admitted in this round (see `Batch.searchable`). */
  readonly limited = new Set<number>();
}

/** An order's next state after a delivery verdict, and what kind of outcome it is (for the summary and metrics). */
interface Planned {
  kind: 'accepted' | 'rejected' | 'failed' | 'retried' | 'expired' | 'released' | 'halted';
  order: Order;
}

type PlannedWrite = Planned & { id: string; rev: string; withArgs?: boolean };

interface Batch {
  /** Orders still to deliver, by id (an order whose partition was lost before its delivery is removed). */
  held: Map<string, StoredOrder>;
  summary: DispatchSummary;
  /**
   * The batch holds orders of a request with rollout limits: its verdicts are written searchable, and the
   * batch stays in flight until they are. The next admission of the request counts its `sent` and `failure`
   * orders by search (`countsOf`), beside this sidecar's in-flight ones; a verdict not yet searchable would be
   * in neither.
   */
  searchable: boolean;
}

export class Scheduler {
  private readonly orders: OrderStore;
  private readonly requests: RequestStore;
  private readonly locks: LockStore;
  private readonly delivery: OrderDelivery;
  private readonly owner: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: SchedulerMetrics;
  private readonly opts: Resolved;

  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private loopPromise: Promise<void> | undefined;
  private wakeRequested = false;
  private wakeSleeper: (() => void) | undefined;
  /** Batches held under this sidecar's lease: claimed and not yet recorded (delivering or waiting to). */
  private readonly inFlight = new Set<Promise<DispatchSummary>>();
  /** `/accept_commands` calls in flight (`concurrency`); batches claimed ahead wait here. */
  private readonly deliverySlots: Semaphore;
  /** Claims started by `wake(hint)`, awaited by `stop()`. */
  private readonly hintClaims = new Set<Promise<void>>();
  /** Orders in flight per request id (rollout control). */
  private readonly inFlightByRequest = new Map<number, number>();
  /** Orders leased to pull consumers by this sidecar, counted in `inFlightByRequest` until acked or expired. */
  private readonly consumerHeld = new Map<string, { requestId: number; timer: NodeJS.Timeout }>();
  /** Aborted when `stop()` runs out of patience: in-flight deliveries end, their orders stay pending. */
  private readonly abort = new AbortController();
  /** Requests known to have no rollout limits (their command never changes, so this never goes stale). */
  private readonly noRollout = new Set<number>();
  private readonly maintenance: MaintenanceRunner;
  private readonly clockSkew: ClockSkewGuard | undefined;
  private readonly partitions: PartitionOwnership;
  private readonly heldOrders: HeldOrders;
  /** Where the next search for due orders goes on from (`OrderStore.findDue`); the oldest when unset. */
  private findFrom: string | undefined;

  constructor(deps: SchedulerDeps) {
    if (!deps.owner) throw new TypeError('Scheduler needs a non-empty owner');
    this.orders = deps.orders;
    this.requests = deps.requests;
    this.locks = deps.locks;
    this.delivery = deps.delivery;
    this.owner = deps.owner;
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'scheduler', owner: deps.owner });
    this.metrics = deps.metrics ?? noopSchedulerMetrics;
    this.opts = resolveOptions(deps.options);
    this.deliverySlots = new Semaphore(this.opts.concurrency);
    this.clockSkew = deps.clockSkew;
    this.partitions = deps.partitions ?? allPartitions();
    this.heldOrders = new HeldOrders(
      this.opts.searchLagMs,
      this.opts.searchLagMaxOrders,
      deps.monotonicClock,
    );
    this.maintenance =
      deps.maintenance ??
      new MaintenanceRunner({
        owner: this.owner,
        stores: { orders: this.orders, locks: this.locks },
        clock: this.clock,
        ...(deps.clockSkew && { clockSkew: deps.clockSkew }),
        logger: this.logger,
        metrics: this.metrics,
        ...(deps.options && { options: deps.options }),
      });
  }

  /** Starts the poll loop and the maintenance runner. Calling it again does nothing. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    if (this.opts.mode === 'push') this.loopPromise = this.pollLoop();
    this.maintenance.start();
    this.logger.info('scheduler started', {
      mode: this.opts.mode,
      pollIntervalMs: this.opts.pollIntervalMs,
    });
  }

  /**
   * Wakes the poll loop now (a submission on this sidecar wrote due orders). With a `hint` of at most
   * `batchSize` orders, those of them in partitions this sidecar holds are read by id at once
   * (`OrderStore.getOrders`: real time, no refresh needed) and delivered without waiting for a search to find
   * them; a larger submission, or orders of other partitions, are left to the poll loops' searches.
   */
  wake(hint?: WakeHint): void {
    if (this.opts.mode === 'pull') return;
    if (hint && this.claimHinted(hint)) return;
    this.wakeLoop();
  }

  private wakeLoop(): void {
    this.wakeRequested = true;
    const sleeper = this.wakeSleeper;
    if (sleeper) {
      this.wakeSleeper = undefined;
      sleeper();
    }
  }

  /**
   * Graceful stop, idempotent: stops claiming, lets in-flight batches finish within `shutdownTimeoutMs`,
   * then aborts the rest (their orders stay pending, no attempt counted) and waits for the
   * maintenance runner (whose retention releases the `retention` lock).
   */
  stop(): Promise<void> {
    if (!this.stopPromise) this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.wakeLoop();
    await Promise.all([this.maintenance.stop(), this.loopPromise, ...this.hintClaims]);
    this.consumerDone([...this.consumerHeld.keys()]);
    if (this.inFlight.size > 0) {
      const finished = await waitAll([...this.inFlight], this.opts.shutdownTimeoutMs);
      if (!finished) {
        this.logger.warn('shutdown timeout: aborting in-flight deliveries (their orders stay pending)', {
          batches: this.inFlight.size,
        });
        this.abort.abort();
        // Deliveries honour the abort at once; should one not, its orders go to the partitions' next holders.
        const released = await waitAll([...this.inFlight], Math.max(1000, this.opts.shutdownTimeoutMs));
        if (!released) this.logger.error('in-flight batches did not end after abort');
      }
    }
    this.logger.info('scheduler stopped');
  }

  /**
   * One dispatch round, awaited to the end: claims due orders (up to `2 × concurrency` batches held at once),
   * delivers them (`concurrency` calls at once) and records the verdicts. The poll loop runs the same round without awaiting deliveries.
   */
  async dispatchDue(): Promise<DispatchSummary> {
    const summary = emptySummary();
    await this.claimRound(summary);
    for (const r of await Promise.all([...this.inFlight])) addSummary(summary, r);
    return summary;
  }

  /** The maintenance runner's deadline sweep, run now. */
  sweepDeadlines(): Promise<SweepSummary> {
    return this.maintenance.sweepDeadlines();
  }

  /** The maintenance runner's order retention, run now. */
  runRetention(): Promise<RetentionSummary> {
    return this.maintenance.runRetention();
  }

  /**
   * While the store fails (OpenSearch down), rounds back off with the retry policy (capped exponential with
   * jitter) instead of hammering it, and its log, every poll interval; recovery is logged once. A wake ends
   * a back-off early: a submission just wrote to the store, so it answers again.
   */
  private async pollLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let delayMs = this.opts.pollIntervalMs;
      try {
        await this.claimRound(emptySummary());
        if (failures > 0) this.logger.info('claim rounds succeed again', { failedRounds: failures });
        failures = 0;
      } catch (e) {
        failures += 1;
        delayMs = Math.max(
          this.opts.pollIntervalMs,
          backoffDelayMs(failures, this.opts.retryPolicy, this.opts.random),
        );
        const meta = { error: describeError(e), failures, backoffMs: delayMs };
        if (failures === 1) this.logger.error('claim round failed', meta);
        else this.logger.warn('claim round failed', meta);
      }
      if (this.stopping) break;
      await this.sleep(delayMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleeper = undefined;
        resolve();
      }, ms);
      this.wakeSleeper = () => {
        clearTimeout(timer);
        this.wakeRequested = false;
        resolve();
      };
    });
  }

  /** Batches held at once: `concurrency` delivering plus as many claimed ahead. */
  private get maxHeld(): number {
    return 2 * this.opts.concurrency;
  }

  /**
   * Claims while there is room and due work; each batch is delivered in the background. One claim (one search
   * of the partitions held, nothing written) takes every free batch's worth at once and splits it; claiming
   * ahead of the deliveries keeps the next batches ready while the current ones are on the wire or being
   * recorded, so claims, deliveries and verdict writes overlap instead of taking turns.
   */
  private async claimRound(summary: DispatchSummary): Promise<void> {
    const round = new RolloutRound();
    while (!this.stopping) {
      const free = this.maxHeld - this.inFlight.size;
      if (free <= 0) return;
      // While batches are held, claim only once a whole claim's worth (`concurrency` batches) is free: the
      // held batches keep the deliveries busy meanwhile, and each search then reads a full answer. A search
      // costs OpenSearch a pass over every due order of the partitions whatever its size, so claiming batch
      // by batch as each one ends made twice as many searches for the same orders.
      if (this.inFlight.size > 0 && free < this.opts.concurrency) return;
      // An open breaker would refuse the batch anyway: do not churn through orders that cannot go out.
      if (this.delivery.isBlocked()) return;
      const partitions = this.partitions.usable();
      if (partitions.length === 0) return;
      // At most `concurrency` batches per claim: bounds what one search answer holds. The search goes on from
      // where the last one stopped, so that it does not read again the orders being delivered (they still
      // match until their verdicts are searchable); at the end of the due orders it starts again from the
      // oldest, where retries that came due since are.
      const limit = Math.min(free, this.opts.concurrency) * this.opts.batchSize;
      const found = await this.orders.findDue({
        limit,
        now: this.clock.now(),
        partitions,
        args: true,
        ...(this.findFrom !== undefined && { after: this.findFrom }),
      });
      this.findFrom = found.next;
      const claimed = await this.confirmHandedOver(this.heldOrders.take(found.orders, limit));
      summary.claimed += claimed.length;
      // Only orders this sidecar holds or has just decided: go on from the next place, if any.
      if (claimed.length === 0) {
        if (found.next === undefined) return;
        continue;
      }
      const admitted = await this.admitHeld(claimed, round, summary);
      this.launchBatches(admitted, round);
      if (found.next === undefined) return;
      // Only held-back or stopped orders: the rest of the due set may be more of the same saturated
      // request; wait for the next poll instead of churning through it.
      if (admitted.length === 0) return;
    }
  }

  /**
   * Orders of a partition taken from another sidecar less than `searchLagMs` ago are read again by id (real
   * time) before they go out: the search may still show one as it was before its former owner's verdict,
   * which this sidecar's `HeldOrders` knows nothing of. Those changed since are dropped (and remembered at the
   * revision the search showed, like this sidecar's own).
   */
  private async confirmHandedOver(claimed: StoredOrder[]): Promise<StoredOrder[]> {
    const handedOverAgo = this.partitions.handedOverAgoMs?.bind(this.partitions);
    if (!handedOverAgo || claimed.length === 0) return claimed;
    const recent = claimed.filter((o) => {
      const ago = handedOverAgo(partitionOfOrder(o.order));
      return ago !== undefined && ago < this.opts.searchLagMs;
    });
    if (recent.length === 0) return claimed;
    let current: Map<string, string>;
    try {
      const read = await this.orders.getOrders(
        recent.map((o) => o.id),
        { args: false },
      );
      current = new Map(read.filter((o) => o.order.command.status === 'pending').map((o) => [o.id, o.rev]));
    } catch (e) {
      // Unconfirmed: not delivered now; the next search finds them again.
      this.heldOrders.release(recent);
      this.logger.warn('could not confirm orders of a partition just taken over', {
        error: describeError(e),
      });
      const unconfirmed = new Set(recent.map((o) => o.id));
      return claimed.filter((o) => !unconfirmed.has(o.id));
    }
    const stale = recent.filter((o) => current.get(o.id) !== o.rev);
    if (stale.length === 0) return claimed;
    this.heldOrders.release(stale);
    const dropped = new Set(stale.map((o) => o.id));
    return claimed.filter((o) => !dropped.has(o.id));
  }

  /**
   * The fast path of `wake(hint)`: claims a small submission's orders by id and launches them. Returns false
   * when the hint does not apply (the caller then wakes the loop instead). Runs beside the poll loop: both may
   * go for the same orders, and the conditional lease write lets exactly one of them have each.
   */
  private claimHinted(hint: WakeHint): boolean {
    if (
      !this.started ||
      this.stopping ||
      !Number.isSafeInteger(hint.requestId) ||
      !Number.isSafeInteger(hint.orders) ||
      hint.orders < 1 ||
      hint.orders > this.opts.batchSize ||
      this.inFlight.size >= this.maxHeld ||
      this.delivery.isBlocked()
    ) {
      return false;
    }
    const ids: string[] = [];
    for (let i = 1; i <= hint.orders; i++) ids.push(orderDocumentId(hint.requestId, i));
    const p: Promise<void> = (async () => {
      const nowMs = this.clock.now().getTime();
      const read = await this.orders.getOrders(ids, { args: false });
      const claimed = this.heldOrders.take(
        read.filter(
          (o) => isClaimableById(o.order, nowMs) && this.partitions.holds(partitionOfOrder(o.order)),
        ),
      );
      if (claimed.length > 0) {
        const round = new RolloutRound();
        const admitted = await this.admitHeld(claimed, round, emptySummary());
        this.launchBatches(admitted, round);
      }
      // Orders not taken here (not written after all, of another partition, not due) are the search's business.
      if (claimed.length < ids.length) this.wakeLoop();
    })()
      .catch((e: unknown) => {
        this.logger.warn('claim by id failed; falling back to the search', { error: describeError(e) });
        this.wakeLoop();
      })
      .finally(() => this.hintClaims.delete(p));
    this.hintClaims.add(p);
    return true;
  }

  /**
   * Rollout control for orders a pull consumer just claimed (leased to it): the same rules as push dispatch
   * (`admit`). Returns the orders the consumer may have; the others were failed (rollout stopped) or released
   * and deferred (`max_concurrency`). Admitted orders count as in flight of their request, as a push batch
   * does, until `consumerDone` (their ack) or the end of their lease.
   */
  async admitForConsumer(claimed: StoredOrder[], leaseMs: number): Promise<StoredOrder[]> {
    if (claimed.length === 0) return [];
    const admitted = await this.admit(claimed, new RolloutRound(), emptySummary());
    for (const o of admitted) {
      this.consumerDone([o.id]);
      const requestId = o.order.command.request_id;
      bump(this.inFlightByRequest, requestId, 1);
      const timer = setTimeout(() => this.consumerDone([o.id]), leaseMs);
      timer.unref();
      this.consumerHeld.set(o.id, { requestId, timer });
    }
    return admitted;
  }

  /** Orders a pull consumer acknowledged (or gave up): no longer in flight for rollout control. */
  consumerDone(ids: readonly string[]): void {
    for (const id of ids) {
      const held = this.consumerHeld.get(id);
      if (!held) continue;
      clearTimeout(held.timer);
      this.consumerHeld.delete(id);
      bump(this.inFlightByRequest, held.requestId, -1);
    }
  }

  /** `admit` for orders this sidecar holds: those not admitted (deferred, stopped) are released at once. */
  private async admitHeld(
    claimed: StoredOrder[],
    round: RolloutRound,
    summary: DispatchSummary,
  ): Promise<StoredOrder[]> {
    let admitted: StoredOrder[] = [];
    try {
      admitted = await this.admit(claimed, round, summary);
      return admitted;
    } finally {
      const launched = new Set(admitted.map((o) => o.id));
      this.heldOrders.release(claimed.filter((o) => !launched.has(o.id)));
    }
  }

  private launchBatches(orders: StoredOrder[], round: RolloutRound): void {
    for (let i = 0; i < orders.length; i += this.opts.batchSize) {
      this.launch(orders.slice(i, i + this.opts.batchSize), round);
    }
  }

  private launch(orders: StoredOrder[], round: RolloutRound): void {
    let searchable = false;
    for (const o of orders) {
      const requestId = o.order.command.request_id;
      bump(this.inFlightByRequest, requestId, 1);
      if (round.limited.has(requestId)) searchable = true;
    }
    const batch: Batch = {
      held: new Map(orders.map((o) => [o.id, o])),
      summary: emptySummary(),
      searchable,
    };
    const p: Promise<DispatchSummary> = this.processBatch(batch)
      .catch((e: unknown) => {
        this.logger.error('batch failed', { error: describeError(e), orders: orders.length });
        return batch.summary;
      })
      .finally(() => {
        this.heldOrders.release(orders);
        for (const o of orders) bump(this.inFlightByRequest, o.order.command.request_id, -1);
        this.inFlight.delete(p);
        // Room freed: claim again at once rather than after the poll interval.
        if (!this.stopping) this.wakeLoop();
      });
    this.inFlight.add(p);
  }

  // ---------------------------------------------------------------------------------------------------
  // Rollout control
  //
  // A request's record may carry `max_concurrency` (orders sent but not terminal, plus orders being
  // delivered) and `max_errors` (a count or a percentage of its orders). The scheduler applies both when
  // it has just claimed a batch, request by request:
  //  1. Read the record once per claim round (records without limits are remembered for good, since a
  //     request's command never changes, so most requests cost one read in the scheduler's lifetime).
  //  2. If the rollout is already stopped (`rollout_stopped_at`), the claimed orders fail (ROLLOUT_STOPPED).
  //  3. With `max_errors`: read the request's status counts (once per round). If failures > budget, stop
  //     the rollout: set `rollout_stopped_at` on the record, fail the claimed orders, and fail every other
  //     pending order of the request that no one is delivering right now (a live lease of another sidecar
  //     is left to its holder, which either delivers it — it was already on its way — or, on retry, puts
  //     it back as pending where the next claim fails it).
  //  4. With `max_concurrency`: room = max − (sent + this sidecar's in-flight orders of the request, read
  //     once per round) − orders admitted since in this round. The first `room` orders go out; the rest are
  //     released and deferred by `rolloutDeferMs` (not counted as attempts) so other requests' orders get
  //     claimed meanwhile.
  // Deliberate approximations: orders in flight at OTHER sidecars are not counted (they are still
  // `pending`), so with N sidecars a request may briefly have up to N batches beyond its bound in flight;
  // and a budget is checked when orders are claimed, so failures reported while no order of the request is
  // due stop the rollout at the next claim of one of its orders.
  // ---------------------------------------------------------------------------------------------------

  private async admit(
    claimed: StoredOrder[],
    round: RolloutRound,
    summary: DispatchSummary,
  ): Promise<StoredOrder[]> {
    const byRequest = new Map<number, StoredOrder[]>();
    for (const o of claimed) {
      const r = o.order.command.request_id;
      const list = byRequest.get(r);
      if (list) list.push(o);
      else byRequest.set(r, [o]);
    }
    const admitted: StoredOrder[] = [];
    const deferred: StoredOrder[] = [];
    for (const [requestId, list] of byRequest) {
      const limits = await this.limitsOf(requestId, round);
      if (!limits) {
        admitted.push(...list);
        continue;
      }
      let stopReason: string | undefined = limits.stopped ? 'rollout stopped' : undefined;
      if (!stopReason && limits.errorBudget !== undefined) {
        const counts = await this.countsOf(requestId, round);
        if (counts.failure > limits.errorBudget) {
          stopReason = `rollout stopped: ${counts.failure} failures exceed the error budget of ${limits.errorBudget}`;
          await this.markRolloutStopped(requestId, round);
        }
      }
      if (stopReason) {
        summary.rolloutStopped += await this.stopOrders(list, stopReason, true);
        const record = round.records.get(requestId);
        if (!limits.stopped && record)
          summary.rolloutStopped += await this.stopPendingOfRequest(record, stopReason);
        continue;
      }
      round.limited.add(requestId);
      if (limits.maxConcurrency !== undefined) {
        await this.countsOf(requestId, round);
        const busy = (round.busy.get(requestId) ?? 0) + (round.admitted.get(requestId) ?? 0);
        const room = Math.max(0, limits.maxConcurrency - busy);
        admitted.push(...list.slice(0, room));
        deferred.push(...list.slice(room));
        bump(round.admitted, requestId, Math.min(room, list.length));
        continue;
      }
      admitted.push(...list);
    }
    if (deferred.length > 0) summary.deferred += await this.deferOrders(deferred);
    return admitted;
  }

  private async limitsOf(requestId: number, round: RolloutRound): Promise<RolloutLimits | undefined> {
    if (this.noRollout.has(requestId)) return undefined;
    if (!round.records.has(requestId)) {
      const record = await this.requests.getRequest(requestId);
      round.records.set(requestId, record);
      const limits = rolloutLimits(record);
      // A record that is still being written may not be readable yet; only remember definite answers.
      if (record && !limits) {
        if (this.noRollout.size >= NO_ROLLOUT_CACHE_MAX) this.noRollout.clear();
        this.noRollout.add(requestId);
      }
      return limits;
    }
    return rolloutLimits(round.records.get(requestId));
  }

  private async countsOf(requestId: number, round: RolloutRound): Promise<StatusCounts> {
    const cached = round.counts.get(requestId);
    if (cached) return cached;
    // Snapshot in-flight BEFORE counting: a batch finishing in between is then counted twice (safe side).
    const inFlight = this.inFlightByRequest.get(requestId) ?? 0;
    const counts = await this.orders.countByStatus({ requestId });
    round.counts.set(requestId, counts);
    round.busy.set(requestId, counts.sent + inFlight);
    return counts;
  }

  private async markRolloutStopped(requestId: number, round: RolloutRound): Promise<void> {
    // Re-read: the record's writer may have updated it since the round started (last writer wins).
    const record = (await this.requests.getRequest(requestId)) ?? round.records.get(requestId);
    if (!record || record.rollout_stopped_at != null) return;
    const stopped: RequestRecord = { ...record, rollout_stopped_at: this.clock.now().toISOString() };
    await this.requests.putRequest(stopped);
    round.records.set(requestId, stopped);
    this.logger.warn('rollout stopped: error budget spent', { requestId });
  }

  /** Fails orders with ROLLOUT_STOPPED; `leased` says whether this sidecar holds their lease. Returns how many. */
  private async stopOrders(orders: readonly StoredOrder[], reason: string, leased: boolean): Promise<number> {
    if (orders.length === 0) return 0;
    const now = this.clock.now();
    const outcomes = await this.orders.writeConditional(
      orders.map((o) => ({
        id: o.id,
        rev: o.rev,
        order: markFailed(o.order, { code: ResultCodes.ROLLOUT_STOPPED, message: reason }, now),
      })),
    );
    const ok = outcomes.filter((r) => r.ok).length;
    if (leased && ok < orders.length)
      this.logger.debug('rollout stop lost races', { lost: orders.length - ok });
    this.metrics.inc(SchedulerMetricNames.ROLLOUT_STOPPED, undefined, ok);
    return ok;
  }

  private async stopPendingOfRequest(record: RequestRecord, reason: string): Promise<number> {
    // Orders in flight elsewhere are left to their holder (see `admit`).
    const { failed } = await failPendingOrders(
      this.orders,
      record,
      { code: ResultCodes.ROLLOUT_STOPPED, message: reason },
      { clock: this.clock, pageSize: ROLLOUT_PAGE_SIZE, maxWriteAttempts: 1 },
    );
    this.metrics.inc(SchedulerMetricNames.ROLLOUT_STOPPED, undefined, failed);
    return failed;
  }

  private async deferOrders(orders: readonly StoredOrder[]): Promise<number> {
    const nextAttempt = new Date(this.clock.now().getTime() + this.opts.rolloutDeferMs).toISOString();
    const outcomes = await this.orders.writeConditional(
      orders.map((o) => {
        const order = withoutLease(o.order);
        order.scheduling.next_attempt_at = nextAttempt;
        return { id: o.id, rev: o.rev, order };
      }),
      // A stale search hit shows the order still leased by us (not claimable) until the next refresh.
      NOT_SEARCHABLE,
    );
    return outcomes.filter((r) => r.ok).length;
  }

  // ---------------------------------------------------------------------------------------------------
  // Delivery of one batch
  // ---------------------------------------------------------------------------------------------------

  private async processBatch(batch: Batch): Promise<DispatchSummary> {
    const { held, summary } = batch;
    let verdicts: Map<string, OrderVerdict>;
    let args = new Map<string, Record<string, unknown>>();
    await this.deliverySlots.acquire();
    try {
      // A batch claimed ahead may have waited for its slot: orders of a partition lost meanwhile are left
      // to its new holder.
      for (const [id, o] of held) {
        if (this.partitions.holds(partitionOfOrder(o.order))) continue;
        held.delete(id);
        this.leaseLost(id, summary, 'before delivery');
      }
      if (held.size === 0) return summary;
      this.metrics.inc(SchedulerMetricNames.DISPATCHED, undefined, held.size);
      // After a shutdown abort, a batch still waiting for its slot is not sent (its orders stay pending).
      if (this.abort.signal.aborted) {
        verdicts = new Map([...held.keys()].map((id) => [id, { kind: 'retry', reason: 'shutdown' }]));
      } else {
        ({ verdicts, args } = await deliverWithArgs(this.orders, this.delivery, [...held.values()], {
          signal: this.abort.signal,
          maxBytes: this.opts.deliveryMaxBytes,
        }));
      }
    } catch (e) {
      // OrderDelivery promises not to throw for delivery problems; treat anything else as retryable.
      verdicts = new Map([...held.keys()].map((id) => [id, { kind: 'retry', reason: describeError(e) }]));
    } finally {
      this.deliverySlots.release();
    }
    const now = this.clock.now();
    const aborted = this.abort.signal.aborted;
    const plans = new Map<string, (order: Order) => Planned>();
    for (const id of held.keys()) {
      const verdict = verdicts.get(id) ?? { kind: 'retry', reason: 'no verdict for this order' };
      plans.set(id, (order) => this.applyVerdict(order, verdict, now, aborted));
    }
    await this.writePlans(held, plans, summary, args, now, batch.searchable);
    return summary;
  }

  /** The order after a verdict. Retries past the deadline fail now rather than wait for the sweeper. */
  private applyVerdict(order: Order, verdict: OrderVerdict, now: Date, aborted: boolean): Planned {
    switch (verdict.kind) {
      case 'accepted':
        return { kind: 'accepted', order: markSent(order, now) };
      case 'rejected':
        return {
          kind: 'rejected',
          order: markFailed(order, { code: ResultCodes.REJECTED, message: verdict.reason }, now),
        };
      case 'failed':
        return {
          kind: 'failed',
          order: markFailed(
            order,
            {
              code: verdict.httpStatus === 413 ? ResultCodes.ORDER_TOO_LARGE : ResultCodes.UNDELIVERABLE,
              message: verdict.reason,
            },
            now,
          ),
        };
      case 'halted': {
        // Nothing is known about the order: it stays pending (the sweeper fails it at its deadline), its
        // lease is released and no attempt is counted; it is due again when the breaker lets a trial through.
        const released = withoutLease(order);
        if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > 0)
          released.scheduling.next_attempt_at = new Date(now.getTime() + verdict.retryAfterMs).toISOString();
        return { kind: 'halted', order: released };
      }
      case 'retry': {
        // A shutdown abort says nothing about the order: release the lease, count no attempt.
        if (aborted) return { kind: 'released', order: withoutLease(order) };
        const backoff = backoffDelayMs(
          order.scheduling.attempts + 1,
          this.opts.retryPolicy,
          this.opts.random,
        );
        // Retry-After is honoured as a lower bound: never earlier than the server asked.
        const delayMs = Math.max(backoff, verdict.retryAfterMs ?? 0);
        // A clock too far from the indexer's does not judge deadlines: the order is retried, and a sidecar
        // whose clock agrees (or this one, once it does) fails it at its deadline.
        const enforced = this.clockSkew?.withinBound() ?? true;
        if (enforced && now.getTime() + delayMs >= deliveryDeadline(order)) {
          const message = `${EXPIRED_UNDELIVERED_MESSAGE}: ${verdict.reason}`;
          return {
            kind: 'expired',
            order: markFailed(order, { code: ResultCodes.EXPIRED_UNDELIVERED, message }, now),
          };
        }
        return { kind: 'retried', order: scheduleRetry(order, now, delayMs, verdict.reason) };
      }
    }
  }

  /**
   * Writes each held order's new state conditionally on the revision it was taken at. A conflict is
   * resolved by re-reading: an order no longer pending was decided elsewhere (a result that raced the `sent`
   * write, a cancel, the sweeper) and is left as it is, except an order the Management API accepted that a
   * stop (cancel, rollout stop) failed meanwhile: it did go out, so it is written `sent` after all
   * (`markDeliveredAfterStop`). One still pending was written by another dispatcher (its partition changed
   * hands), which owns it now.
   */
  private async writePlans(
    held: Map<string, StoredOrder>,
    plans: Map<string, (order: Order) => Planned>,
    summary: DispatchSummary,
    args: ReadonlyMap<string, Record<string, unknown>>,
    now: Date,
    searchable: boolean,
  ): Promise<void> {
    const writes: PlannedWrite[] = [];
    for (const [id, stored] of held) {
      const plan = plans.get(id);
      if (!plan) continue;
      const planned = plan(stored.order);
      // A release that changes nothing (no lease was written on the order, no later attempt asked for) is
      // not written: the order stays as it is, at the revision it was taken at.
      if (isUnchangedRelease(planned, stored.order)) {
        this.count(
          { id, rev: stored.rev, kind: planned.kind, order: planned.order, withArgs: false },
          summary,
          now,
        );
        continue;
      }
      // With its stored args the order replaces the document whole (cheaper for the store than a merge).
      // An order claimed with its args carries them already; one read without them gets them attached.
      const storedArgs = args.get(id);
      if (storedArgs !== undefined && planned.order.command.action.args !== storedArgs)
        planned.order.command = {
          ...planned.order.command,
          action: { ...planned.order.command.action, args: storedArgs },
        };
      writes.push({
        id,
        rev: stored.rev,
        kind: planned.kind,
        order: planned.order,
        withArgs: storedArgs !== undefined,
      });
    }
    if (writes.length === 0) return;
    // Verdicts need not be searchable at once (the store skips the refresh): until the next refresh a search
    // still returns the order as it was taken, which `HeldOrders` skips. Reads by id see them at once. Those
    // of a request with rollout limits must be (see `Batch.searchable`).
    const outcomes = await this.orders.writeConditional(writes, searchable ? {} : NOT_SEARCHABLE);
    const delivered: Array<{ id: string; rev: string; order: Order; write: PlannedWrite }> = [];
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i];
      const write = writes[i];
      if (!outcome || !write) continue;
      if (outcome.ok) {
        this.count(write, summary, now);
        continue;
      }
      if (outcome.reason === 'error') {
        // The store failed this write: the order stays as it was and is taken again once due.
        this.logger.error('could not record a delivery verdict', {
          orderId: write.id,
          message: outcome.message,
        });
        continue;
      }
      const fresh = outcome.reason === 'not_found' ? undefined : await this.orders.getOrder(write.id);
      if (fresh && write.kind === 'accepted' && isStopped(fresh.order)) {
        const order = markDeliveredAfterStop(
          fresh.order,
          write.order.scheduling.sent_at ? new Date(write.order.scheduling.sent_at) : this.clock.now(),
        );
        delivered.push({ id: write.id, rev: fresh.rev, order, write });
        continue;
      }
      if (!fresh || fresh.order.command.status !== 'pending') {
        this.logger.debug('order decided elsewhere while in flight', {
          orderId: write.id,
          status: fresh?.order.command.status ?? 'deleted',
        });
        continue;
      }
      this.leaseLost(write.id, summary, 'verdict write');
    }
    if (delivered.length === 0) return;
    const second = await this.orders.writeConditional(
      delivered.map(({ id, rev, order }) => ({ id, rev, order })),
    );
    second.forEach((outcome, i) => {
      const d = delivered[i];
      if (!d) return;
      if (outcome.ok) {
        this.count(d.write, summary, now);
        this.logger.warn('an order stopped while the Management API accepted it is recorded as sent', {
          orderId: d.id,
        });
      } else this.logger.debug('order decided elsewhere while in flight', { orderId: d.id });
    });
  }

  /** Counts a verdict written; `sentAt`: when the batch's verdicts were decided (an accepted order's `sent_at`). */
  private count(write: PlannedWrite, summary: DispatchSummary, sentAt: Date): void {
    switch (write.kind) {
      case 'accepted': {
        summary.accepted++;
        this.metrics.inc(SchedulerMetricNames.ACCEPTED);
        const submittedAt = Date.parse(write.order['@timestamp']);
        if (Number.isFinite(submittedAt)) {
          this.metrics.observe(
            SchedulerMetricNames.SUBMIT_TO_ACCEPTED_SECONDS,
            Math.max(0, sentAt.getTime() - submittedAt) / 1000,
          );
        }
        return;
      }
      case 'rejected':
        summary.rejected++;
        this.metrics.inc(SchedulerMetricNames.REJECTED, { reason: 'rejected' });
        return;
      case 'failed':
        summary.failed++;
        this.metrics.inc(SchedulerMetricNames.REJECTED, { reason: 'http_4xx' });
        return;
      case 'expired':
        summary.expired++;
        this.metrics.inc(SchedulerMetricNames.EXPIRED, { kind: 'undelivered' });
        return;
      case 'retried':
        summary.retried++;
        this.metrics.inc(SchedulerMetricNames.RETRIED);
        return;
      case 'released':
        summary.released++;
        return;
      case 'halted':
        summary.halted++;
        return;
    }
  }

  private leaseLost(orderId: string, summary: DispatchSummary, during: string): void {
    summary.leaseLost++;
    this.metrics.inc(SchedulerMetricNames.LEASE_LOSSES);
    const error = new CommandManagerError(
      ErrorCodes.LEASE_LOST,
      `the partition of order ${orderId} passed to another sidecar`,
    );
    this.logger.warn(error.message, { code: error.code, orderId, during });
  }

  // ---------------------------------------------------------------------------------------------------
  // Deadlines
  // ---------------------------------------------------------------------------------------------------
}

/** A `released` or `halted` verdict that leaves the order exactly as it was stored. */
function isUnchangedRelease(planned: Planned, before: Order): boolean {
  if (planned.kind !== 'released' && planned.kind !== 'halted') return false;
  const was = before.scheduling;
  const now = planned.order.scheduling;
  return (
    now.lease_owner === was.lease_owner &&
    now.lease_expires_at === was.lease_expires_at &&
    now.next_attempt_at === was.next_attempt_at &&
    planned.order.command.status === before.command.status
  );
}

function bump(map: Map<number, number>, key: number, by: number): void {
  const v = (map.get(key) ?? 0) + by;
  if (v === 0) map.delete(key);
  else map.set(key, v);
}

/** Resolves true if every promise settles within `ms`, false otherwise (the timer never outlives it). */
async function waitAll(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
