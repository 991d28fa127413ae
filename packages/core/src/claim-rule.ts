/**
 * The claim rule, written once: an order may be claimed for delivery when it is `pending`, due
 * (`scheduling.next_attempt_at <= now`), before its deadline (`delivery_timestamp > now`) and holds no live
 * lease. The in-memory order store checks it with `isClaimable`; the OpenSearch adapter builds its claim query
 * from `CLAIM_RULE_FIELDS` and `CLAIMABLE_STATUS`. A claim by id (`isClaimableById`) takes only orders that
 * carry no lease at all, so that leases are judged in one place, the claim search, at the `now` its caller
 * gives (the indexer's time for pull claims). Times are compared as instants, like a search's date ranges.
 */
import type { Order, OrderStatus } from './model';

/** The only status an order can be claimed in. */
export const CLAIMABLE_STATUS: OrderStatus = 'pending';

/** Where the claim rule reads each of its conditions in a stored order (dotted paths of the document). */
export const CLAIM_RULE_FIELDS = {
  status: 'command.status',
  /** Due when at or before now. */
  nextAttemptAt: 'scheduling.next_attempt_at',
  /** Claimable only while after now. */
  deadline: 'delivery_timestamp',
  /** A lease is live while this is after now; absent or past: no live lease. */
  leaseExpiresAt: 'scheduling.lease_expires_at',
  /** The order's partition (`partitions.ts`), for claims of a partition's holder. */
  partition: 'scheduling.partition',
} as const;

/**
 * True while a dispatcher holds the order's lease: it may be on its way to the Management API right now.
 * The lifecycle writes and clears `lease_owner` and `lease_expires_at` together; the expiry decides.
 */
export function hasLiveLease(order: Order, nowMs: number): boolean {
  const expiresAt = order.scheduling.lease_expires_at;
  return expiresAt != null && Date.parse(expiresAt) > nowMs;
}

/** The claim rule: pending, due, before its deadline, no live lease. */
export function isClaimable(order: Order, nowMs: number): boolean {
  return (
    order.command.status === CLAIMABLE_STATUS &&
    Date.parse(order.scheduling.next_attempt_at) <= nowMs &&
    Date.parse(order.delivery_timestamp) > nowMs &&
    !hasLiveLease(order, nowMs)
  );
}

/**
 * The claim rule of a claim by id (an order read by id and judged by its reader): `isClaimable`, and no lease
 * at all, lapsed or not. A leased order is left to the claim search, so that a lease is judged in one place,
 * on the time the claimer gives (the indexer's, for pull claims), not by whoever happens to read it by id.
 */
export function isClaimableById(order: Order, nowMs: number): boolean {
  return order.scheduling.lease_expires_at == null && isClaimable(order, nowMs);
}
