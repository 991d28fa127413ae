/**
 * The ONE contract of `LiveMembershipStore`, run against the in-memory twin and the OpenSearch adapter.
 * Each test gets a fresh store over fresh request and order stores.
 *
 * Semantics required: `findLiveRequests` returns the records of live commands whose `live_until` is after
 * `now` and whose writing is over, oldest first, at most `limit`; `agentsWithOrders` (after
 * `refreshOrders`) names the agents with an order of that request only; ranges of order ids returned by
 * `reserveOrderIds` start after `total_orders` and never overlap, also when reserved at once; a marker is
 * created once: of two calls for one agent, at once or not, exactly one creates it, and `readMarkers` gives
 * the order id of the one that did.
 */
import { newOrder } from '@command-manager/core';
import { makeTestRecord } from './request-store-contract';
import type {
  CommandRequest,
  LiveMembershipStore,
  OrderStore,
  RequestRecord,
  RequestStore,
} from '@command-manager/core';

export interface LiveMembershipStoreHarness {
  store: LiveMembershipStore;
  requests: RequestStore;
  orders: OrderStore;
  /** Makes the records written so far searchable (OpenSearch: a refresh; in memory: nothing). */
  refreshRequests(): Promise<void>;
  cleanup(): Promise<void>;
}

const T0 = Date.parse('2030-06-01T12:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

const liveCommand: CommandRequest = {
  ...makeTestRecord(0).command,
  delivery_window_s: 3600,
  membership: 'live',
};

/** A live request's record, written out and open for an hour from T0, created `requestId` seconds after T0. */
function record(requestId: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return makeTestRecord(requestId, {
    created_at: iso(requestId * 1000),
    command: liveCommand,
    total_orders: 2,
    write_state: 'complete',
    live_until: iso(3_600_000),
    ...overrides,
  });
}

export function describeLiveMembershipStoreContract(
  name: string,
  makeStore: () => Promise<LiveMembershipStoreHarness>,
): void {
  describe(`LiveMembershipStore contract: ${name}`, () => {
    let h: LiveMembershipStoreHarness;

    beforeEach(async () => {
      h = await makeStore();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('finds the live requests whose window is open and whose writing is over, oldest first', async () => {
      for (const r of [
        record(3),
        record(1),
        record(2, { live_until: iso(10_000) }),
        record(4, { write_state: 'writing' }),
        record(5, { command: { ...liveCommand, membership: 'snapshot' }, live_until: undefined }),
        record(6, { write_state: 'partial' }),
      ]) {
        if (r.live_until === undefined) delete r.live_until;
        expect(await h.requests.createRequest(r)).toBe(true);
      }
      await h.refreshRequests();
      const now = new Date(T0 + 20_000);
      expect((await h.store.findLiveRequests(now, 10)).map((r) => r.request_id)).toEqual([1, 3, 6]);
      expect((await h.store.findLiveRequests(now, 2)).map((r) => r.request_id)).toEqual([1, 3]);
      const later = new Date(T0 + 3_600_000);
      expect(await h.store.findLiveRequests(later, 10)).toEqual([]);
    });

    it('names the agents that have an order of the request, and only of it', async () => {
      const make = (requestId: number, orderId: number, agent: string) =>
        newOrder({
          command: liveCommand,
          requestId,
          orderId,
          target: { type: 'agent', id: agent },
          groups: ['web'],
          principal: 'alice',
          now: new Date(T0),
        });
      await h.orders.saveOrders([make(7, 1, 'a'), make(7, 2, 'b'), make(8, 1, 'c')]);
      await h.store.refreshOrders();
      expect(await h.store.agentsWithOrders(7, ['a', 'b', 'c', 'd'])).toEqual(new Set(['a', 'b']));
      expect(await h.store.agentsWithOrders(7, [])).toEqual(new Set());
    });

    it('reserves order ids after the first ones, in ranges that never overlap', async () => {
      const r = record(9, { total_orders: 5 });
      expect(await h.store.reserveOrderIds(r, 3)).toBe(6);
      expect(await h.store.reserveOrderIds(r, 2)).toBe(9);
      const both = await Promise.all([h.store.reserveOrderIds(r, 4), h.store.reserveOrderIds(r, 4)]);
      const firsts = both.filter((f): f is number => f !== undefined).sort((a, b) => a - b);
      expect(firsts.length).toBeGreaterThanOrEqual(1);
      expect(firsts[0]).toBe(11);
      if (firsts.length === 2) expect(firsts[1]).toBe(15);
      expect(await h.store.reserveOrderIds(r, 1)).toBe(11 + 4 * firsts.length);
    });

    it('creates a marker once: the first call wins, at once or later, and it names that call’s order id', async () => {
      expect(await h.store.createMarkers(10, [{ agentId: 'a', orderId: 3 }])).toEqual(new Set(['a']));
      expect(
        await h.store.createMarkers(10, [
          { agentId: 'a', orderId: 4 },
          { agentId: 'b', orderId: 5 },
        ]),
      ).toEqual(new Set(['b']));
      const [x, y] = await Promise.all([
        h.store.createMarkers(10, [{ agentId: 'c', orderId: 6 }]),
        h.store.createMarkers(10, [{ agentId: 'c', orderId: 7 }]),
      ]);
      expect((x?.size ?? 0) + (y?.size ?? 0)).toBe(1);
      const markers = await h.store.readMarkers(10, ['a', 'b', 'c', 'd']);
      expect([markers.get('a'), markers.get('b'), markers.has('d')]).toEqual([3, 5, false]);
      expect(markers.get('c')).toBe(x?.size === 1 ? 6 : 7);
      // Markers belong to their request.
      expect(await h.store.readMarkers(11, ['a'])).toEqual(new Map());
      const long = 'x'.repeat(256);
      expect(await h.store.createMarkers(10, [{ agentId: long, orderId: 8 }])).toEqual(new Set([long]));
      expect((await h.store.readMarkers(10, [long])).get(long)).toBe(8);
    });
  });
}
