/**
 * Pull delivery: servers claim due orders and acknowledge them as sent, instead of receiving them on
 * `/accept_commands` (Wazuh's servers poll the commands index for pending orders and mark them sent).
 *
 * A claim uses the push dispatcher's machinery: the same due rules (`OrderStore.claimDue`: pending, next
 * attempt due, deadline not passed, no live lease), the same per-order lease written conditionally on the
 * order's revision (owner `pull:<consumer>`), and the same rollout control (`ConsumerAdmission`, the
 * scheduler's `admitForConsumer`). So two consumers never hold one order at once, and an order claimed and
 * never acknowledged (a consumer killed mid-batch) is claimable again when its lease lapses. The deadline
 * sweep keeps failing orders past their deadline, leased or not.
 *
 * The clock rule: a lease's expiry is written and judged on the indexer's time (the sidecar passes the
 * clock-skew guard's `serverClock()`: its clock corrected by the skew it measured against OpenSearch), in
 * one place, the claim search. So sidecars whose clocks disagree by a minute still agree on when a lease
 * lapses, to about a second. No other path judges a lease's time: a claim by id skips leased orders, and an
 * ack checks that the order still carries the consumer's lease (nobody claimed it since), not its time.
 *
 * With none due, a claim long-polls: a submission on this sidecar wakes it at once (`wake`, with the new
 * orders' ids, claimed by id because a search would not see them before the next refresh); orders written
 * through other sidecars are found by a search every `pollIntervalMs`. Waiting claims are bounded
 * (`maxWaiters`, TOO_MANY_WAITERS beyond).
 */
import {
  CommandManagerError,
  ErrorCodes,
  MAX_CLAIM_LEASE_MS,
  MAX_CLAIM_SIZE,
  MAX_CLAIM_WAIT_MS,
  MIN_CLAIM_LEASE_MS,
  ResultCodes,
  markFailed,
  markSent,
  noopLogger,
  orderDocumentId,
  systemClock,
  withoutLease,
} from '@command-manager/core';
import type {
  AckInput,
  AckOutcome,
  ClaimAnswer,
  ClaimInput,
  Clock,
  Logger,
  OrderStore,
  PullDeliveryApi,
  StoredOrder,
} from '@command-manager/core';
import type { WakeHint } from './scheduler';
import { noopSchedulerMetrics, SchedulerMetricNames } from './scheduler-metrics';
import type { SchedulerMetrics } from './scheduler-metrics';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';

/** Rollout control of claimed orders (implemented by `Scheduler`). */
export interface ConsumerAdmission {
  /** Returns the claimed orders the consumer may have; fails or defers the others. */
  admitForConsumer(claimed: StoredOrder[], leaseMs: number): Promise<StoredOrder[]>;
  /** The orders are no longer in flight at a consumer (acknowledged or released). */
  consumerDone(ids: readonly string[]): void;
}

export interface PullDeliveryOptions {
  /**
   * How often a waiting claim searches for orders written through other sidecars; default
   * `SCHEDULER_DEFAULTS.pollIntervalMs`.
   */
  pollIntervalMs?: number;
  /** Claims long-polling at once on this sidecar; default `SCHEDULER_DEFAULTS.maxClaimWaiters`. */
  maxWaiters?: number;
  /**
   * Bytes of `command.action.args` one claim answer carries at most; default
   * `SCHEDULER_DEFAULTS.deliveryMaxBytes`. Claims read orders without their args; the answer reads them, as
   * many orders as fit (the rest are released at once, for the next claim). An order whose args alone are
   * larger fails as undeliverable, as in push delivery.
   */
  maxAnswerBytes?: number;
}

export interface PullDeliveryDeps {
  orders: OrderStore;
  admission: ConsumerAdmission;
  clock?: Clock;
  logger?: Logger;
  metrics?: SchedulerMetrics;
  options?: PullDeliveryOptions;
}

/** The lease owner written on orders a consumer holds: apart from sidecar ids, which lease push batches. */
export function consumerLeaseOwner(consumer: string): string {
  return `pull:${consumer}`;
}

/** A hint names at most this many orders to claim by id; a larger submission is found by search. */
const MAX_HINT_ORDERS = MAX_CLAIM_SIZE;

interface Waiter {
  wake(hint: WakeHint | undefined): void;
}

