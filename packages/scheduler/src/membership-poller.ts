/**
 * Gives the joiners of live group commands their orders (core's `live-membership.ts`). Every
 * `intervalMs`, in one sidecar at a time (lease-lock `membership`, as retention runs), it reads the live
 * requests whose window is open, makes the orders index current (one refresh), and walks each group in the
 * agents index page by page (its own fields: `agent.groups`, and `agent.status`/`agent.id` for the command's
 * eligibility; a point in time and `search_after`, no scripting). A member without an order of the request
 * is a joiner: it gets the next order id through a create-only marker, then its order, create-only. So an
 * agent that joins is found by the first round that starts after the agents index shows it (its refresh
 * interval, 1 s by default): within two poll intervals, usually one.
 *
 * The lock only saves work: two pollers at once (a lock taken over from a paused holder) still give no
 * agent two orders (see core's `live-membership.ts`).
 */
import { eligibleQuery, joinerOrder, noopLogger, systemClock } from '@command-manager/core';
import type {
  AgentDirectory,
  AgentInfo,
  Clock,
  LiveMembershipStore,
  LockStore,
  Logger,
  Order,
  OrderStore,
  RequestRecord,
} from '@command-manager/core';
import { positive } from './internal/option-values';

export const MEMBERSHIP_LOCK = 'membership';

export const MEMBERSHIP_DEFAULTS = Object.freeze({
  /** Time between two rounds. */
  intervalMs: 5000,
  /** Live requests followed per round (the oldest first). */
  maxRequests: 100,
  /** Group members read per page (and ids per store call). */
  pageSize: 1000,
  /** Most orders one live request may reach, joiners included (the sidecar passes `limits.maxFanOut`). */
  maxOrdersPerRequest: 200_000,
});

export interface MembershipPollerOptions {
  intervalMs?: number;
  maxRequests?: number;
  pageSize?: number;
  maxOrdersPerRequest?: number;
  /** TTL of the `membership` lock, renewed between requests; default 6 intervals, at least 30 s. */
  lockTtlMs?: number;
  /** Partitions of the orders index, written on every joiner order (default `DEFAULT_PARTITIONS`). */
  partitions?: number;
}

export interface MembershipPollerDeps {
  owner: string;
  live: LiveMembershipStore;
  orders: Pick<OrderStore, 'saveOrders' | 'countByStatus'>;
  agents: Pick<AgentDirectory, 'groupMembers'>;
  locks: LockStore;
  clock?: Clock;
  logger?: Logger;
  /** Told how many joiner orders a round wrote (the sidecar wakes its scheduler). */
  onOrdersWritten?: (written: number) => void;
  options?: MembershipPollerOptions;
}

export interface MembershipRoundSummary {
  /** False when another sidecar holds the `membership` lock. */
  ran: boolean;
  /** Live requests looked at. */
  requests: number;
  /** Joiner orders written. */
  joined: number;
}

export class MembershipPoller {
  readonly intervalMs: number;
  private readonly deps: MembershipPollerDeps;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxRequests: number;
  private readonly pageSize: number;
  private readonly maxOrders: number;
  private readonly lockTtlMs: number;

  constructor(deps: MembershipPollerDeps) {
    const o = deps.options ?? {};
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger ?? noopLogger;
    this.intervalMs = positive(o.intervalMs, MEMBERSHIP_DEFAULTS.intervalMs);
    this.maxRequests = positive(o.maxRequests, MEMBERSHIP_DEFAULTS.maxRequests);
    this.pageSize = positive(o.pageSize, MEMBERSHIP_DEFAULTS.pageSize);
    this.maxOrders = positive(o.maxOrdersPerRequest, MEMBERSHIP_DEFAULTS.maxOrdersPerRequest);
    this.lockTtlMs = positive(o.lockTtlMs, Math.max(30_000, 6 * this.intervalMs));
  }

