import type { StoredOrder } from '@command-manager/core';

/** What became of one order in a delivery attempt. */
export type OrderVerdict =
  /** The Management API accepted it (→ `sent`). */
  | { kind: 'accepted' }
  /** The Management API rejected this order (→ `failure`, REJECTED, with its reason). */
  | { kind: 'rejected'; reason: string }
  /** Not delivered, worth retrying (network error, timeout, 5xx, 429, breaker open); `retryAfterMs` from Retry-After. */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /**
   * Not delivered, and the answer was about this order alone (a 4xx other than 401/403/404/408/429 for a
   * batch of one: the client splits larger batches first) (→ `failure`, UNDELIVERABLE or ORDER_TOO_LARGE).
   */
  | { kind: 'failed'; reason: string; httpStatus?: number }
  /**
   * Not delivered, and the answer says nothing about the order: the dispatcher itself was refused (401/403
   * after re-authentication, 404: misconfigured endpoint) or the circuit breaker is open. The order stays
   * pending, its lease is released and no attempt is counted; it is tried again after `retryAfterMs`.
   */
  | { kind: 'halted'; reason: string; retryAfterMs?: number };

/** The order as it travels in `POST /accept_commands` `{"orders":[…]}`. */
export interface AcceptCommandsOrder {
  document_id: string;
  request_id: number;
  order_id: number;
  source: string;
  user: string;
  target: { type: string; id: string };
  action: { name: string; args: Record<string, unknown>; version?: string };
  /** Seconds. */
  timeout: number;
  /** ISO-8601 deadline (`delivery_timestamp`). */
  deadline: string;
}

export interface DeliverOptions {
  /** Aborts the attempt (shutdown); the orders then get a `retry` verdict. */
  signal?: AbortSignal;
}

/** How the scheduler hands orders over. `ManagementApiClient` is the production implementation. */
export interface OrderDelivery {
  /** One verdict per order id given; never throws for delivery problems. */
  deliver(orders: readonly StoredOrder[], options?: DeliverOptions): Promise<Map<string, OrderVerdict>>;
  /**
   * True while deliveries would be refused without trying (circuit breaker open): the scheduler then claims
   * nothing. A delivery without a breaker answers false.
   */
  isBlocked(): boolean;
}

export function toAcceptCommandsOrder(stored: StoredOrder): AcceptCommandsOrder {
  const c = stored.order.command;
  return {
    document_id: stored.id,
    request_id: c.request_id,
    order_id: c.order_id,
    source: c.source,
    user: c.user,
    target: { type: c.target.type, id: c.target.id },
    action: c.action,
    timeout: c.timeout,
    deadline: stored.order.delivery_timestamp,
  };
}