export class PullDelivery implements PullDeliveryApi {
  private readonly orders: OrderStore;
  private readonly admission: ConsumerAdmission;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: SchedulerMetrics;
  private readonly pollIntervalMs: number;
  private readonly maxWaiters: number;
  private readonly maxAnswerBytes: number;
  private readonly waiters = new Set<Waiter>();
  private stopped = false;

  constructor(deps: PullDeliveryDeps) {
    this.orders = deps.orders;
    this.admission = deps.admission;
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'pull-delivery' });
    this.metrics = deps.metrics ?? noopSchedulerMetrics;
    this.pollIntervalMs = Math.max(
      10,
      Math.floor(deps.options?.pollIntervalMs ?? SCHEDULER_DEFAULTS.pollIntervalMs),
    );
    this.maxWaiters = Math.max(0, Math.floor(deps.options?.maxWaiters ?? SCHEDULER_DEFAULTS.maxClaimWaiters));
    this.maxAnswerBytes = Math.max(
      1,
      Math.floor(deps.options?.maxAnswerBytes ?? SCHEDULER_DEFAULTS.deliveryMaxBytes),
    );
  }

  /** Claims long-polling right now. */
  get waiting(): number {
    return this.waiters.size;
  }

  /** A submission on this sidecar wrote orders: every waiting claim looks at once. */
  wake(hint?: WakeHint): void {
    for (const w of [...this.waiters]) w.wake(hint);
  }

  /** Answers every waiting claim (empty unless it already claimed) and refuses to wait from now on. */
  stop(): void {
    this.stopped = true;
    this.wake();
  }

  async claim(input: ClaimInput, options: { signal?: AbortSignal } = {}): Promise<ClaimAnswer> {
    const request = bounded(input);
    const signal = options.signal;
    let claimed = await this.claimOnce(request);
    if (claimed.length === 0 && request.waitMs > 0 && !this.stopped && !signal?.aborted) {
      if (this.waiters.size >= this.maxWaiters) {
        throw new CommandManagerError(
          ErrorCodes.TOO_MANY_WAITERS,
          `${this.waiters.size} claims are already waiting on this sidecar; retry later`,
          { retryAfterSec: 1 },
        );
      }
      claimed = await this.longPoll(request, signal);
    }
    if (claimed.length > 0 && signal?.aborted) {
      // The caller is gone: give its orders back at once rather than when the lease lapses.
      await this.release(claimed);
      claimed = [];
    }
    if (claimed.length > 0) claimed = await this.withArgs(claimed);
    this.metrics.inc(SchedulerMetricNames.PULL_CLAIMS, { result: claimed.length > 0 ? 'orders' : 'empty' });
    if (claimed.length === 0) return { orders: [] };
    this.metrics.inc(SchedulerMetricNames.PULL_ORDERS_CLAIMED, undefined, claimed.length);
    const leaseExpiresAt = claimed[0]?.order.scheduling.lease_expires_at ?? undefined;
    return leaseExpiresAt ? { orders: claimed, leaseExpiresAt } : { orders: claimed };
  }

  private async longPoll(request: ClaimInput, signal: AbortSignal | undefined): Promise<StoredOrder[]> {
    let pendingHint: WakeHint | undefined;
    let woken = false;
    let resolveWait: (() => void) | undefined;
    const waiter: Waiter = {
      wake: (hint) => {
        // A hint that arrives while this claim is busy is kept for its next look.
        if (hint) pendingHint = hint;
        woken = true;
        resolveWait?.();
      },
    };
    const onAbort = (): void => waiter.wake(undefined);
    signal?.addEventListener('abort', onAbort);
    this.waiters.add(waiter);
    this.metrics.set(SchedulerMetricNames.PULL_WAITERS, this.waiters.size);
    // The wait is measured on the monotonic clock: the injected clock may be fixed in tests.
    const endAt = performance.now() + request.waitMs;
    try {
      while (!this.stopped && !signal?.aborted) {
        const remaining = endAt - performance.now();
        if (remaining <= 0) return [];
        if (!woken) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(remaining, this.pollIntervalMs));
            resolveWait = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          resolveWait = undefined;
        }
        woken = false;
        if (this.stopped || signal?.aborted) return [];
        const hint = pendingHint;
        pendingHint = undefined;
        const claimed = await this.claimOnce(request, hint);
        if (claimed.length > 0) return claimed;
      }
      return [];
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.waiters.delete(waiter);
      this.metrics.set(SchedulerMetricNames.PULL_WAITERS, this.waiters.size);
    }
  }

  /**
   * One look: the hinted orders by id first (real time: a just-written order is claimable before any refresh),
   * then a search of the due set. Each claimed order goes through rollout control.
   */
  private async claimOnce(request: ClaimInput, hint?: WakeHint): Promise<StoredOrder[]> {
    const owner = consumerLeaseOwner(request.consumer);
    let claimed: StoredOrder[] = [];
    if (hint) {
      const ids = await this.hintedIds(request, hint);
      if (ids.length > 0) {
        claimed = await this.orders.claimByIds({
          owner,
          leaseMs: request.leaseMs,
          now: this.clock.now(),
          ids,
        });
      }
    }
    if (claimed.length === 0) {
      claimed = await this.orders.claimDue({
        owner,
        leaseMs: request.leaseMs,
        limit: request.size,
        now: this.clock.now(),
        ...(request.target && { target: request.target }),
      });
    }
    if (claimed.length === 0) return [];
    return this.admission.admitForConsumer(claimed, request.leaseMs);
  }

  /** The hinted order ids for this claim: at most `size`, matching its target filter. */
  private async hintedIds(request: ClaimInput, hint: WakeHint): Promise<string[]> {
    if (!Number.isSafeInteger(hint.requestId) || !Number.isSafeInteger(hint.orders)) return [];
    if (hint.orders < 1 || hint.orders > MAX_HINT_ORDERS) return [];
    const ids: string[] = [];
    for (let i = 1; i <= hint.orders; i++) ids.push(orderDocumentId(hint.requestId, i));
    const target = request.target;
    if (!target) return ids.slice(0, request.size);
    const stored = await this.orders.getOrders(ids, { args: false });
    return stored
      .filter((o) => o.order.command.target.type === target.type && o.order.command.target.id === target.id)
      .map((o) => o.id)
      .slice(0, request.size);
  }

  /**
   * The claimed orders with their `command.action.args`, as many as fit in `maxAnswerBytes` (read in one bounded
   * call, `OrderStore.readArgs`). Orders beyond the budget are released for the next claim; an order whose args
   * alone exceed it can never be handed out and fails as undeliverable.
   */
  private async withArgs(claimed: StoredOrder[]): Promise<StoredOrder[]> {
    const read = await this.orders.readArgs({ ids: claimed.map((o) => o.id), maxBytes: this.maxAnswerBytes });
    const tooLarge = new Set(read.tooLarge);
    const answered: StoredOrder[] = [];
    const giveBack: StoredOrder[] = [];
    const undeliverable: StoredOrder[] = [];
    claimed.forEach((stored, index) => {
      const args = read.args.get(stored.id);
      if (tooLarge.has(stored.id)) undeliverable.push(stored);
      else if (index >= read.consumed || args === undefined) giveBack.push(stored);
      else {
        const { command } = stored.order;
        answered.push({
          ...stored,
          order: { ...stored.order, command: { ...command, action: { ...command.action, args } } },
        });
      }
    });
    if (giveBack.length > 0) await this.release(giveBack);
    if (undeliverable.length > 0) await this.failUndeliverable(undeliverable);
    return answered;
  }

  private async failUndeliverable(orders: StoredOrder[]): Promise<void> {
    this.admission.consumerDone(orders.map((o) => o.id));
    const now = this.clock.now();
    const result = {
      code: ResultCodes.UNDELIVERABLE,
      message: `its args are larger than the ${this.maxAnswerBytes} bytes one claim answer may carry`,
    };
    await this.orders.writeConditional(
      orders.map((o) => ({ id: o.id, rev: o.rev, order: markFailed(withoutLease(o.order), result, now) })),
    );
  }

  private async release(claimed: StoredOrder[]): Promise<void> {
    this.admission.consumerDone(claimed.map((o) => o.id));
    try {
      await this.orders.writeConditional(
        claimed.map((o) => ({ id: o.id, rev: o.rev, order: withoutLease(o.order) })),
      );
    } catch (e) {
      // Not released: the leases simply lapse.
      this.logger.warn('could not release the orders of a claim whose caller left', {
        orders: claimed.length,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  async ack(input: AckInput): Promise<AckOutcome[]> {
    if (input.orders.length > MAX_CLAIM_SIZE) {
      throw new CommandManagerError(
        ErrorCodes.BATCH_TOO_LARGE,
        `at most ${MAX_CLAIM_SIZE} orders per ack (got ${input.orders.length})`,
        { details: [{ pointer: '/orders', message: `must have at most ${MAX_CLAIM_SIZE} item(s)` }] },
      );
    }
    const owner = consumerLeaseOwner(input.consumer);
    const ids = [...new Set(input.orders)];
    const outcomes = new Map<string, AckOutcome>();
    let todo = await this.orders.getOrders(ids, { args: false });
    // Two passes: a write that lost a race (a result or a cancel landed between the read and the write) is
    // judged again on the fresh order.
    for (let pass = 0; pass < 2 && todo.length > 0; pass++) {
      const now = this.clock.now();
      const writes: Array<{ id: string; rev: string; order: StoredOrder['order'] }> = [];
      for (const stored of todo) {
        const verdict = judge(stored, owner, now.getTime());
        if (verdict) outcomes.set(stored.id, verdict);
        else writes.push({ id: stored.id, rev: stored.rev, order: markSent(stored.order, now) });
      }
      if (writes.length === 0) break;
      const written = await this.orders.writeConditional(writes);
      const lost: string[] = [];
      for (const w of written) {
        if (w.ok) outcomes.set(w.id, { id: w.id, outcome: 'applied', status: 'sent' });
        else if (w.reason === 'conflict') lost.push(w.id);
        else if (w.reason === 'not_found') outcomes.set(w.id, unknown(w.id));
        else
          throw new CommandManagerError(
            ErrorCodes.STORE_UNAVAILABLE,
            `could not record the ack of order ${w.id}; ack again`,
            { retryAfterSec: 1 },
          );
      }
      todo = lost.length > 0 ? await this.orders.getOrders(lost, { args: false }) : [];
    }
    // Still lost after the second pass: the order keeps changing under us; the consumer may ack again.
    for (const s of todo) {
      if (!outcomes.has(s.id)) {
        outcomes.set(s.id, {
          id: s.id,
          outcome: 'conflict',
          status: s.order.command.status,
          message: 'the order changed while it was acknowledged; ack again',
        });
      }
    }
    const result = ids.map((id) => outcomes.get(id) ?? unknown(id));
    const applied = result.filter((o) => o.outcome === 'applied').map((o) => o.id);
    this.admission.consumerDone(applied);
    for (const o of result) this.metrics.inc(SchedulerMetricNames.PULL_ACKS, { outcome: o.outcome });
    return result;
  }
}

function unknown(id: string): AckOutcome {
  return { id, outcome: 'unknown', message: 'no such order' };
}

/**
 * Why an order cannot be acknowledged by `owner` now; undefined when it can (pending, leased to `owner`, before
 * its deadline). The lease's expiry is not judged here: while the order still carries this consumer's lease,
 * nobody claimed it since (a claim rewrites the owner), so the ack is this consumer's to make, and the write is
 * conditional on the revision read. Only the claim search judges expiry, on the indexer's time.
 */
function judge(stored: StoredOrder, owner: string, nowMs: number): AckOutcome | undefined {
  const { id, order } = stored;
  const status = order.command.status;
  if (status !== 'pending') {
    return { id, outcome: 'conflict', status, message: `the order is ${status}` };
  }
  const s = order.scheduling;
  if (s.lease_owner !== owner) {
    return { id, outcome: 'not_yours', message: 'the order is not leased to this consumer' };
  }
  if (!(Date.parse(order.delivery_timestamp) > nowMs)) {
    return { id, outcome: 'expired', message: 'the order is past its deadline' };
  }
  return undefined;
}

/** Clamps an embedder's input to the bounds the HTTP schema enforces. */
function bounded(input: ClaimInput): ClaimInput {
  const clamp = (v: number, min: number, max: number): number =>
    Math.min(max, Math.max(min, Math.floor(Number.isFinite(v) ? v : min)));
  return {
    ...input,
    size: clamp(input.size, 1, MAX_CLAIM_SIZE),
    leaseMs: clamp(input.leaseMs, MIN_CLAIM_LEASE_MS, MAX_CLAIM_LEASE_MS),
    waitMs: clamp(input.waitMs, 0, MAX_CLAIM_WAIT_MS),
  };
}