  /** One round: every live request's joiners get their orders. */
  async poll(): Promise<MembershipRoundSummary> {
    const { locks, owner, live } = this.deps;
    const summary: MembershipRoundSummary = { ran: false, requests: 0, joined: 0 };
    if (!(await locks.acquire(MEMBERSHIP_LOCK, owner, this.lockTtlMs, this.clock.now()))) return summary;
    summary.ran = true;
    try {
      const requests = await live.findLiveRequests(this.clock.now(), this.maxRequests);
      if (requests.length === 0) return summary;
      await live.refreshOrders();
      for (const record of requests) {
        summary.requests++;
        if (!(await this.mayFollow(record))) continue;
        summary.joined += await this.followRequest(record);
        if (!(await locks.acquire(MEMBERSHIP_LOCK, owner, this.lockTtlMs, this.clock.now()))) break;
      }
    } finally {
      await locks.release(MEMBERSHIP_LOCK, owner);
    }
    if (summary.joined > 0) {
      this.logger.info('orders written for agents that joined live groups', { ...summary });
      this.deps.onOrdersWritten?.(summary.joined);
    }
    return summary;
  }

  /**
   * Whether every first order of the request shows in searches, so that none of its agents passes for a
   * joiner: a `complete` request's orders are counted (after the round's refresh, all are, unless their
   * write is still landing); a `partial` one, whose count is unknown, is followed once its record has been
   * still for two intervals; a `failed` one (nothing stored) is not followed.
   */
  private async mayFollow(record: RequestRecord): Promise<boolean> {
    if (record.write_state === 'failed') return false;
    if (record.write_state === 'complete') {
      const c = await this.deps.orders.countByStatus({ requestId: record.request_id });
      return c.pending + c.sent + c.success + c.failure >= record.total_orders;
    }
    const still = Date.parse(record.updated_at ?? record.created_at);
    return this.clock.now().getTime() - still >= 2 * this.intervalMs;
  }

  private async followRequest(record: RequestRecord): Promise<number> {
    const target = record.command.target;
    if (target.type !== 'group') return 0;
    let joined = 0;
    const query = eligibleQuery(record.command, { pageSize: this.pageSize });
    for await (const page of this.deps.agents.groupMembers(target.id, query)) {
      joined += await this.joinPage(record, target.id, page);
    }
    return joined;
  }

  /** The orders of the members of one page that have none yet. */
  private async joinPage(record: RequestRecord, group: string, page: AgentInfo[]): Promise<number> {
    const { live } = this.deps;
    const requestId = record.request_id;
    const have = await live.agentsWithOrders(
      requestId,
      page.map((a) => a.id),
    );
    const candidates = page.filter((a) => !have.has(a.id));
    if (candidates.length === 0) return 0;
    const now = this.clock.now();
    const orders: Order[] = [];
    // A marker without a visible order: a poller wrote the marker and died (or its order is not refreshed
    // yet). Its order is written again under the marker's id; create-only, so never twice.
    const markers = await live.readMarkers(
      requestId,
      candidates.map((a) => a.id),
    );
    for (const a of candidates) {
      const orderId = markers.get(a.id);
      if (orderId !== undefined)
        orders.push(joinerOrder(record, a, orderId, group, now, this.deps.options?.partitions));
    }
    const fresh = candidates.filter((a) => !markers.has(a.id));
    if (fresh.length > 0) {
      const first = await live.reserveOrderIds(record, fresh.length);
      // Joiners past the request's bound get no order (their reserved ids stay unused).
      const allowed = first === undefined ? 0 : Math.max(0, this.maxOrders - first + 1);
      if (first !== undefined && allowed < fresh.length) {
        this.logger.warn('a live request reached its most orders; later joiners get none', {
          requestId,
          maxOrders: this.maxOrders,
        });
        fresh.length = allowed;
      }
      if (first !== undefined) {
        const created = await live.createMarkers(
          requestId,
          fresh.map((a, i) => ({ agentId: a.id, orderId: first + i })),
        );
        fresh.forEach((a, i) => {
          if (created.has(a.id))
            orders.push(joinerOrder(record, a, first + i, group, now, this.deps.options?.partitions));
        });
      }
    }
    if (orders.length === 0) return 0;
    const result = await this.deps.orders.saveOrders(orders);
    if (result.failed.length > 0) {
      this.logger.warn('some joiner orders were not written; retried at the next round', {
        requestId,
        failed: result.failed.length,
      });
    }
    return result.written;
  }
}
