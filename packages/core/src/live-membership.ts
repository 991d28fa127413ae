/**
 * Live membership: a group command with `"membership": "live"` gives an order to every agent that joins the
 * group until its delivery window ends (`live_until` on the request record: submission + `delivery_window_s`,
 * default `timeout`). The scheduler's membership poller walks such groups in the agents index and writes
 * the joiners' orders through this port and the order store.
 *
 * No agent gets two orders of one request, whatever runs at once (sidecars, restarts):
 * - an agent that has an order of the request (`agentsWithOrders`) is no joiner;
 * - a joiner gets an order id only through a marker document per (request, agent), written create-only
 *   (`createMarkers`): of two pollers only one creates it, and a marker, once written, names the one order id
 *   that agent may ever get in that request;
 * - the joiner's order is written create-only under `<request_id>-<order_id>` (`OrderStore.saveOrders`), so a
 *   poller that died between the marker and the order writes the same order again, never a second one.
 * Order ids of joiners come after the request's first ones, from a per-request counter advanced with a
 * conditional write (`reserveOrderIds`); an id reserved by a poller that then lost its markers to another is
 * left unused.
 */
import { newOrder } from './lifecycle';
import type { CommandRequest, Order, RequestRecord } from './model';
import type { AgentInfo } from './ports';

/** The end of a live command's window, from its submission time (ISO-8601). */
export function liveUntil(command: CommandRequest, createdAt: string): string {
  const windowS = command.delivery_window_s ?? command.timeout;
  return new Date(Date.parse(createdAt) + windowS * 1000).toISOString();
}

/** The live requests the membership poller follows, and what it writes besides orders. */
export interface LiveMembershipStore {
  /** Idempotent setup. */
  init(): Promise<void>;
  /**
   * Records of live group commands whose window ends after `now` and whose first orders are written
   * (`write_state` not `writing`), oldest first, at most `limit`.
   */
  findLiveRequests(now: Date, limit: number): Promise<RequestRecord[]>;
  /** Makes every order written so far visible to `agentsWithOrders` (once per poll round). */
  refreshOrders(): Promise<void>;
  /** Of `agentIds`, those that have an order of the request, as the orders index says after a refresh. */
  agentsWithOrders(requestId: number, agentIds: readonly string[]): Promise<Set<string>>;
  /** The order id each of `agentIds` was given as a joiner of the request (its marker); real-time read. */
  readMarkers(requestId: number, agentIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Reserves `count` order ids for joiners: returns the first of them (the request's first ids end at
   * `total_orders`), or undefined when another poller advanced the counter meanwhile (try again later).
   */
  reserveOrderIds(record: RequestRecord, count: number): Promise<number | undefined>;
  /** Writes joiner markers create-only; returns the agents whose marker THIS call created. */
  createMarkers(requestId: number, markers: readonly JoinerMarker[]): Promise<Set<string>>;
}

/** A joiner's marker: the one order id the agent gets in its request. */
export interface JoinerMarker {
  agentId: string;
  orderId: number;
}

/** The order of a joiner of a live request: the command's, for that agent, within the request's window. */
export function joinerOrder(
  record: RequestRecord,
  agent: AgentInfo,
  orderId: number,
  group: string,
  now: Date,
  /** Partitions of the orders index (default `DEFAULT_PARTITIONS`). */
  partitions?: number,
): Order {
  const windowEndsAt = record.live_until !== undefined ? new Date(record.live_until) : undefined;
  return newOrder({
    command: record.command,
    requestId: record.request_id,
    orderId,
    target: { type: 'agent', id: agent.id },
    groups: agent.groups.length > 0 ? agent.groups : [group],
    principal: record.principal,
    now,
    ...(windowEndsAt && { windowEndsAt }),
    ...(partitions !== undefined && { partitions }),
  });
}
