/**
 * "Fail the pending orders of a request": the one operation behind a cancel (`cancel-request.ts`, result
 * CANCELLED) and the scheduler's rollout stop (result ROLLOUT_STOPPED). Orders in flight (a live lease,
 * see claim-rule.ts) are left to their holder.
 */
import { hasLiveLease } from './claim-rule';
import { markFailed } from './lifecycle';
import { orderDocumentId } from './model';
import type { OrderResult, StoredOrder } from './model';
import type { Clock, OrderStore } from './ports';

export interface FailPendingOptions {
  clock: Clock;
  /** Orders read per page; default 500. */
  pageSize?: number;
  /** Conditional write rounds per page when racing other writers; default 3. */
  maxWriteAttempts?: number;
  /** Called for a write the store failed (not a lost race). */
  onWriteError?: (id: string, message: string | undefined) => void;
}

export interface FailPendingOutcome {
  /** Orders moved from `pending` to `failure` with the given result. */
  failed: number;
  /**
   * Pending orders left alone because a dispatcher held their lease (in flight): the Management API may be
   * accepting them at this very moment, so failing them could contradict the agent's result. Each ends
   * `sent` (then `success`/`failure` from its agent) or, if its delivery fails, returns to `pending` (or
   * expires) like any other order.
   */
  inFlight: number;
}

/** The request whose pending orders are failed: its id and how many orders its expansion produced. */
export interface PendingOrdersOf {
  request_id: number;
  total_orders: number;
}

/**
 * Fails the pending orders of one request (cancel, rollout stop) with `result`, conditionally: an order that
 * changed meanwhile is re-read, and failed only if it is still pending and not in flight.
 *
 * The orders are read by their ids (`<request_id>-1` … `<request_id>-<total_orders>`), not searched: a read by
 * id sees an order as soon as it is written, while a search sees it only after the next refresh, so a cancel
 * sent right after the submission would miss the orders it most needs to stop. Ids that were never written
 * (a `partial` write) are simply absent. Pages are written without waiting for them to become searchable,
 * except the last one (whose refresh makes the earlier pages searchable too), so a request of N pages costs
 * one refresh, not N.
 */
export async function failPendingOrders(
  store: OrderStore,
  request: PendingOrdersOf,
  result: OrderResult,
  options: FailPendingOptions,
): Promise<FailPendingOutcome> {
  const size = Math.max(1, options.pageSize ?? 500);
  const attempts = options.maxWriteAttempts ?? 3;
  const outcome: FailPendingOutcome = { failed: 0, inFlight: 0 };
  const total = request.total_orders;
  for (let first = 1; first <= total; first += size) {
    const last = Math.min(total, first + size - 1);
    const ids: string[] = [];
    for (let orderId = first; orderId <= last; orderId++)
      ids.push(orderDocumentId(request.request_id, orderId));
    const page = await store.getOrders(ids, { args: false });
    await failPage(store, page, result, options, attempts, last === total, outcome);
  }
  return outcome;
}

async function failPage(
  store: OrderStore,
  items: readonly StoredOrder[],
  result: OrderResult,
  options: FailPendingOptions,
  attempts: number,
  last: boolean,
  outcome: FailPendingOutcome,
): Promise<void> {
  let todo = items.filter((s) => s.order.command.status === 'pending');
  for (let attempt = 1; todo.length > 0 && attempt <= attempts; attempt++) {
    const now = options.clock.now();
    const free: StoredOrder[] = [];
    for (const s of todo) {
      if (hasLiveLease(s.order, now.getTime())) outcome.inFlight++;
      else free.push(s);
    }
    if (free.length === 0) return;
    const outcomes = await store.writeConditional(
      free.map((s) => ({ id: s.id, rev: s.rev, order: markFailed(s.order, result, now) })),
      last ? {} : { searchable: false },
    );
    const lost: string[] = [];
    for (const o of outcomes) {
      if (o.ok) outcome.failed++;
      else if (o.reason === 'conflict') lost.push(o.id);
      else if (o.reason === 'error') options.onWriteError?.(o.id, o.message);
    }
    // A lost race (the scheduler leased, sent or failed it): still a candidate only while it is pending.
    todo =
      lost.length > 0
        ? (await store.getOrders(lost, { args: false })).filter((s) => s.order.command.status === 'pending')
        : [];
  }
}
