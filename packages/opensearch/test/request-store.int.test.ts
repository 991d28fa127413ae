/**
 * `OpenSearchRequestStore.createRequestsWithOrders` against a real OpenSearch: records and orders in one
 * bulk, repeated calls, a request id that holds another record, refused orders; listings read within a
 * byte bound.
 */
import { listRequests } from '@command-manager/core';
import type { Order, RequestRecord } from '@command-manager/core';
import { OpenSearchOrderStore, OpenSearchRequestStore } from '@command-manager/opensearch';
import { makeTestOrder } from '@command-manager/store-contract';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

function record(requestId: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    request_id: requestId,
    created_at: '2025-06-01T12:00:00.000Z',
    principal: 'alice',
    command: {
      source: 'Users/Services',
      user: 'alice',
      target: { type: 'group', id: 'web' },
      action: { name: 'restart', args: {} },
      timeout: 300,
    },
    total_orders: 2,
    unresolved: [],
    write_state: 'complete',
    rollout_stopped_at: null,
    ...overrides,
  };
}

async function stores(): Promise<{ orders: OpenSearchOrderStore; requests: OpenSearchRequestStore }> {
  const ordersIndex = t.nextOrdersIndex();
  const orders = new OpenSearchOrderStore({ client: t.client, ordersIndex, replicas: 0 });
  const requests = new OpenSearchRequestStore({ client: t.client, ordersIndex, replicas: 0 });
  await Promise.all([orders.init(), requests.init()]);
  return { orders, requests };
}

