/**
 * What the dispatcher holds between finding an order and recording its verdict, so that without a lease
 * written on each order it still never takes an order twice:
 * - `held`: orders of batches claimed and not yet recorded. A search (or a claim by id) running meanwhile
 *   still finds them `pending`; they are skipped.
 * - `spent`: the revision each order had when it was taken, for `searchLagMs` after its batch ended. The
 *   verdict is written without a refresh, so until the index refreshes a search still returns the order as
 *   it was, with that revision: such a hit is skipped; a hit with another revision (the order changed since,
 *   e.g. its retry came due) is fresh.
 * Times are read from a monotonic clock: the lag is the index's refresh, which runs in real time.
 */
import type { StoredOrder } from '@command-manager/core';
import type { MonotonicClock } from './partition-leases';
import { systemMonotonicClock } from './partition-leases';

export class HeldOrders {
  private readonly held = new Set<string>();
  private readonly spent = new Map<string, { rev: string; atMs: number }>();

  /**
   * `maxSpent`: revisions remembered at most; beyond, the oldest are forgotten (a search still showing one of
   * those as it was may then hand it out again).
   */
  constructor(
    private readonly searchLagMs: number,
    private readonly maxSpent: number,
    private readonly clock: MonotonicClock = systemMonotonicClock,
  ) {}

  /** Orders held now. */
  get size(): number {
    return this.held.size;
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  /**
   * The first `max` orders of `found` neither held nor seen stale, in the order given; they are held on
   * return (the others are left alone).
   */
  take(found: readonly StoredOrder[], max = Number.POSITIVE_INFINITY): StoredOrder[] {
    this.forgetOld();
    const taken: StoredOrder[] = [];
    for (const o of found) {
      if (taken.length >= max) break;
      if (this.held.has(o.id) || this.spent.get(o.id)?.rev === o.rev) continue;
      this.held.add(o.id);
      taken.push(o);
    }
    return taken;
  }

  /** Ends the hold of orders taken with these revisions (whatever was written since). */
  release(orders: readonly StoredOrder[]): void {
    const atMs = this.clock.nowMs();
    for (const o of orders) {
      if (!this.held.delete(o.id)) continue;
      // Re-inserted at the end, so that the map stays in time order.
      this.spent.delete(o.id);
      this.spent.set(o.id, { rev: o.rev, atMs });
    }
    for (const id of this.spent.keys()) {
      if (this.spent.size <= this.maxSpent) break;
      this.spent.delete(id);
    }
  }

  private forgetOld(): void {
    const oldest = this.clock.nowMs() - this.searchLagMs;
    for (const [id, s] of this.spent) {
      if (s.atMs >= oldest) break;
      this.spent.delete(id);
    }
  }
}
