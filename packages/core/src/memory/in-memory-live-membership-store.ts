/**
 * The in-memory twin of the live-membership store: reads the records and orders of in-memory stores, and
 * keeps joiner markers and order-id counters in maps (create-only and compare-and-set, like the OpenSearch
 * adapter's documents).
 */
import type { JoinerMarker, LiveMembershipStore } from '../live-membership';
import type { RequestRecord } from '../model';
import type { OrderStore, RequestStore } from '../ports';

const PAGE = 1000;

export class InMemoryLiveMembershipStore implements LiveMembershipStore {
  private readonly markers = new Map<string, number>();
  private readonly counters = new Map<number, number>();

  constructor(private readonly stores: { requests: RequestStore; orders: OrderStore }) {}

  async init(): Promise<void> {}

  async refreshOrders(): Promise<void> {}

  async findLiveRequests(now: Date, limit: number): Promise<RequestRecord[]> {
    const live: RequestRecord[] = [];
    let page = await this.stores.requests.listRequests({}, { size: PAGE });
    while (page.length > 0) {
      for (const r of page) {
        if (r.command.membership === 'live' && r.write_state !== 'writing' && r.live_until !== undefined) {
          if (Date.parse(r.live_until) > now.getTime()) live.push(r);
        }
      }
      const last = page[page.length - 1];
      if (!last || page.length < PAGE) break;
      page = await this.stores.requests.listRequests(
        {},
        { size: PAGE, after: { createdAtMs: Date.parse(last.created_at), requestId: last.request_id } },
      );
    }
    live.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.request_id - b.request_id);
    return live.slice(0, limit);
  }

  async agentsWithOrders(requestId: number, agentIds: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(agentIds);
    const found = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.stores.orders.listOrders(
        { requestId },
        cursor === undefined ? { size: PAGE } : { size: PAGE, cursor },
      );
      for (const o of page.items) {
        const id = o.order.command.target.id;
        if (wanted.has(id)) found.add(id);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return found;
  }

  async readMarkers(requestId: number, agentIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of agentIds) {
      const orderId = this.markers.get(markerKey(requestId, id));
      if (orderId !== undefined) out.set(id, orderId);
    }
    return out;
  }

  async reserveOrderIds(record: RequestRecord, count: number): Promise<number | undefined> {
    const first = this.counters.get(record.request_id) ?? record.total_orders + 1;
    this.counters.set(record.request_id, first + count);
    return first;
  }

  async createMarkers(requestId: number, markers: readonly JoinerMarker[]): Promise<Set<string>> {
    const created = new Set<string>();
    for (const m of markers) {
      const key = markerKey(requestId, m.agentId);
      if (this.markers.has(key)) continue;
      this.markers.set(key, m.orderId);
      created.add(m.agentId);
    }
    return created;
  }
}

function markerKey(requestId: number, agentId: string): string {
  return `${requestId}\n${agentId}`;
}
