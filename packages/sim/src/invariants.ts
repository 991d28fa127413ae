/**
 * The invariants, checked after every step of a run. Each is a named function of what the run has seen so far
 * (`InvariantView`) that returns a violation, or undefined; `checkInvariants` runs them all in this order.
 */
import { isTerminal } from '@command-manager/core';
import type { LedgerEntry, TerminalChange } from './order-ledger';

export interface Violation {
  invariant: string;
  message: string;
}

/** An order sent by a sidecar while another live sidecar, still holding its partition, was delivering it. */
export interface ConcurrentDelivery {
  orderId: string;
  first: string;
  second: string;
  atMs: number;
}

export interface InvariantView {
  /** Simulated time (ms since the start of the run) and the indexer's clock (ms since the epoch). */
  nowMs: number;
  indexerNowMs: number;
  /** Orders whose deadline (plus `graceMs`) has passed since the last check. */
  overdue: readonly LedgerEntry[];
  graceMs: number;
  concurrentDeliveries: readonly ConcurrentDelivery[];
  terminalChanges: readonly TerminalChange[];
  /** For each live sidecar, the partitions it may use right now. */
  usable: ReadonlyMap<string, readonly number[]>;
  /** Per request with `max_concurrency`: the bound, its sent orders and its pending orders being delivered. */
  concurrency: ReadonlyArray<{ requestId: number; max: number; sent: number; delivering: number }>;
  /** Deliveries of a stopped rollout's orders claimed in a dispatch round that began after the stop. */
  deliveriesAfterStop: ReadonlyArray<{ requestId: number; orderId: string; sender: string; atMs: number }>;
  /** Request ids handed out more than once. */
  reusedRequestIds: readonly number[];
}

/** Every written order ends terminal, or is still live before its deadline (plus the grace of clock bounds). */
export function noOrderLost(v: InvariantView): Violation | undefined {
  const lost = v.overdue.find((e) => !isTerminal(e.status));
  if (!lost) return undefined;
  return {
    invariant: 'noOrderLost',
    message: `order ${lost.id} is ${lost.status} ${v.indexerNowMs - lost.deadlineMs} ms after its deadline (grace ${v.graceMs} ms)`,
  };
}

/**
 * No order is sent while another live sidecar that still holds its partition (its lease renewed within the
 * fence: alive, its clock within bounds) is delivering it.
 */
export function noDoubleDeliveryWhileHolderAlive(v: InvariantView): Violation | undefined {
  const d = v.concurrentDeliveries[0];
  if (!d) return undefined;
  return {
    invariant: 'noDoubleDeliveryWhileHolderAlive',
    message: `order ${d.orderId} delivered by ${d.second} while ${d.first}, alive and holding its partition, was still delivering it`,
  };
}

/** A terminal order never changes (but for a stopped order found delivered after all, once). */
export function noTerminalOrderChanges(v: InvariantView): Violation | undefined {
  const c = v.terminalChanges[0];
  if (!c) return undefined;
  return {
    invariant: 'noTerminalOrderChanges',
    message: `order ${c.id} changed from ${c.before} to ${c.after}`,
  };
}

/** Every partition is usable by at most one live sidecar, as each sidecar judges its own leases. */
export function atMostOneLiveOwner(v: InvariantView): Violation | undefined {
  const users = new Map<number, string>();
  for (const [owner, partitions] of v.usable) {
    for (const p of partitions) {
      const other = users.get(p);
      if (other !== undefined)
        return {
          invariant: 'atMostOneLiveOwner',
          message: `partition ${p} usable by both ${other} and ${owner}`,
        };
      users.set(p, owner);
    }
  }
  return undefined;
}

/** `max_concurrency` (sent + being delivered) is never exceeded; a stopped rollout's orders are not sent again. */
export function rolloutLimitsRespected(v: InvariantView): Violation | undefined {
  const over = v.concurrency.find((c) => c.sent + c.delivering > c.max);
  if (over)
    return {
      invariant: 'rolloutLimitsRespected',
      message: `request ${over.requestId}: ${over.sent} sent + ${over.delivering} being delivered > max_concurrency ${over.max}`,
    };
  const after = v.deliveriesAfterStop[0];
  if (after)
    return {
      invariant: 'rolloutLimitsRespected',
      message: `order ${after.orderId} of stopped request ${after.requestId} delivered by ${after.sender}`,
    };
  return undefined;
}

/** A request id is never handed out twice. */
export function requestIdsNeverReused(v: InvariantView): Violation | undefined {
  const id = v.reusedRequestIds[0];
  if (id === undefined) return undefined;
  return { invariant: 'requestIdsNeverReused', message: `request id ${id} handed out twice` };
}

export const INVARIANTS = [
  noOrderLost,
  noDoubleDeliveryWhileHolderAlive,
  noTerminalOrderChanges,
  atMostOneLiveOwner,
  rolloutLimitsRespected,
  requestIdsNeverReused,
] as const;

export function checkInvariants(v: InvariantView): Violation | undefined {
  for (const invariant of INVARIANTS) {
    const violation = invariant(v);
    if (violation) return violation;
  }
  return undefined;
}