describe('OpenSearchRequestStore.createRequestsWithOrders', () => {
  it('creates every record and its orders in one call; orders are searchable with the default refresh', async () => {
    const { orders, requests } = await stores();
    const out = await requests.createRequestsWithOrders([
      { record: record(1), orders: [makeTestOrder(1, 1), makeTestOrder(1, 2)] },
      { record: record(2, { total_orders: 0, unresolved: ['agent:ghost'] }), orders: [] },
      { record: record(3, { write_state: 'writing', total_orders: 500 }), orders: [] },
    ]);
    expect(out).toEqual([
      { record: 'created', written: 2, existing: 0, failed: [] },
      { record: 'created', written: 0, existing: 0, failed: [] },
      { record: 'created', written: 0, existing: 0, failed: [] },
    ]);
    expect(await requests.getRequest(1)).toEqual(record(1));
    expect((await requests.getRequest(2))?.unresolved).toEqual(['agent:ghost']);
    expect((await requests.getRequest(3))?.write_state).toBe('writing');
    expect((await orders.getOrder('1-2'))?.order).toEqual(makeTestOrder(1, 2));
    // 'wait_for' (the default, as the order store's saveRefresh): a search sees them at once.
    expect(await orders.countByStatus({ requestId: 1 })).toMatchObject({ pending: 2 });
  });

  it('a repeated call (e.g. a transport retry) finds its own record: created, orders existing', async () => {
    const { requests } = await stores();
    const entry = { record: record(5), orders: [makeTestOrder(5, 1)] };
    await requests.createRequestsWithOrders([entry]);
    expect(await requests.createRequestsWithOrders([entry])).toEqual([
      { record: 'created', written: 0, existing: 1, failed: [] },
    ]);
  });

  it('another record under the same id: `exists`, and the orders this call created are removed again', async () => {
    const { orders, requests } = await stores();
    const foreign = record(9, { principal: 'bob' });
    expect(await requests.createRequest(foreign)).toBe(true);
    const out = await requests.createRequestsWithOrders([
      { record: record(9), orders: [makeTestOrder(9, 1), makeTestOrder(9, 2)] },
      { record: record(10), orders: [makeTestOrder(10, 1)] },
    ]);
    expect(out).toEqual([
      { record: 'exists', written: 0, existing: 0, failed: [] },
      { record: 'created', written: 1, existing: 0, failed: [] },
    ]);
    expect(await requests.getRequest(9)).toEqual(foreign);
    expect(await orders.getOrders(['9-1', '9-2', '10-1'])).toEqual([expect.objectContaining({ id: '10-1' })]);
  });

  it("fails orders whose ids are held by another request's orders (ORDER_ID_TAKEN); a repeat counts as existing", async () => {
    const { orders, requests } = await stores();
    // What a lost id counter leaves: request 40's orders from an earlier life of the cluster.
    const earlier = [makeTestOrder(40, 1, { timestamp: new Date('2025-01-01T00:00:00.000Z') })];
    await orders.saveOrders(earlier);
    const mine = [makeTestOrder(40, 1), makeTestOrder(40, 2)];
    const out = await requests.createRequestsWithOrders([{ record: record(40), orders: mine }]);
    expect(out[0]).toMatchObject({ record: 'created', written: 1, existing: 0 });
    expect(out[0]?.failed).toEqual([
      { id: '40-1', code: 'ORDER_ID_TAKEN', reason: expect.stringContaining('another request') },
    ]);
    expect((await orders.getOrder('40-1'))?.order).toEqual(earlier[0]);
    // The same write repeated (a transport retry): its own orders are existing, the taken one still fails.
    const again = await requests.createRequestsWithOrders([{ record: record(40), orders: mine }]);
    expect(again[0]).toMatchObject({ record: 'created', written: 0, existing: 1 });
    expect(again[0]?.failed.map((f) => f.code)).toEqual(['ORDER_ID_TAKEN']);
  });

  it('reports a refused order by id and writes the rest; an order without ids is refused before sending', async () => {
    const { orders, requests } = await stores();
    const bad = { ...makeTestOrder(20, 2), '@timestamp': 'not a date' } as Order;
    const noId = makeTestOrder(20, 3) as unknown as { command: { order_id: unknown } };
    noId.command.order_id = 'x';
    const out = await requests.createRequestsWithOrders([
      { record: record(20), orders: [makeTestOrder(20, 1), bad, noId as unknown as Order] },
    ]);
    expect(out[0]).toMatchObject({ record: 'created', written: 1, existing: 0 });
    expect(out[0]?.failed.map((f) => f.id).sort()).toEqual(['20-2', '20-x']);
    // The error type, never OpenSearch's free text (which may quote the document).
    expect(out[0]?.failed.find((f) => f.id === '20-2')?.reason).toMatch(/^[a-z_]*pars[a-z_]*_exception/);
    expect(out[0]?.failed.find((f) => f.id === '20-2')?.reason).not.toMatch(/not a date/);
    expect((await orders.getOrders(['20-1', '20-2'])).map((s) => s.id)).toEqual(['20-1']);
  });
});

describe('OpenSearchRequestStore.listRequests', () => {
  it('reads within maxResponseBytes: a page too large comes in smaller answers, and a listing reaches every record', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const orders = new OpenSearchOrderStore({ client: t.client, ordersIndex, replicas: 0 });
    const requests = new OpenSearchRequestStore({
      client: t.client,
      ordersIndex,
      replicas: 0,
      maxResponseBytes: 64 * 1024,
    });
    await Promise.all([orders.init(), requests.init()]);
    // 12 records of about 20 KB each: a page of all of them is about 240 KB, over the 64 KiB bound.
    const note = 'x'.repeat(20_000);
    for (let id = 1; id <= 12; id++) {
      const base = record(id);
      await requests.putRequest({
        ...base,
        created_at: new Date(Date.UTC(2025, 5, 1, 12, 0, id)).toISOString(),
        command: { ...base.command, action: { name: 'restart', args: { note } } },
      });
    }
    await t.client.indices.refresh({ index: requests.layout.requests });
    const newestFirst = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

    const first = await requests.listRequests({}, { size: 12 });
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(12);
    expect(first.map((r) => r.request_id)).toEqual(newestFirst.slice(0, first.length));

    const seen: number[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await listRequests({ requests, orders }, { size: 12, ...(cursor && { cursor }) });
      seen.push(...page.requests.map((i) => i.request.request_id));
      cursor = page.cursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(newestFirst);
    expect(cursor).toBeUndefined();
  });
});
