/**
 * The order lifecycle as pure functions. Each takes the current time and returns a NEW order (the input is
 * never mutated); an illegal transition throws `CommandManagerError(INVALID_TRANSITION)`.
 *
 * Legal transitions:
 *   pending → sent      delivered to the Management API's `/accept_commands`
 *   pending → failure   expired, cancelled, undeliverable, rollout stopped
 *   sent    → success   result from the Comms API
 *   sent    → failure   result from the Comms API, or no result before the deadline
 * A terminal order (`success`, `failure`) never changes again.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { CommandRequest, Order, OrderResult, OrderStatus, Target } from './model';
import { ResultCodes, TERMINAL_STATUSES, orderDocumentId } from './model';
import { DEFAULT_PARTITIONS, orderPartition } from './partitions';

const LEGAL: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['sent', 'failure'],
  sent: ['success', 'failure'],
  success: [],
  failure: [],
};

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return LEGAL[from].includes(to);
}

function assertTransition(order: Order, to: OrderStatus): void {
  const from = order.command.status;
  if (!canTransition(from, to)) {
    throw new CommandManagerError(
      ErrorCodes.INVALID_TRANSITION,
      `order ${order.command.request_id}-${order.command.order_id}: ${from} → ${to} is not a legal transition`,
    );
  }
}

/** A copy deep enough that changing `command` or `scheduling` of the copy never touches the original. */
function copy(order: Order): Order {
  return {
    ...order,
    agent: { ...order.agent, groups: [...order.agent.groups] },
    command: { ...order.command },
    scheduling: { ...order.scheduling },
  };
}

function withStatus(order: Order, status: OrderStatus): Order {
  const next = copy(order);
  next.command.status = status;
  return next;
}

/** pending → sent: the Management API accepted the order. Records `sent_at` and releases the lease. */
export function markSent(order: Order, now: Date): Order {
  assertTransition(order, 'sent');
  const next = withStatus(order, 'sent');
  next.scheduling.sent_at = now.toISOString();
  next.scheduling.lease_owner = null;
  next.scheduling.lease_expires_at = null;
  return next;
}

/** Result codes of a stop (cancel, rollout stop): a failure written on an order that was still pending. */
const STOP_CODES: ReadonlySet<number> = new Set([ResultCodes.CANCELLED, ResultCodes.ROLLOUT_STOPPED]);

/** Whether `order` was failed by a stop (cancel, rollout stop) rather than by its delivery or its agent. */
export function isStopped(order: Order): boolean {
  return order.command.status === 'failure' && STOP_CODES.has(order.command.result?.code ?? -1);
}

/**
 * failure → sent for an order a stop failed while the Management API was accepting it (a dispatcher writes
 * nothing on the orders it is delivering, so a stop cannot see them): the order did go out, so it says so,
 * and its agent's result is applied when it comes. The stop's answer counted it as stopped.
 */
export function markDeliveredAfterStop(order: Order, now: Date): Order {
  if (!isStopped(order)) {
    throw new CommandManagerError(
      ErrorCodes.INVALID_TRANSITION,
      `order ${order.command.request_id}-${order.command.order_id}: only a stopped order can be found delivered after its stop`,
    );
  }
  const next = withStatus(order, 'sent');
  next.command.result = null;
  next.scheduling.sent_at = now.toISOString();
  next.scheduling.completed_at = null;
  next.scheduling.last_error = `delivered while being stopped (${order.command.result?.message ?? 'stopped'})`;
  return next;
}

/** pending|sent → failure with the given result (expired, cancelled, rejected, no result in time …). */
export function markFailed(order: Order, result: OrderResult, now: Date): Order {
  assertTransition(order, 'failure');
  const next = withStatus(order, 'failure');
  next.command.result = { ...result };
  next.scheduling.completed_at = now.toISOString();
  next.scheduling.lease_owner = null;
  next.scheduling.lease_expires_at = null;
  return next;
}

/**
 * Applies a result reported by the Comms API: sent → success|failure.
 *
 * Race: the scheduler writes `sent` only AFTER `/accept_commands` answered. The server may hand the order to
 * the agent and the agent may report back before that write lands, so a result can arrive for an order that
 * is still `pending` but is being delivered right now. The dispatcher writes nothing on an order it is
 * delivering (its partition's lease says who delivers), so the document cannot tell such an order from one
 * not yet handed out: a result for a `pending` order is taken, passing through `sent` (`sent_at` = now) to
 * the reported status; the scheduler's later `sent` write then loses its conditional write and re-reads (it
 * finds a terminal order and leaves it). Any change to a terminal order is illegal.
 */
