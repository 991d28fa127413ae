/**
 * Keeps the dispatch leases of one batch alive while it waits for a delivery slot and while it is delivered,
 * as BullMQ's `lock-manager.ts` extends the locks of the jobs a worker holds: every `leaseMs / 2` it writes
 * each held order's lease again, conditionally on the revision held. A lost lease removes the order from the
 * batch; a failed write is tried again at the next renewal.
 */
import { withLease } from '@command-manager/core';
import type { Clock, Logger, OrderStore, StoredOrder } from '@command-manager/core';
import { describeError } from './internal/describe-error';

export interface LeaseRenewalDeps {
  orders: OrderStore;
  /** The lease owner written on the orders. */
  owner: string;
  leaseMs: number;
  clock: Clock;
  logger: Logger;
  /** The batch's orders still held, by id: renewed in place, a lost one deleted. */
  held: Map<string, StoredOrder>;
  /** Called for each order whose lease was lost (another writer changed it). */
  onLost: (orderId: string) => void;
}

export class LeaseRenewal {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: LeaseRenewalDeps) {}

  /** Renews every `leaseMs / 2` until `stop()`; a renewal still running when the next is due is not doubled. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => {
        if (this.running) return;
        this.running = this.renew()
          .catch((e: unknown) => this.deps.logger.warn('lease renewal failed', { error: describeError(e) }))
          .finally(() => {
            this.running = undefined;
          });
      },
      Math.max(1, Math.floor(this.deps.leaseMs / 2)),
    );
  }

  /** Stops renewing and waits for a renewal in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.running) await this.running;
  }

  private async renew(): Promise<void> {
    const { orders, owner, held, logger } = this.deps;
    const now = this.deps.clock.now();
    const expiresAt = new Date(now.getTime() + this.deps.leaseMs);
    const entries = [...held.values()];
    if (entries.length === 0) return;
    // Searchable or not, a renewed lease is live either way: no claim takes the order.
    const outcomes = await orders.writeConditional(
      entries.map((o) => ({ id: o.id, rev: o.rev, order: withLease(o.order, owner, expiresAt) })),
      { searchable: false },
    );
    outcomes.forEach((outcome, i) => {
      const stored = entries[i];
      if (!stored) return;
      if (outcome.ok) {
        held.set(stored.id, {
          id: stored.id,
          rev: outcome.rev,
          order: withLease(stored.order, owner, expiresAt),
        });
      } else if (outcome.reason === 'error') {
        logger.warn('lease renewal failed; will try again', { orderId: stored.id, message: outcome.message });
      } else {
        held.delete(stored.id);
        this.deps.onLost(stored.id);
      }
    });
  }
}
