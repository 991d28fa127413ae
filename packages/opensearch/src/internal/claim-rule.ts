import type { Order } from '@command-manager/core';

/**
 * The claim rule of `claimDue`, checked in code for `claimByIds` (which reads by id instead of searching):
 * pending, `next_attempt_at <= now`, deadline (`delivery_timestamp`) after `now`, and no live lease (none,
 * or `lease_expires_at <= now`). Times are compared as instants, like the search's date ranges.
 */
export function isClaimable(order: Order, nowMs: number): boolean {
  const s = order.scheduling;
  if (order.command.status !== 'pending') return false;
  if (!(Date.parse(s.next_attempt_at) <= nowMs)) return false;
  if (!(Date.parse(order.delivery_timestamp) > nowMs)) return false;
  return s.lease_expires_at == null || Date.parse(s.lease_expires_at) <= nowMs;
}
