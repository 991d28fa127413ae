/**
 * What the OpenSearch order store guarantees beyond the core contract (contract.int.test.ts): resumable
 * bulk saves, per-item failures surfaced, byte-bounded batches, default refresh policies giving
 * read-after-write, payloads of any shape, and transport errors mapped to STORE_UNAVAILABLE.
 */
import type { Order } from '@command-manager/core';
import { CommandManagerError } from '@command-manager/core';
import { createOpenSearchClient, OpenSearchOrderStore } from '@command-manager/opensearch';
import { makeTestOrder } from '@command-manager/store-contract';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

const BASE = new Date('2025-06-01T12:00:00.000Z');

async function* stream(orders: Order[], throwAfter?: number): AsyncIterable<Order> {
  let n = 0;
  for (const o of orders) {
    if (throwAfter !== undefined && n === throwAfter) throw new Error('expansion crashed');
    n++;
    yield o;
  }
}

describe('OpenSearchOrderStore', () => {
  let ordersIndex: string;
  let store: OpenSearchOrderStore;

  beforeEach(async () => {
    ordersIndex = t.nextOrdersIndex();
    store = new OpenSearchOrderStore({ client: t.client, ordersIndex, replicas: 0, batchMaxOrders: 100 });
    await store.init();
  });

  afterEach(async () => {
    await t.dropLayout(ordersIndex);
  });

  it('resumes a save interrupted mid-stream: no order is written twice, every order ends up stored', async () => {
    const orders = Array.from({ length: 450 }, (_, i) => makeTestOrder(3, i + 1));
    // The stream dies after 250 orders: the batches sent before are kept.
    await expect(store.saveOrders(stream(orders, 250))).rejects.toThrow('expansion crashed');
    // A failed save skips its final refresh; refresh here to count what it left behind.
    await t.client.indices.refresh({ index: ordersIndex });
    const counts = await store.countByStatus({ requestId: 3 });
    expect(counts.pending).toBeGreaterThan(0);
    expect(counts.pending).toBeLessThanOrEqual(250);
    const resumed = await store.saveOrders(stream(orders));
    expect(resumed.failed).toEqual([]);
    expect(resumed.written + resumed.existing).toBe(450);
    expect(resumed.existing).toBe(counts.pending);
    // No duplicates: exactly one document per order id.
    const total = await t.client.count({ index: ordersIndex });
    expect(total.body.count).toBe(450);
  });

  it('surfaces every order the mapping rejects, with its id and reason, and writes the others', async () => {
    const orders = Array.from({ length: 250 }, (_, i) => makeTestOrder(4, i + 1));
    // `dynamic: strict`: an unknown field is rejected; `timeout` is a short like Wazuh's.
    (orders[10] as unknown as { extra: string }).extra = 'not in the mapping';
    (orders[150] as Order).command.timeout = 40_000;
    (orders[249] as Order).scheduling.next_attempt_at = 'not a date';
    const progress: number[] = [];
    const r = await store.saveOrders(orders, { onProgress: (p) => progress.push(p.failed) });
    expect(r.written).toBe(247);
    expect(r.failed.map((f) => f.id)).toEqual(['4-11', '4-151', '4-250']);
    for (const f of r.failed) expect(f.reason).toMatch(/^[a-z_]+_exception/);
    expect(progress[progress.length - 1]).toBe(3);
    expect(await store.getOrder('4-11')).toBeUndefined();
    expect(await store.getOrder('4-12')).toBeDefined();
  });

  it('reports orders without integer ids as failed instead of writing them', async () => {
    const bad = makeTestOrder(5, 1);
    (bad.command as { order_id: unknown }).order_id = 'x';
    const r = await store.saveOrders([bad, makeTestOrder(5, 2)]);
    expect(r).toEqual({ written: 1, existing: 0, failed: [{ id: '5-x', reason: expect.any(String) }] });
  });

  it('bounds batches by bytes as well as by count', async () => {
    const small = new OpenSearchOrderStore({
      client: t.client,
      ordersIndex,
      batchMaxOrders: 1000,
      batchMaxBytes: 8 * 1024,
    });
    const orders = Array.from({ length: 60 }, (_, i) => {
      // Ids 10..69: every order serialises to the same size.
      const o = makeTestOrder(6, i + 10);
      o.command.action.args = { blob: 'x'.repeat(1000) };
      return o;
    });
    let batches = 0;
    const r = await small.saveOrders(orders, { onProgress: () => batches++ });
    expect(r.written).toBe(60);
    const perOrder = Buffer.byteLength(`{"create":{"_id":"6-10"}}\n${JSON.stringify(orders[0])}\n`);
    const perBatch = Math.floor((8 * 1024) / perOrder);
    expect(perBatch).toBeLessThan(10);
    expect(batches).toBe(Math.ceil(60 / perBatch));
  });

  it('gives read-after-write with the default refresh policies (saves and transitions)', async () => {
    const r = await store.saveOrders(Array.from({ length: 250 }, (_, i) => makeTestOrder(7, i + 1)));
    expect(r.written).toBe(250);
    // Searches and aggregations see the save as soon as it returns.
    expect((await store.countByStatus({ requestId: 7 })).pending).toBe(250);
    const [claimed] = await store.claimDue({
      owner: 'a',
      leaseMs: 60_000,
      limit: 1,
      now: new Date(BASE.getTime() + 1000),
    });
    const sent = structuredClone(claimed!.order);
    sent.command.status = 'sent';
    const [out] = await store.writeConditional([{ id: claimed!.id, rev: claimed!.rev, order: sent }]);
    expect(out?.ok).toBe(true);
    expect(await store.countByStatus({ requestId: 7 })).toEqual({
      pending: 249,
      sent: 1,
      success: 0,
      failure: 0,
    });
    expect((await store.listOrders({ status: 'sent' }, { size: 10 })).items.map((s) => s.id)).toEqual([
      claimed!.id,
    ]);
  });

  it('claims across several parallel bulks with one refresh, so the next search sees every lease', async () => {
    // batchMaxOrders 100: 350 leases go out as 4 bulks, in parallel, then one refresh.
    await store.saveOrders(Array.from({ length: 350 }, (_, i) => makeTestOrder(4, i + 1)));
    const now = new Date(BASE.getTime() + 60_000);
    const claimed = await store.claimDue({ owner: 'a', leaseMs: 60_000, limit: 1000, now });
    expect(claimed).toHaveLength(350);
    const leased = await t.client.count({
      index: ordersIndex,
      body: { query: { term: { 'scheduling.lease_owner': 'a' } } },
    });
    expect(leased.body.count).toBe(350);
    expect(await store.claimDue({ owner: 'b', leaseMs: 60_000, limit: 1000, now })).toEqual([]);

    // Verdicts written unsearchable: applied, and read by id at once.
    const sent = claimed.map((c) => ({
      id: c.id,
      rev: c.rev,
      order: { ...c.order, command: { ...c.order.command, status: 'sent' as const } },
    }));
    const outcomes = await store.writeConditional(sent, { searchable: false });
    expect(outcomes.filter((o) => o.ok)).toHaveLength(350);
    const read = await store.getOrders(claimed.map((c) => c.id));
    expect(read.every((o) => o.order.command.status === 'sent')).toBe(true);
    // Nothing is claimable by id any more either.
    const ids = claimed.slice(0, 20).map((c) => c.id);
    expect(await store.claimByIds({ owner: 'b', leaseMs: 60_000, now, ids })).toEqual([]);
  });

  it('with claimRefresh false, a run of claims skips its own unrefreshed leases instead of re-reading them', async () => {
    const index = t.nextOrdersIndex();
    const lazy = new OpenSearchOrderStore({
      client: t.client,
      ordersIndex: index,
      replicas: 0,
      saveRefresh: true,
      claimRefresh: false,
      searchLagMs: 600_000,
    });
    await lazy.init();
    try {
      await lazy.saveOrders(Array.from({ length: 30 }, (_, i) => makeTestOrder(5, i + 1)));
      // No periodic refresh at all: every search sees the orders as saved (pending, no lease).
      await t.client.indices.putSettings({ index, body: { index: { refresh_interval: '-1' } } });
      const now = new Date(BASE.getTime() + 60_000);
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const claimed = await lazy.claimDue({ owner: 'a', leaseMs: 60_000, limit: 10, now });
        expect(claimed).toHaveLength(10);
        for (const c of claimed) seen.add(c.id);
      }
      expect(seen.size).toBe(30);
      expect(await lazy.claimDue({ owner: 'a', leaseMs: 60_000, limit: 10, now })).toEqual([]);
      // Another store does not know these leases: its stale hits lose their conditional writes.
      const other = new OpenSearchOrderStore({ client: t.client, ordersIndex: index, replicas: 0 });
      expect(await other.claimDue({ owner: 'b', leaseMs: 60_000, limit: 30, now })).toEqual([]);
    } finally {
      await t.dropLayout(index);
    }
  });

  it('a write naming one id twice across bulks still lets only the first win', async () => {
    await store.saveOrders(Array.from({ length: 150 }, (_, i) => makeTestOrder(6, i + 1)));
    const all = await store.getOrders(Array.from({ length: 150 }, (_, i) => `6-${i + 1}`));
    const first = all[0]!;
    const writes = all.map((o) => ({ id: o.id, rev: o.rev, order: o.order }));
    // The same id and revision again at the end, in another bulk (batchMaxOrders 100).
    writes.push({ id: first.id, rev: first.rev, order: first.order });
    const outcomes = await store.writeConditional(writes);
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect(outcomes[150]).toMatchObject({ ok: false, reason: 'conflict' });
  });

  it('stores action args and result data of any shape side by side (flat_object), returning them unchanged', async () => {
    const a = makeTestOrder(8, 1);
    a.command.action.args = {
      key: 'a string',
      list: [1, 'two', { three: 3 }],
      nested: { deep: { deeper: true } },
    };
    const b = makeTestOrder(8, 2);
    b.command.action.args = { key: { now: 'an object' }, nested: 'a string now' };
    b.command.result = { code: 70000, message: 'big code', data: { any: ['thing', 1, null] } };
    b.command.status = 'sent';
    const r = await store.saveOrders([a, b]);
    expect(r).toEqual({ written: 2, existing: 0, failed: [] });
    expect((await store.getOrder('8-1'))?.order).toEqual(a);
    expect((await store.getOrder('8-2'))?.order).toEqual(b);
  });

  it('at the smallest response bound, an order with the largest args and result data the sidecar allows is still read', async () => {
    // The sidecar's bounds at their limits: opensearch.maxResponseBytes 65,536 (its minimum),
    // limits.maxResultDataBytes half of it (32,768), limits.maxArgsBytes at its default (16,384).
    const small = new OpenSearchOrderStore({
      client: t.client,
      ordersIndex,
      replicas: 0,
      maxResponseBytes: 65_536,
    });
    /** `bytes` of JSON in leaves of at most 8,000 characters (core's flat-object-leaves.ts bounds a leaf). */
    const payload = (bytes: number): Record<string, string> => {
      const out: Record<string, string> = {};
      let left = bytes - 2;
      for (let i = 0; left > 0; i++) {
        const key = `k${String(i).padStart(2, '0')}`;
        const len = Math.min(8000, left - key.length - 5 - (i > 0 ? 1 : 0));
        out[key] = 'x'.repeat(len);
        left -= key.length + 5 + len + (i > 0 ? 1 : 0);
      }
      return out;
    };
    const args = payload(16_384);
    const data = payload(32_768);
    expect([JSON.stringify(args).length, JSON.stringify(data).length]).toEqual([16_384, 32_768]);
    const done = makeTestOrder(12, 1, { status: 'success', completedAt: BASE });
    done.command.action.args = args;
    done.command.result = { code: 0, message: 'done', data };
    expect(await small.saveOrders([done, makeTestOrder(12, 2)])).toEqual({
      written: 2,
      existing: 0,
      failed: [],
    });
    await t.client.indices.refresh({ index: ordersIndex });
    // About 50 KB of payloads: the order fits one answer whole. (With 65,536 bytes of data, which the
    // sidecar now refuses to be configured for, it fits no answer even without its args, and every listing
    // that reaches it, and the retention run, fails.)
    const one = await small.getOrder('12-1');
    expect(one?.order.command.result?.data).toEqual(data);
    expect(one?.order.command.action.args).toEqual(args);
    const listed = await small.listOrders({ requestId: 12 }, { size: 10 });
    expect(listed.items.map((o) => o.id).sort()).toEqual(['12-1', '12-2']);
    const terminal = await small.findTerminalBefore(new Date(BASE.getTime() + 1), { size: 10 });
    expect(terminal.items.map((o) => o.id)).toEqual(['12-1']);
    expect((await small.readArgs({ ids: ['12-1'], maxBytes: 16_384 })).args.get('12-1')).toEqual(args);
    // Why the sidecar bounds result data by half of the response bound: at the full bound, the order is
    // larger than any answer even without its args.
    const over = makeTestOrder(12, 3, { status: 'success', completedAt: BASE });
    over.command.result = { code: 0, message: 'done', data: payload(65_536) };
    await small.saveOrders([over]);
    await t.client.indices.refresh({ index: ordersIndex });
    const walk = async (): Promise<void> => {
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await small.listOrders({ requestId: 12 }, cursor ? { size: 10, cursor } : { size: 10 });
        cursor = page.cursor;
        if (cursor === undefined) return;
      }
    };
    await expect(walk()).rejects.toThrow('cannot be read');
    // Read by id, the same order is a store error naming it (not an unmapped parse failure).
    const byId = await small.getOrder('12-3').catch((e: unknown) => e);
    expect(byId).toBeInstanceOf(CommandManagerError);
    expect((byId as CommandManagerError).message).toBe(
      'order 12-3 of the orders index is larger than 65536 bytes without its args; it cannot be read',
    );
  });

  it('archives into <orders>-archive-YYYY.MM by the month of @timestamp', async () => {
    await store.saveOrders([
      makeTestOrder(9, 1, {
        status: 'success',
        completedAt: BASE,
        timestamp: new Date('2025-01-31T23:59:59.000Z'),
      }),
      makeTestOrder(9, 2, {
        status: 'failure',
        completedAt: BASE,
        timestamp: new Date('2025-02-01T00:00:00.000Z'),
      }),
    ]);
    const out = await store.removeOrders(await store.getOrders(['9-1', '9-2']), 'archive');
    expect(out.every((o) => o.ok)).toBe(true);
    const jan = await t.client.get({ index: `${ordersIndex}-archive-2025.01`, id: '9-1' });
    const feb = await t.client.get({ index: `${ordersIndex}-archive-2025.02`, id: '9-2' });
    expect(jan.body.found && feb.body.found).toBe(true);
    // The archive index got the explicit mapping from the archive template.
    const mapping = await t.client.indices.getMapping({ index: `${ordersIndex}-archive-2025.01` });
    const props = Object.values(mapping.body)[0]?.mappings as {
      dynamic?: string;
      properties?: Record<string, unknown>;
    };
    expect(props.dynamic).toBe('strict');
    expect(Object.keys(props.properties ?? {})).toEqual(
      expect.arrayContaining(['command', 'scheduling', 'agent']),
    );
  });

  it('maps an unreachable node to STORE_UNAVAILABLE without leaking the client error', async () => {
    // Port 9 (discard) on localhost: connection refused.
    const dead = createOpenSearchClient({
      node: 'http://127.0.0.1:9',
      maxRetries: 0,
      requestTimeoutMs: 2000,
    });
    const unreachable = new OpenSearchOrderStore({
      client: dead,
      ordersIndex,
      batchRetries: 1,
      retryDelayMs: 10,
    });
    try {
      for (const op of [
        () => unreachable.getOrder('1-1'),
        () => unreachable.saveOrders([makeTestOrder(1, 1)]),
        () => unreachable.listOrders({}, { size: 10 }),
        () => unreachable.init(),
      ]) {
        const error = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CommandManagerError);
        expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSec: expect.any(Number) });
        expect((error as Error).cause).toBeUndefined();
      }
    } finally {
      await dead.close();
    }
  });

  it('rejects a malformed cursor and a bad page size with VALIDATION_FAILED', async () => {
    await expect(store.findTerminalBefore(BASE, { size: 10, cursor: 'bm9wZQ' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(store.listOrders({}, { size: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});
