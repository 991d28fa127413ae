/**
 * The contract of what request history reads, run against the in-memory twins and the OpenSearch adapter:
 * `RequestStore.listRequests` (newest first: `created_at` then `request_id` descending; strictly after the
 * position given; every filter given must hold; only request records), and `OrderStore.countByRequests`
 * and `OrderStore.failureBreakdown` (most frequent code first, ties by the lower code; the sample message is
 * the lowest order id's; `other` counts failures left out or without a result).
 */
import type {
  Order,
  OrderStore,
  RequestPosition,
  RequestRecord,
  RequestStore,
  Source,
} from '@command-manager/core';
import { makeTestOrder } from './order-fixtures';

export interface RequestListingHarness {
  store: RequestStore;
  /** Makes every write so far searchable (OpenSearch: a refresh). */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface OrderAggregationHarness {
  /** Its `saveOrders` leaves the orders searchable when it returns. */
  store: OrderStore;
  cleanup(): Promise<void>;
}

function record(
  requestId: number,
  createdAt: string,
  fields: { source?: Source; user?: string; action?: string } = {},
): RequestRecord {
  return {
    request_id: requestId,
    created_at: createdAt,
    principal: 'tester',
    command: {
      source: fields.source ?? 'Users/Services',
      user: fields.user ?? 'wazuh',
      target: { type: 'group', id: 'Test' },
      action: { name: fields.action ?? 'restart', args: {} },
      timeout: 100,
    },
    total_orders: 1,
    unresolved: [],
    write_state: 'complete',
    rollout_stopped_at: null,
  };
}

const ids = (records: RequestRecord[]): number[] => records.map((r) => r.request_id);
const positionOf = (r: RequestRecord): RequestPosition => ({
  createdAtMs: Date.parse(r.created_at),
  requestId: r.request_id,
});

export function describeRequestListingContract(
  name: string,
  makeStore: () => Promise<RequestListingHarness>,
): void {
  describe(`RequestStore.listRequests contract: ${name}`, () => {
    let h: RequestListingHarness;
    let store: RequestStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
      await store.init();
      // Ids and times deliberately out of step: two records share a created_at (tie broken by id).
      await store.createRequest(record(1, '2025-06-01T10:00:00.000Z'));
      await store.createRequest(record(2, '2025-06-01T12:00:00.000Z', { source: 'Engine', user: 'engine' }));
      await store.createRequest(
        record(3, '2025-06-01T11:00:00.000Z', { source: 'Content manager', action: 'update', user: 'cm' }),
      );
      await store.createRequest(record(4, '2025-06-01T12:00:00.000Z', { user: 'alice' }));
      await store.createRequest(
        record(5, '2025-06-01T09:00:00.000Z', { user: 'alice', action: 'set-group' }),
      );
      await store.reserveIdempotency('some-key', 'fp');
      await h.settle();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('newest first, ties by the higher request id; only request records', async () => {
      expect(ids(await store.listRequests({}, { size: 10 }))).toEqual([4, 2, 3, 1, 5]);
    });

    it('pages strictly after a position, without repeating or skipping', async () => {
      const seen: number[] = [];
      let after: RequestPosition | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await store.listRequests({}, after ? { size: 2, after } : { size: 2 });
        seen.push(...ids(page));
        const last = page[page.length - 1];
        if (!last) break;
        after = positionOf(last);
      }
      expect(seen).toEqual([4, 2, 3, 1, 5]);
    });

    it('filters by source, user, action and created_at, combined', async () => {
      expect(ids(await store.listRequests({ source: 'Engine' }, { size: 10 }))).toEqual([2]);
      expect(ids(await store.listRequests({ user: 'alice' }, { size: 10 }))).toEqual([4, 5]);
      expect(ids(await store.listRequests({ action: 'update' }, { size: 10 }))).toEqual([3]);
      expect(
        ids(
          await store.listRequests(
            { from: '2025-06-01T10:00:00.000Z', to: '2025-06-01T12:00:00.000Z' },
            { size: 10 },
          ),
        ),
      ).toEqual([3, 1]);
      expect(
        ids(
          await store.listRequests(
            { user: 'alice', action: 'restart', source: 'Users/Services' },
            { size: 10 },
          ),
        ),
      ).toEqual([4]);
      expect(ids(await store.listRequests({ user: 'nobody' }, { size: 10 }))).toEqual([]);
    });

    it('a record round-trips through the listing', async () => {
      const [first] = await store.listRequests({ source: 'Content manager' }, { size: 1 });
      expect(first).toEqual(
        record(3, '2025-06-01T11:00:00.000Z', { source: 'Content manager', action: 'update', user: 'cm' }),
      );
    });
  });
}

function failed(requestId: number, orderId: number, code: number, message: string): Order {
  const order = makeTestOrder(requestId, orderId, { status: 'failure' });
  order.command.result = { code, message };
  return order;
}

export function describeOrderAggregationContract(
  name: string,
  makeStore: () => Promise<OrderAggregationHarness>,
): void {
  describe(`OrderStore request aggregations contract: ${name}`, () => {
    let h: OrderAggregationHarness;
    let store: OrderStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
      await store.init();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('countByRequests: per-status counts of each request asked; requests without orders are absent', async () => {
      await store.saveOrders([
        makeTestOrder(1, 1),
        makeTestOrder(1, 2, { status: 'sent' }),
        makeTestOrder(1, 3, { status: 'success' }),
        makeTestOrder(2, 1, { status: 'failure' }),
        makeTestOrder(3, 1),
      ]);
      const counts = await store.countByRequests([1, 2, 99]);
      expect(Object.fromEntries(counts)).toEqual({
        1: { pending: 1, sent: 1, success: 1, failure: 0 },
        2: { pending: 0, sent: 0, success: 0, failure: 1 },
      });
      expect((await store.countByRequests([])).size).toBe(0);
    });

    it('failureBreakdown: codes by count, ties by the lower code, the lowest order id’s message, the rest in other', async () => {
      await store.saveOrders([
        failed(7, 5, 901, 'expired 5'),
        failed(7, 2, 901, 'expired 2'),
        failed(7, 9, 901, 'expired 9'),
        failed(7, 3, 500, 'agent error 3'),
        failed(7, 4, 400, 'bad 4'),
        failed(7, 8, 400, 'bad 8'),
        failed(7, 6, 12, 'rare 6'),
        makeTestOrder(7, 10, { status: 'failure' }),
        makeTestOrder(7, 11, { status: 'success' }),
        failed(8, 1, 901, 'another request'),
      ]);
      expect(await store.failureBreakdown(7, 3)).toEqual({
        codes: [
          { code: 901, count: 3, message: 'expired 2' },
          { code: 400, count: 2, message: 'bad 4' },
          { code: 12, count: 1, message: 'rare 6' },
        ],
        other: 2,
      });
      expect(await store.failureBreakdown(42, 3)).toEqual({ codes: [], other: 0 });
    });
  });
}