export function applyResult(
  order: Order,
  report: { status: 'success' | 'failure'; result: OrderResult },
  now: Date,
): Order {
  let current = order;
  const status = order.command.status;
  if (status === 'pending') {
    current = markSent(order, now);
  } else if (status !== 'sent') {
    throw new CommandManagerError(
      ErrorCodes.INVALID_TRANSITION,
      `order ${order.command.request_id}-${order.command.order_id}: cannot apply a ${report.status} result to a ${status} order`,
    );
  }
  assertTransition(current, report.status);
  const next = withStatus(current, report.status);
  next.command.result = { ...report.result };
  next.scheduling.completed_at = now.toISOString();
  next.scheduling.lease_owner = null;
  next.scheduling.lease_expires_at = null;
  return next;
}

/** Sets the dispatch lease (claimed by `owner` until `expiresAt`). Status is unchanged. */
export function withLease(order: Order, owner: string, expiresAt: Date): Order {
  const next = copy(order);
  next.scheduling.lease_owner = owner;
  next.scheduling.lease_expires_at = expiresAt.toISOString();
  return next;
}

/** Releases the dispatch lease. Status is unchanged. */
export function withoutLease(order: Order): Order {
  const next = copy(order);
  next.scheduling.lease_owner = null;
  next.scheduling.lease_expires_at = null;
  return next;
}

/**
 * A delivery attempt failed in a retryable way: the order stays `pending`, counts the attempt, waits `delayMs`
 * (see `backoffDelayMs`) and releases its lease so any sidecar may pick it up when due.
 */
export function scheduleRetry(order: Order, now: Date, delayMs: number, error: string): Order {
  if (order.command.status !== 'pending') {
    throw new CommandManagerError(
      ErrorCodes.INVALID_TRANSITION,
      `order ${order.command.request_id}-${order.command.order_id}: cannot retry a ${order.command.status} order`,
    );
  }
  const next = copy(order);
  next.scheduling.attempts = order.scheduling.attempts + 1;
  next.scheduling.next_attempt_at = new Date(now.getTime() + Math.max(0, delayMs)).toISOString();
  next.scheduling.last_error = error;
  next.scheduling.lease_owner = null;
  next.scheduling.lease_expires_at = null;
  return next;
}

export interface NewOrderParams {
  command: CommandRequest;
  requestId: number;
  orderId: number;
  /** The final destination (an agent for a group command; the command's own target otherwise). */
  target: Target;
  /** `agent.groups` of the order: the agent's groups, or the target group. */
  groups: string[];
  /** The authenticated principal that submitted the request. */
  principal: string;
  now: Date;
  /** Partitions of the orders stream (default `DEFAULT_PARTITIONS`); see `orderPartition`. */
  partitions?: number;
  /**
   * End of the command's delivery window, for an order created after its request (a live group's joiner):
   * the window runs from the request's submission. Default: `now` + `delivery_window_s`.
   */
  windowEndsAt?: Date;
}

// Expansion builds every order of a request with the same `now`; `toISOString` costs microseconds, a
// noticeable share of expanding a 100,000-agent group (bench/expansion.bench.ts), so the last few are kept.
const isoCache = new Map<number, string>();
function isoOf(ms: number): string {
  let iso = isoCache.get(ms);
  if (iso === undefined) {
    if (isoCache.size >= 8) isoCache.clear();
    iso = new Date(ms).toISOString();
    isoCache.set(ms, iso);
  }
  return iso;
}

/**
 * A fresh `pending` order, due now, with its deadline (`delivery_timestamp`) `timeout` seconds from now and,
 * when the command has a delivery window, that window's end (`scheduling.delivery_window_ends_at`).
 */
export function newOrder(params: NewOrderParams): Order {
  const { command, now } = params;
  const nowIso = isoOf(now.getTime());
  const action: Order['command']['action'] = { name: command.action.name, args: command.action.args };
  if (command.action.version !== undefined) action.version = command.action.version;
  const order = newPendingOrder(params, nowIso, action);
  if (command.delivery_window_s !== undefined) {
    const end = params.windowEndsAt?.getTime() ?? now.getTime() + command.delivery_window_s * 1000;
    order.scheduling.delivery_window_ends_at = isoOf(end);
  }
  return order;
}

function newPendingOrder(params: NewOrderParams, nowIso: string, action: Order['command']['action']): Order {
  const { command, now } = params;
  return {
    '@timestamp': nowIso,
    delivery_timestamp: isoOf(now.getTime() + command.timeout * 1000),
    agent: { groups: [...params.groups] },
    command: {
      source: command.source,
      user: command.user,
      target: { type: params.target.type, id: params.target.id },
      action,
      timeout: command.timeout,
      status: 'pending',
      result: null,
      request_id: params.requestId,
      order_id: params.orderId,
    },
    scheduling: {
      principal: params.principal,
      attempts: 0,
      next_attempt_at: nowIso,
      partition: orderPartition(
        params.requestId,
        orderDocumentId(params.requestId, params.orderId),
        params.partitions ?? DEFAULT_PARTITIONS,
        command.max_concurrency !== undefined || command.max_errors !== undefined,
      ),
      lease_owner: null,
      lease_expires_at: null,
      sent_at: null,
      completed_at: null,
      last_error: null,
    },
  };
}
