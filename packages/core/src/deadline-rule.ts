/**
 * What happens to an order past its deadline (`delivery_timestamp`): a verdict, or a later deadline. Pure;
 * the deadline sweep (scheduler's maintenance runner) applies it with conditional writes.
 *
 * Two times bound an order: `timeout` (the agent's time to execute once it has the order; the first deadline
 * is `@timestamp` + `timeout`) and the delivery window (`delivery_window_s`, default `timeout`; its end is
 * `scheduling.delivery_window_ends_at`, or the first deadline when the command has none). Whether the agent
 * is online is what the agents index says now (`agent.status`; see `AgentPresence`): the sweep looks the
 * agents of its overdue orders up in one batch.
 *
 *   pending, window not over           → deadline moved to the window's end (it stays claimable)
 *   pending, window over               → AGENT_OFFLINE if its agent is offline (and never seen back), else
 *                                        EXPIRED_UNDELIVERED
 *   sent, agent offline, window open   → deadline moved to min(window end, now + timeout); `agent_offline_at`
 *   sent, agent offline, window over   → AGENT_OFFLINE, unless it was seen back once (then NO_RESULT_IN_TIME)
 *   sent, agent online after being seen
 *        offline (and not seen back)   → deadline moved to now + timeout (its time to execute from its return);
 *                                        `agent_back_at`
 *   sent, otherwise                    → NO_RESULT_IN_TIME
 *
 * So an agent offline at every check of its order until the window ends fails AGENT_OFFLINE; checks come at
 * most `timeout` apart, and an agent seen back gets between `timeout` and twice it to report. Without a
 * delivery window (or with one equal to `timeout`) the window ends at the first deadline: nothing is
 * postponed, and an offline agent's order fails AGENT_OFFLINE instead of EXPIRED_UNDELIVERED or
 * NO_RESULT_IN_TIME. A server target, or an agent the index does not know, counts as online.
 */
import { markFailed } from './lifecycle';
import type { Order, OrderResult } from './model';
import { ResultCodes } from './model';

/** What the agents index says of an order's agent: `offline` when its `agent.status` is an offline one. */
export type AgentPresence = 'online' | 'offline' | 'unknown';

export const EXPIRED_UNDELIVERED_MESSAGE = 'expired undelivered';
export const NO_RESULT_IN_TIME_MESSAGE = 'no result came in time';
export const AGENT_OFFLINE_MESSAGE = 'agent offline for the whole delivery window';

/** Wazuh's agent statuses that mean the agent is not connected (default of the sweep's offline set). */
export const DEFAULT_OFFLINE_AGENT_STATUSES: readonly string[] = ['disconnected', 'never_connected'];

export type OverdueVerdict =
  | { kind: 'fail'; code: number; order: Order }
  | { kind: 'postpone'; order: Order }
  | { kind: 'none' };

/** The end of an order's delivery window (epoch ms). */
export function deliveryWindowEnd(order: Order): number {
  const end = Date.parse(order.scheduling.delivery_window_ends_at ?? '');
  return Number.isFinite(end) ? end : Date.parse(order.delivery_timestamp);
}

/**
 * The last moment a `pending` order may still be delivered (epoch ms): its deadline, or its delivery
 * window's end when that is later (the sweep moves the deadline there). Dispatch fails a retry that would land
 * after it.
 */
export function deliveryDeadline(order: Order): number {
  return Math.max(Date.parse(order.delivery_timestamp), deliveryWindowEnd(order));
}

/** Whether the verdict on this overdue order depends on its agent's presence (the sweep looks those up). */
export function needsPresence(order: Order, now: Date): boolean {
  if (order.command.target.type !== 'agent') return false;
  return order.command.status === 'sent' || now.getTime() >= deliveryWindowEnd(order);
}

/** The verdict on an order whose deadline has passed (`delivery_timestamp <= now`). */
export function overdueVerdict(order: Order, presence: AgentPresence, now: Date): OverdueVerdict {
  const status = order.command.status;
  if (status !== 'pending' && status !== 'sent') return { kind: 'none' };
  const nowMs = now.getTime();
  const windowEnd = deliveryWindowEnd(order);
  const windowOpen = nowMs < windowEnd;
  const seenBack = Boolean(order.scheduling.agent_back_at);
  const offline = presence === 'offline';
  if (status === 'pending') {
    if (windowOpen) return postpone(order, windowEnd);
    return offline && !seenBack
      ? fail(order, ResultCodes.AGENT_OFFLINE, AGENT_OFFLINE_MESSAGE, now)
      : fail(order, ResultCodes.EXPIRED_UNDELIVERED, EXPIRED_UNDELIVERED_MESSAGE, now);
  }
  const timeoutMs = order.command.timeout * 1000;
  if (offline && !seenBack) {
    if (!windowOpen) return fail(order, ResultCodes.AGENT_OFFLINE, AGENT_OFFLINE_MESSAGE, now);
    const next = postpone(order, Math.min(windowEnd, nowMs + timeoutMs));
    next.order.scheduling.agent_offline_at ??= now.toISOString();
    return next;
  }
  if (!offline && order.scheduling.agent_offline_at && !seenBack) {
    const next = postpone(order, nowMs + timeoutMs);
    next.order.scheduling.agent_back_at = now.toISOString();
    return next;
  }
  return fail(order, ResultCodes.NO_RESULT_IN_TIME, NO_RESULT_IN_TIME_MESSAGE, now);
}

function fail(order: Order, code: number, message: string, now: Date): OverdueVerdict {
  const result: OrderResult = { code, message };
  return { kind: 'fail', code, order: markFailed(order, result, now) };
}

function postpone(order: Order, deadlineMs: number): { kind: 'postpone'; order: Order } {
  return {
    kind: 'postpone',
    order: {
      ...order,
      delivery_timestamp: new Date(deadlineMs).toISOString(),
      scheduling: { ...order.scheduling },
    },
  };
}
