/**
 * The ONE contract of `OrderStore`, run against the in-memory twin (core) and the OpenSearch adapter.
 * Call `describeOrderStoreContract(name, makeStore)` from a test file; each test gets a fresh, empty store.
 *
 * Semantics required (beyond the port's comments):
 * - Document id `<request_id>-<order_id>`; saves are create-only: an id held by the same order (same
 *   `@timestamp`, principal, source, user, target, action: a repeated write) counts in `existing`, one held by
 *   another request's order is `failed` with code ORDER_ID_TAKEN; neither is overwritten; `onProgress` reports cumulative totals, the last equal to the result, and a stream
 *   of 2,500 orders is written in more than one batch.
 * - Orders round-trip exactly (`toEqual`); revisions are opaque non-empty strings, change on every write,
 *   and a malformed or stale revision is a `conflict`, never an exception.
 * - `listOrders`: sorted by request_id desc, then order_id asc; `from` inclusive, `to` exclusive on
 *   `@timestamp`; cursors are positions (search_after), so an order present during the whole paging appears
 *   exactly once; a page shorter than `size` has no cursor; the last page may be empty; a malformed cursor
 *   rejects with code VALIDATION_FAILED.
 * - `claimDue`: pending, next_attempt_at <= now, delivery_timestamp > now, lease absent or
 *   lease_expires_at <= now, in `requestIds` when given; oldest first by `@timestamp`, then request_id,
 *   then order_id (numeric); writes lease_owner and lease_expires_at = now + leaseMs, nothing else.
 *   Concurrent claimers receive disjoint sets.
 * - `findDue`: the claim rule within the partitions asked (no partition = partition 0), the least recently
 *   written first (then request_id, order_id), nothing written.
 * - `claimByIds`: the same rules for the ids given, read by id (a just-saved order is claimable at
 *   once), and no lease at all (a lapsed one is the search's to judge); claimed orders in the order asked;
 *   disjoint from concurrent claims of either kind.
 * - `findOverdue`: pending or sent with delivery_timestamp < now (leased or not), by deadline ascending,
 *   then request_id, then order_id, at most `limit`.
 * - `findTerminalBefore`: success/failure with scheduling.completed_at < before (missing completed_at never
 *   matches), by completed_at ascending, then request_id, then order_id; paging survives removal of the
 *   previous pages.
 * - Results of writeConditional / removeOrders are one per input, in input order.
 * - `command.action.args` is written once, at save: `claimDue`, `claimByIds` and `findOverdue` return orders
 *   without it (the field is absent), `writeConditional` keeps the stored args whatever the order written
 *   carries, `readArgs` reads them in prefixes bounded by bytes, and `listOrders` bounds its page by bytes
 *   (at most 8 MiB of orders by default: fewer than `size` items, at least one, with a cursor).
 */
import type { Order, OrderFilter, OrderStore, StoredOrder } from '@command-manager/core';
import { CommandManagerError, ErrorCodes, partitionOfOrder, scheduleRetry } from '@command-manager/core';
import { at, makeTestOrder } from './order-fixtures';

export interface OrderStoreHarness {
  store: OrderStore;
  clock: { now(): Date; set(d: Date): void };
  cleanup(): Promise<void>;
  /** Optional: reads the archived copy of an order (archive index in OpenSearch), to check archive mode. */
  readArchived?(id: string): Promise<Order | undefined>;
}

const BASE = new Date('2025-06-01T12:00:00.000Z');
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

/** The order as a claim reads it: without `command.action.args`. */
function withoutArgs(order: Order): Order {
  const copy = structuredClone(order);
  delete (copy.command.action as { args?: unknown }).args;
  return copy;
}

/** ~1 MiB of args: 22,000 group names of 45 characters (no single leaf is large). */
function largeArgs(seed: number): Record<string, unknown> {
  return { groups: Array.from({ length: 22_000 }, (_, i) => `group-${seed}-${i}`.padEnd(45, 'x')) };
}

function ids(items: readonly StoredOrder[]): string[] {
  return items.map((s) => s.id);
}

function listSort(a: Order, b: Order): number {
  return b.command.request_id - a.command.request_id || a.command.order_id - b.command.order_id;
}

function idOf(o: Order): string {
  return `${o.command.request_id}-${o.command.order_id}`;
}

async function* streamOf(orders: Iterable<Order>): AsyncIterable<Order> {
  for (const o of orders) yield o;
}

async function listAll(store: OrderStore, filter: OrderFilter, size: number): Promise<StoredOrder[]> {
  const out: StoredOrder[] = [];
  let cursor: string | undefined;
  for (;;) {
    // No test data set is this large: more means the cursor does not advance.
    if (out.length > 10_000) throw new Error('paging does not end (items repeat)');
    const page = await store.listOrders(filter, cursor === undefined ? { size } : { size, cursor });
    expect(page.items.length).toBeLessThanOrEqual(size);
    if (page.items.length < size) expect(page.cursor).toBeUndefined();
    out.push(...page.items);
    if (page.cursor === undefined) return out;
    cursor = page.cursor;
  }
}

/** A mixed fixture for listing and counting: 3 requests, varied statuses, targets, actions and sources. */
function listingFixture(): Order[] {
  const orders: Order[] = [];
  const statuses = ['pending', 'sent', 'success', 'failure'] as const;
  for (let i = 1; i <= 30; i++) {
    orders.push(
      makeTestOrder(7, i, {
        status: statuses[i % 4],
        timestamp: at(BASE, i * SEC),
        targetId: `agent-${i % 5}`,
        action: 'restart',
        source: 'Users/Services',
      }),
    );
  }
  for (let i = 1; i <= 25; i++) {
    orders.push(
      makeTestOrder(8, i, {
        status: statuses[(i + 1) % 4],
        timestamp: at(BASE, (100 + i) * SEC),
        targetId: `agent-${i % 7}`,
        action: 'fetch-config',
        source: 'Engine',
      }),
    );
  }
  for (let i = 1; i <= 5; i++) {
    orders.push(
      makeTestOrder(12, i, {
        status: 'pending',
        timestamp: at(BASE, (200 + i) * SEC),
        targetType: 'server',
        targetId: 'vulnerability-detector',
        action: 'update',
        source: 'Content manager',
      }),
    );
  }
  return orders;
}

export function describeOrderStoreContract(name: string, makeStore: () => Promise<OrderStoreHarness>): void {
  describe(`OrderStore contract: ${name}`, () => {
    let h: OrderStoreHarness;
    let store: OrderStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
      h.clock.set(BASE);
      await store.init();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    describe('init', () => {
      it('is idempotent, also when called concurrently', async () => {
        await Promise.all([store.init(), store.init()]);
        await store.init();
        const r = await store.saveOrders([makeTestOrder(1, 1)]);
        expect(r).toEqual({ written: 1, existing: 0, failed: [] });
      });
    });

    describe('saveOrders and reads', () => {
      it('stores orders under <request_id>-<order_id> and returns them exactly, with an opaque revision', async () => {
        const orders = [makeTestOrder(5, 1), makeTestOrder(5, 2, { status: 'sent' }), makeTestOrder(6, 1)];
        const r = await store.saveOrders(orders);
        expect(r).toEqual({ written: 3, existing: 0, failed: [] });
        for (const o of orders) {
          const got = await store.getOrder(idOf(o));
          expect(got?.id).toBe(idOf(o));
          expect(got?.order).toEqual(o);
          expect(typeof got?.rev).toBe('string');
          expect(got?.rev.length).toBeGreaterThan(0);
        }
      });

      it('getOrder of an unknown id is undefined; getOrders keeps the asked order and omits unknown ids', async () => {
        await store.saveOrders([makeTestOrder(5, 1), makeTestOrder(5, 2), makeTestOrder(5, 3)]);
        expect(await store.getOrder('5-4')).toBeUndefined();
        expect(await store.getOrder('nope')).toBeUndefined();
        const got = await store.getOrders(['5-3', '9-9', '5-1']);
        expect(ids(got)).toEqual(['5-3', '5-1']);
        expect(await store.getOrders([])).toEqual([]);
      });

      it('is create-only: a repeated write of an order is counted in `existing` and never overwritten', async () => {
        const first = makeTestOrder(5, 1, { targetId: 'first' });
        await store.saveOrders([first]);
        const before = await store.getOrder('5-1');
        // The same order written again (a retried or resumed save), whatever became of the stored one.
        const r = await store.saveOrders([makeTestOrder(5, 1, { targetId: 'first', status: 'failure' })]);
        expect(r).toEqual({ written: 0, existing: 1, failed: [] });
        const after = await store.getOrder('5-1');
        expect(after?.order).toEqual(first);
        expect(after?.rev).toBe(before?.rev);
      });

      it("fails an order whose id is held by another request's order (ORDER_ID_TAKEN), never counts it", async () => {
        const first = makeTestOrder(6, 1, { targetId: 'first' });
        await store.saveOrders([first]);
        const before = await store.getOrder('6-1');
        // Same id, another request: the request id was handed out twice (a lost id counter).
        const other = makeTestOrder(6, 1, {
          targetId: 'other',
          timestamp: new Date('2025-06-02T08:00:00.000Z'),
        });
        const r = await store.saveOrders([other, makeTestOrder(6, 2)]);
        expect(r.written).toBe(1);
        expect(r.existing).toBe(0);
        expect(r.failed).toEqual([
          { id: '6-1', code: 'ORDER_ID_TAKEN', reason: expect.stringContaining('another request') },
        ]);
        const after = await store.getOrder('6-1');
        expect(after?.order).toEqual(first);
        expect(after?.rev).toBe(before?.rev);
      });

      it('resumes an interrupted save: already written orders count as existing, the rest is written', async () => {
        const all = Array.from({ length: 100 }, (_, i) => makeTestOrder(9, i + 1));
        expect(await store.saveOrders(all.slice(0, 60))).toEqual({ written: 60, existing: 0, failed: [] });
        expect(await store.saveOrders(streamOf(all))).toEqual({ written: 40, existing: 60, failed: [] });
        expect((await store.countByStatus({ requestId: 9 })).pending).toBe(100);
        const listed = await listAll(store, { requestId: 9 }, 1000);
        expect(ids(listed)).toEqual(all.map(idOf));
      });

      it('writes a stream of 2,500 orders in several batches, reporting cumulative progress', async () => {
        async function* gen(): AsyncIterable<Order> {
          for (let i = 1; i <= 2500; i++) yield makeTestOrder(42, i, { timestamp: at(BASE, i) });
        }
        const progress: Array<{ written: number; existing: number; failed: number }> = [];
        const r = await store.saveOrders(gen(), { onProgress: (p) => progress.push({ ...p }) });
        expect(r).toEqual({ written: 2500, existing: 0, failed: [] });
        // Bounded batches: 2,500 orders never go in one request.
        expect(progress.length).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < progress.length; i++) {
          const [p, q] = [progress[i - 1]!, progress[i]!];
          expect(q.written + q.existing + q.failed).toBeGreaterThan(p.written + p.existing + p.failed);
        }
        expect(progress[progress.length - 1]).toEqual({ written: 2500, existing: 0, failed: 0 });
        expect(await store.countByStatus({ requestId: 42 })).toEqual({
          pending: 2500,
          sent: 0,
          success: 0,
          failure: 0,
        });
        const listed = await listAll(store, { requestId: 42 }, 1000);
        expect(listed).toHaveLength(2500);
        expect(new Set(ids(listed)).size).toBe(2500);
        // Saved again (a full retry): everything is existing, nothing rewritten.
        const again = await store.saveOrders(gen());
        expect(again).toEqual({ written: 0, existing: 2500, failed: [] });
      });

      it('accepts an empty stream', async () => {
        expect(await store.saveOrders([])).toEqual({ written: 0, existing: 0, failed: [] });
      });

      it('keeps stored state apart from the objects callers hold', async () => {
        const o = makeTestOrder(5, 1);
        const copy = structuredClone(o);
        await store.saveOrders([o]);
        o.command.status = 'failure';
        o.agent.groups.push('mutated');
        const got = await store.getOrder('5-1');
        expect(got?.order).toEqual(copy);
        got!.order.command.status = 'success';
        expect((await store.getOrder('5-1'))?.order).toEqual(copy);
      });
    });

    describe('listOrders', () => {
      let fixture: Order[];
      beforeEach(async () => {
        fixture = listingFixture();
        // Written in shuffled order: the listing order must come from the sort, not insertion.
        const shuffled = [...fixture].sort(
          (a, b) => ((a.command.order_id * 7919) % 61) - ((b.command.order_id * 7919) % 61),
        );
        await store.saveOrders(shuffled);
      });

      function expected(pred: (o: Order) => boolean): string[] {
        return fixture.filter(pred).sort(listSort).map(idOf);
      }

      it('lists everything newest request first, then order id ascending (numeric)', async () => {
        const page = await store.listOrders({}, { size: 1000 });
        expect(ids(page.items)).toEqual(expected(() => true));
        expect(ids(page.items).slice(0, 6)).toEqual(['12-1', '12-2', '12-3', '12-4', '12-5', '8-1']);
        expect(page.cursor).toBeUndefined();
      });

      const cases: Array<[string, OrderFilter, (o: Order) => boolean]> = [
        ['requestId', { requestId: 8 }, (o) => o.command.request_id === 8],
        ['a single status', { status: 'sent' }, (o) => o.command.status === 'sent'],
        [
          'several statuses',
          { status: ['success', 'failure'] },
          (o) => ['success', 'failure'].includes(o.command.status),
        ],
        ['targetType', { targetType: 'server' }, (o) => o.command.target.type === 'server'],
        ['targetId', { targetId: 'agent-3' }, (o) => o.command.target.id === 'agent-3'],
        ['action', { action: 'fetch-config' }, (o) => o.command.action.name === 'fetch-config'],
        ['source', { source: 'Engine' }, (o) => o.command.source === 'Engine'],
        [
          'from (inclusive)',
          { from: at(BASE, 110 * SEC).toISOString() },
          (o) => Date.parse(o['@timestamp']) >= BASE.getTime() + 110 * SEC,
        ],
        [
          'to (exclusive)',
          { to: at(BASE, 10 * SEC).toISOString() },
          (o) => Date.parse(o['@timestamp']) < BASE.getTime() + 10 * SEC,
        ],
        [
          'a combination',
          {
            requestId: 7,
            status: ['pending', 'sent'],
            targetId: 'agent-2',
            from: at(BASE, 5 * SEC).toISOString(),
            to: at(BASE, 28 * SEC).toISOString(),
          },
          (o) =>
            o.command.request_id === 7 &&
            ['pending', 'sent'].includes(o.command.status) &&
            o.command.target.id === 'agent-2' &&
            Date.parse(o['@timestamp']) >= BASE.getTime() + 5 * SEC &&
            Date.parse(o['@timestamp']) < BASE.getTime() + 28 * SEC,
        ],
        ['a filter that matches nothing', { requestId: 7, source: 'Engine' }, () => false],
      ];

      it.each(cases)('filters by %s', async (_label, filter, pred) => {
        const want = expected(pred);
        const page = await store.listOrders(filter, { size: 1000 });
        expect(ids(page.items)).toEqual(want);
        expect(page.cursor).toBeUndefined();
        if (_label !== 'a filter that matches nothing') expect(want.length).toBeGreaterThan(0);
      });

      it('includes an order exactly at `from` and excludes one exactly at `to`', async () => {
        const page = await store.listOrders(
          { from: at(BASE, 3 * SEC).toISOString(), to: at(BASE, 5 * SEC).toISOString() },
          { size: 100 },
        );
        expect(ids(page.items)).toEqual(['7-3', '7-4']);
      });

      it.each([1, 7, 30, 59, 60])('pages with size %i without duplicates or gaps', async (size) => {
        const all = await listAll(store, {}, size);
        expect(ids(all)).toEqual(expected(() => true));
      });

      it('pages a filtered listing', async () => {
        const all = await listAll(store, { status: ['pending', 'sent'] }, 4);
        expect(ids(all)).toEqual(expected((o) => ['pending', 'sent'].includes(o.command.status)));
      });

      it('returns each order present during the whole paging exactly once, although others are written and removed between pages', async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let round = 0;
        const removed = new Set<string>();
        do {
          const page = await store.listOrders({}, cursor === undefined ? { size: 8 } : { size: 8, cursor });
          seen.push(...ids(page.items));
          cursor = page.cursor;
          round++;
          // Between pages: new orders before and after the cursor position, and a removal further on.
          await store.saveOrders([
            makeTestOrder(100 + round, 1),
            makeTestOrder(1, round),
            makeTestOrder(7, 100 + round),
          ]);
          const victim = round === 2 ? await store.getOrder('7-29') : undefined;
          if (victim) {
            await store.removeOrders([victim], 'delete');
            removed.add(victim.id);
          }
        } while (cursor !== undefined && round < 100);
        expect(cursor).toBeUndefined();
        expect(new Set(seen).size).toBe(seen.length);
        const mustSee = expected(() => true).filter((id) => !removed.has(id));
        for (const id of mustSee) expect(seen).toContain(id);
        expect(removed.size).toBe(1);
      });

      it('rejects a malformed cursor with VALIDATION_FAILED', async () => {
        await expect(store.listOrders({}, { size: 5, cursor: 'not a cursor!' })).rejects.toMatchObject({
          code: 'VALIDATION_FAILED',
        });
      });

      it('returns an empty page without cursor when nothing matches', async () => {
        expect(await store.listOrders({ requestId: 999 }, { size: 10 })).toEqual({ items: [] });
      });
    });

    describe('countByStatus', () => {
      it('counts every status, zero included, under a filter', async () => {
        const fixture = listingFixture();
        await store.saveOrders(fixture);
        const count = (pred: (o: Order) => boolean): Record<string, number> => {
          const c: Record<string, number> = { pending: 0, sent: 0, success: 0, failure: 0 };
          for (const o of fixture) if (pred(o)) c[o.command.status]!++;
          return c;
        };
        expect(await store.countByStatus({})).toEqual(count(() => true));
        expect(await store.countByStatus({ requestId: 7 })).toEqual(count((o) => o.command.request_id === 7));
        expect(await store.countByStatus({ requestId: 12 })).toEqual({
          pending: 5,
          sent: 0,
          success: 0,
          failure: 0,
        });
        expect(await store.countByStatus({ source: 'Engine', targetId: 'agent-1' })).toEqual(
          count((o) => o.command.source === 'Engine' && o.command.target.id === 'agent-1'),
        );
        expect(await store.countByStatus({ requestId: 999 })).toEqual({
          pending: 0,
          sent: 0,
          success: 0,
          failure: 0,
        });
      });

      it('counts an empty store as zeros', async () => {
        expect(await store.countByStatus({})).toEqual({ pending: 0, sent: 0, success: 0, failure: 0 });
      });
    });

    describe('writeConditional', () => {
      beforeEach(async () => {
        await store.saveOrders([makeTestOrder(3, 1), makeTestOrder(3, 2), makeTestOrder(3, 3)]);
      });

      it('applies a write made with the current revision and returns the new one', async () => {
        const s = (await store.getOrder('3-1'))!;
        const next = structuredClone(s.order);
        next.command.status = 'sent';
        next.scheduling.sent_at = BASE.toISOString();
        const [out] = await store.writeConditional([{ id: s.id, rev: s.rev, order: next }]);
        expect(out).toMatchObject({ id: '3-1', ok: true });
        const stored = (await store.getOrder('3-1'))!;
        expect(stored.order).toEqual(next);
        expect(out?.ok && out.rev).toBe(stored.rev);
        expect(stored.rev).not.toBe(s.rev);
      });

      it('with searchable: false, applies the write and reads by id and conditional writes see it at once', async () => {
        const s = (await store.getOrder('3-2'))!;
        const next = structuredClone(s.order);
        next.scheduling.last_error = 'x';
        const [out] = await store.writeConditional([{ id: s.id, rev: s.rev, order: next }], {
          searchable: false,
        });
        expect(out).toMatchObject({ id: '3-2', ok: true });
        expect(await store.getOrder('3-2')).toEqual({ id: '3-2', rev: out?.ok && out.rev, order: next });
        // The old revision is stale at once, searchable or not.
        expect((await store.writeConditional([{ id: s.id, rev: s.rev, order: s.order }]))[0]).toMatchObject({
          reason: 'conflict',
        });
      });

      it('reports a stale revision as conflict and keeps the stored order', async () => {
        const s = (await store.getOrder('3-1'))!;
        const a = structuredClone(s.order);
        a.command.status = 'sent';
        await store.writeConditional([{ id: s.id, rev: s.rev, order: a }]);
        const b = structuredClone(s.order);
        b.command.status = 'failure';
        const [out] = await store.writeConditional([{ id: s.id, rev: s.rev, order: b }]);
        expect(out).toMatchObject({ id: '3-1', ok: false, reason: 'conflict' });
        expect((await store.getOrder('3-1'))?.order.command.status).toBe('sent');
      });

      it('reports a malformed revision as conflict, never an exception', async () => {
        const s = (await store.getOrder('3-2'))!;
        const [out] = await store.writeConditional([{ id: s.id, rev: 'garbage-revision', order: s.order }]);
        expect(out).toMatchObject({ id: '3-2', ok: false, reason: 'conflict' });
      });

      it('reports an unknown id as not_found and does not create it', async () => {
        const [out] = await store.writeConditional([{ id: '3-99', rev: '1', order: makeTestOrder(3, 99) }]);
        expect(out).toMatchObject({ id: '3-99', ok: false, reason: 'not_found' });
        expect(await store.getOrder('3-99')).toBeUndefined();
      });

      it('answers one outcome per write, in order, for a mixed batch', async () => {
        const [s1, s2] = await store.getOrders(['3-1', '3-2']);
        const o1 = structuredClone(s1!.order);
        o1.scheduling.attempts = 1;
        await store.writeConditional([{ id: s1!.id, rev: s1!.rev, order: o1 }]);
        const o2 = structuredClone(s2!.order);
        o2.scheduling.attempts = 2;
        const out = await store.writeConditional([
          { id: '3-1', rev: s1!.rev, order: o1 },
          { id: '3-404', rev: s1!.rev, order: makeTestOrder(3, 404) },
          { id: '3-2', rev: s2!.rev, order: o2 },
        ]);
        expect(out.map((o) => [o.id, o.ok ? 'ok' : o.reason])).toEqual([
          ['3-1', 'conflict'],
          ['3-404', 'not_found'],
          ['3-2', 'ok'],
        ]);
        expect((await store.getOrder('3-2'))?.order.scheduling.attempts).toBe(2);
      });

      it('lets only the first of two writes with the same revision in one batch win', async () => {
        const s = (await store.getOrder('3-3'))!;
        const a = structuredClone(s.order);
        a.command.status = 'sent';
        const b = structuredClone(s.order);
        b.command.status = 'failure';
        const out = await store.writeConditional([
          { id: s.id, rev: s.rev, order: a },
          { id: s.id, rev: s.rev, order: b },
        ]);
        expect(out.map((o) => o.ok)).toEqual([true, false]);
        expect((await store.getOrder('3-3'))?.order.command.status).toBe('sent');
      });

      it('lets exactly one of concurrent writers with the same revision win', async () => {
        const s = (await store.getOrder('3-3'))!;
        const writers = ['success', 'failure', 'sent'] as const;
        const outs = await Promise.all(
          writers.map((status) => {
            const o = structuredClone(s.order);
            o.command.status = status;
            return store.writeConditional([{ id: s.id, rev: s.rev, order: o }]);
          }),
        );
        const winners = outs.map(([o]) => o).filter((o) => o?.ok);
        expect(winners).toHaveLength(1);
        for (const [o] of outs) if (!o?.ok) expect(o).toMatchObject({ reason: 'conflict' });
      });

      it('accepts an empty batch', async () => {
        expect(await store.writeConditional([])).toEqual([]);
      });
    });

    describe('findDue', () => {
      const now = at(BASE, MIN);
      const inPartition = (orderId: number, partition: number | undefined, extra = {}): Order => {
        const o = makeTestOrder(6, orderId, { timestamp: at(BASE, orderId * SEC), ...extra });
        if (partition === undefined) delete o.scheduling.partition;
        else o.scheduling.partition = partition;
        return o;
      };

      it('finds the claimable orders of the partitions asked, in write order, without writing anything', async () => {
        await store.saveOrders([
          inPartition(1, 3),
          inPartition(2, 5),
          inPartition(3, 4),
          inPartition(4, undefined), // written before partitions: partition 0
          inPartition(5, 3, { status: 'sent' }),
          inPartition(6, 3, { nextAttemptAt: at(now, 1) }),
          inPartition(7, 5, { leaseOwner: 'pull-consumer', leaseExpiresAt: at(now, 1) }), // live lease
          inPartition(8, 0),
        ]);
        const before = await store.getOrders(['6-1', '6-2']);
        const found = await store.findDue({ limit: 100, now, partitions: [3, 5] });
        expect(ids(found.orders)).toEqual(['6-1', '6-2']);
        // Not full: nothing after these.
        expect(found.next).toBeUndefined();
        // Read as stored, revision included, without args (delivery reads them).
        expect(found.orders).toEqual(before.map((b) => ({ ...b, order: withoutArgs(b.order) })));
        expect(await store.getOrders(['6-1', '6-2'])).toEqual(before);
        expect(ids((await store.findDue({ limit: 100, now, partitions: [0] })).orders)).toEqual([
          '6-4',
          '6-8',
        ]);
        expect(await store.findDue({ limit: 10, now, partitions: [] })).toEqual({ orders: [] });
        expect(await store.findDue({ limit: 0, now, partitions: [3] })).toEqual({ orders: [] });
      });

      it('takes the order least recently written first: a rewritten order goes behind those written since', async () => {
        // Written 3, 1, 2 (timestamps say 1, 2, 3): the write order decides, not the timestamp.
        await store.saveOrders([inPartition(3, 1)]);
        await store.saveOrders([inPartition(1, 1)]);
        await store.saveOrders([inPartition(2, 1)]);
        expect(ids((await store.findDue({ limit: 10, now, partitions: [1] })).orders)).toEqual([
          '6-3',
          '6-1',
          '6-2',
        ]);
        // Order 3 is retried (written again, due at once): it now queues behind 1 and 2.
        const [three] = await store.getOrders(['6-3']);
        const retried = scheduleRetry(three!.order, now, 0, 'management API unavailable');
        const [written] = await store.writeConditional([{ id: '6-3', rev: three!.rev, order: retried }]);
        expect(written).toMatchObject({ ok: true });
        const found = await store.findDue({ limit: 2, now, partitions: [1] });
        expect(ids(found.orders)).toEqual(['6-1', '6-2']);
        const rest = await store.findDue({ limit: 2, now, partitions: [1], after: found.next! });
        expect(ids(rest.orders)).toEqual(['6-3']);
      });

      it('goes on from the place a full answer gave, to the end of the due orders', async () => {
        await store.saveOrders([1, 2, 3, 4, 5].map((n) => inPartition(n, 2)));
        const seen: string[] = [];
        let after: string | undefined;
        for (let i = 0; i < 5; i++) {
          const page = await store.findDue({ limit: 2, now, partitions: [2], ...(after && { after }) });
          seen.push(...ids(page.orders));
          after = page.next;
          if (after === undefined) break;
        }
        expect(seen).toEqual(['6-1', '6-2', '6-3', '6-4', '6-5']);
        expect(after).toBeUndefined();
      });
    });

    describe('claimDue', () => {
      // Test orders have a 300 s timeout from BASE, so their deadline is after `now`.
      const now = at(BASE, MIN);

      it('claims only pending orders that are due, within their deadline and without a live lease', async () => {
        const t = at(BASE, 0);
        await store.saveOrders([
          makeTestOrder(1, 1, { timestamp: t }), // due
          makeTestOrder(1, 2, { timestamp: t, nextAttemptAt: now }), // due exactly now
          makeTestOrder(1, 3, { timestamp: t, nextAttemptAt: at(now, 1) }), // next attempt in the future
          makeTestOrder(1, 4, { timestamp: t, deadline: now }), // deadline reached exactly now
          makeTestOrder(1, 5, { timestamp: t, deadline: at(now, -1) }), // deadline passed
          makeTestOrder(1, 6, { timestamp: t, status: 'sent' }),
          makeTestOrder(1, 7, { timestamp: t, status: 'success', completedAt: t }),
          makeTestOrder(1, 8, { timestamp: t, status: 'failure', completedAt: t }),
          makeTestOrder(1, 9, { timestamp: t, leaseOwner: 'other', leaseExpiresAt: at(now, 1) }), // live lease
          makeTestOrder(1, 10, { timestamp: t, leaseOwner: 'other', leaseExpiresAt: now }), // lease expires now
          makeTestOrder(1, 11, { timestamp: t, leaseOwner: 'other', leaseExpiresAt: at(now, -MIN) }), // expired
        ]);
        const claimed = await store.claimDue({ owner: 'me', leaseMs: 30 * SEC, limit: 100, now });
        expect(ids(claimed).sort()).toEqual(['1-1', '1-10', '1-11', '1-2']);
      });

      it('writes only the lease, returns the current revision, and leaves other fields untouched', async () => {
        const original = makeTestOrder(1, 1, { timestamp: BASE });
        await store.saveOrders([original]);
        const before = (await store.getOrder('1-1'))!;
        const [c] = await store.claimDue({ owner: 'sidecar-a', leaseMs: 30 * SEC, limit: 10, now });
        expect(c?.id).toBe('1-1');
        expect(c?.order.scheduling.lease_owner).toBe('sidecar-a');
        expect(Date.parse(c!.order.scheduling.lease_expires_at!)).toBe(now.getTime() + 30 * SEC);
        const expectedOrder = structuredClone(original);
        expectedOrder.scheduling.lease_owner = 'sidecar-a';
        expectedOrder.scheduling.lease_expires_at = c!.order.scheduling.lease_expires_at!;
        // A claim reads no args: the delivery reads them (readArgs).
        expect(c?.order).toEqual(withoutArgs(expectedOrder));
        const stored = (await store.getOrder('1-1'))!;
        expect(stored).toEqual({ ...c, order: expectedOrder });
        expect(stored.rev).not.toBe(before.rev);
        // The claim's revision is the one to write with; the pre-claim one is stale.
        const sent = structuredClone(stored.order);
        sent.command.status = 'sent';
        expect(
          (await store.writeConditional([{ id: '1-1', rev: before.rev, order: sent }]))[0],
        ).toMatchObject({
          reason: 'conflict',
        });
        expect((await store.writeConditional([{ id: '1-1', rev: c!.rev, order: sent }]))[0]).toMatchObject({
          ok: true,
        });
      });

      it('takes the oldest first: @timestamp, then request id, then order id (numeric), up to limit', async () => {
        const orders = [
          makeTestOrder(5, 10, { timestamp: at(BASE, 2 * SEC) }),
          makeTestOrder(5, 2, { timestamp: at(BASE, 2 * SEC) }),
          makeTestOrder(4, 99, { timestamp: at(BASE, 2 * SEC) }),
          makeTestOrder(9, 1, { timestamp: at(BASE, 1 * SEC) }),
          makeTestOrder(3, 1, { timestamp: at(BASE, 3 * SEC) }),
          makeTestOrder(2, 1, { timestamp: at(BASE, 4 * SEC) }),
        ];
        await store.saveOrders(orders);
        const first = await store.claimDue({ owner: 'a', leaseMs: MIN, limit: 4, now });
        expect(ids(first)).toEqual(['9-1', '4-99', '5-2', '5-10']);
        const rest = await store.claimDue({ owner: 'a', leaseMs: MIN, limit: 4, now });
        expect(ids(rest)).toEqual(['3-1', '2-1']);
      });

      it('honours requestIds', async () => {
        await store.saveOrders([
          makeTestOrder(1, 1),
          makeTestOrder(2, 1),
          makeTestOrder(3, 1),
          makeTestOrder(3, 2),
        ]);
        const claimed = await store.claimDue({
          owner: 'a',
          leaseMs: MIN,
          limit: 10,
          now,
          requestIds: [3, 1],
        });
        expect(ids(claimed).sort()).toEqual(['1-1', '3-1', '3-2']);
        expect(await store.claimDue({ owner: 'a', leaseMs: MIN, limit: 10, now, requestIds: [] })).toEqual(
          [],
        );
      });

      it('honours a target filter (type and id together)', async () => {
        await store.saveOrders([
          makeTestOrder(1, 1, { targetType: 'agent', targetId: '001' }),
          makeTestOrder(1, 2, { targetType: 'agent', targetId: '002' }),
          makeTestOrder(2, 1, { targetType: 'group', targetId: '001' }),
          makeTestOrder(3, 1, { targetType: 'agent', targetId: '001' }),
        ]);
        const claimed = await store.claimDue({
          owner: 'a',
          leaseMs: MIN,
          limit: 10,
          now,
          target: { type: 'agent', id: '001' },
        });
        expect(ids(claimed).sort()).toEqual(['1-1', '3-1']);
      });

      it('does not hand a live lease to anyone, the holder included; an expired one is reclaimable', async () => {
        await store.saveOrders([makeTestOrder(1, 1, { timestamp: BASE })]);
        const [a] = await store.claimDue({ owner: 'a', leaseMs: 30 * SEC, limit: 10, now });
        expect(a?.id).toBe('1-1');
        expect(await store.claimDue({ owner: 'b', leaseMs: 30 * SEC, limit: 10, now })).toEqual([]);
        expect(
          await store.claimDue({ owner: 'a', leaseMs: 30 * SEC, limit: 10, now: at(now, 29 * SEC) }),
        ).toEqual([]);
        const later = at(now, 30 * SEC);
        const [b] = await store.claimDue({ owner: 'b', leaseMs: 30 * SEC, limit: 10, now: later });
        expect(b?.id).toBe('1-1');
        expect(b?.order.scheduling.lease_owner).toBe('b');
        expect(Date.parse(b!.order.scheduling.lease_expires_at!)).toBe(later.getTime() + 30 * SEC);
        // The former holder's revision is stale: its write loses.
        const late = structuredClone(a!.order);
        late.command.status = 'sent';
        expect((await store.writeConditional([{ id: '1-1', rev: a!.rev, order: late }]))[0]).toMatchObject({
          reason: 'conflict',
        });
      });

      it('gives concurrent claimers disjoint sets, and every due order is claimed in the end', async () => {
        const orders = Array.from({ length: 40 }, (_, i) =>
          makeTestOrder(1, i + 1, { timestamp: at(BASE, i) }),
        );
        await store.saveOrders(orders);
        const owners = ['a', 'b', 'c'];
        const rounds = await Promise.all(
          owners.map((owner) => store.claimDue({ owner, leaseMs: MIN, limit: 40, now })),
        );
        const claimedBy = new Map<string, string>();
        const record = (owner: string, got: StoredOrder[]): void => {
          for (const s of got) {
            expect(claimedBy.has(s.id)).toBe(false);
            claimedBy.set(s.id, owner);
            expect(s.order.scheduling.lease_owner).toBe(owner);
          }
        };
        rounds.forEach((got, i) => record(owners[i]!, got));
        // Claimers that lost races come back for what is left.
        for (let i = 0; i < 50 && claimedBy.size < 40; i++) {
          const more = await Promise.all(
            owners.map((owner) => store.claimDue({ owner, leaseMs: MIN, limit: 7, now })),
          );
          more.forEach((got, j) => record(owners[j]!, got));
        }
        expect(claimedBy.size).toBe(40);
        for (const s of await store.getOrders(orders.map(idOf))) {
          expect(s.order.scheduling.lease_owner).toBe(claimedBy.get(s.id));
        }
      });

      it('respects limit under concurrency', async () => {
        await store.saveOrders(Array.from({ length: 25 }, (_, i) => makeTestOrder(1, i + 1)));
        const got = await Promise.all(
          ['a', 'b', 'c'].map((owner) => store.claimDue({ owner, leaseMs: MIN, limit: 10, now })),
        );
        for (const g of got) expect(g.length).toBeLessThanOrEqual(10);
        const all = got.flatMap(ids);
        expect(new Set(all).size).toBe(all.length);
      });

      it('claims nothing from an empty store', async () => {
        expect(await store.claimDue({ owner: 'a', leaseMs: MIN, limit: 10, now })).toEqual([]);
      });
    });

    // Optional port method: skipped for a store that does not implement it.
    describe('claimByIds', () => {
      const now = at(BASE, MIN);

      it('claims the given orders by id with the claimDue rules, in the order asked, skipping the rest and any leased order', async () => {
        const t = at(BASE, 0);
        await store.saveOrders([
          makeTestOrder(1, 1, { timestamp: t }), // due
          makeTestOrder(1, 2, { timestamp: t, nextAttemptAt: at(now, 1) }), // not due yet
          makeTestOrder(1, 3, { timestamp: t, deadline: at(now, -1) }), // deadline passed
          makeTestOrder(1, 4, { timestamp: t, status: 'sent' }),
          makeTestOrder(1, 5, { timestamp: t, leaseOwner: 'other', leaseExpiresAt: at(now, 1) }), // live lease
          // A lapsed lease is the claim search's to judge, not a reader's by id (core's `isClaimableById`).
          makeTestOrder(1, 6, { timestamp: t, leaseOwner: 'other', leaseExpiresAt: at(now, -MIN) }),
          makeTestOrder(1, 7, { timestamp: t }), // due
          makeTestOrder(2, 1, { timestamp: t }), // due, not asked for
        ]);
        const ask = ['1-7', '1-6', '1-1', '1-2', '1-3', '1-4', '1-5', '9-9'];
        const claimed = await store.claimByIds({ owner: 'me', leaseMs: 30 * SEC, now, ids: ask });
        expect(ids(claimed)).toEqual(['1-7', '1-1']);
        for (const c of claimed) {
          expect(c.order.scheduling.lease_owner).toBe('me');
          expect(Date.parse(c.order.scheduling.lease_expires_at!)).toBe(now.getTime() + 30 * SEC);
          // The returned revision is the current one: reads by id agree at once (and have the args).
          const read = (await store.getOrder(c.id))!;
          expect(c.order.command.action).not.toHaveProperty('args');
          expect({ ...read, order: withoutArgs(read.order) }).toEqual(c);
          expect(read.order.command.action.args).toEqual({});
        }
        expect((await store.getOrder('2-1'))?.order.scheduling.lease_owner).toBeNull();
        // Claimed orders now carry a live lease: neither claim path hands them out again.
        expect(await store.claimByIds({ owner: 'b', leaseMs: 30 * SEC, now, ids: ['1-1', '1-7'] })).toEqual(
          [],
        );
        expect(ids(await store.claimDue({ owner: 'b', leaseMs: 30 * SEC, limit: 10, now }))).toEqual([
          '1-6',
          '2-1',
        ]);
      });

      it('claims a just-saved order at once (no wait for it to become searchable)', async () => {
        await store.saveOrders([makeTestOrder(3, 1, { timestamp: BASE })]);
        const [c] = await store.claimByIds({ owner: 'me', leaseMs: MIN, now, ids: ['3-1'] });
        expect(c?.id).toBe('3-1');
      });

      it('gives concurrent claimers (by id and by search) disjoint sets', async () => {
        const orders = Array.from({ length: 30 }, (_, i) =>
          makeTestOrder(1, i + 1, { timestamp: at(BASE, i) }),
        );
        await store.saveOrders(orders);
        const all = orders.map(idOf);
        const got = await Promise.all([
          store.claimByIds({ owner: 'a', leaseMs: MIN, now, ids: all }),
          store.claimByIds({ owner: 'b', leaseMs: MIN, now, ids: [...all].reverse() }),
          store.claimDue({ owner: 'c', leaseMs: MIN, limit: 30, now }),
        ]);
        const claimed = got.flatMap(ids);
        expect(new Set(claimed).size).toBe(claimed.length);
        const owners = ['a', 'b', 'c'];
        got.forEach((list, i) => {
          for (const s of list) expect(s.order.scheduling.lease_owner).toBe(owners[i]);
        });
        for (const s of await store.getOrders(claimed)) {
          expect(owners[got.findIndex((list) => list.some((c) => c.id === s.id))]).toBe(
            s.order.scheduling.lease_owner,
          );
        }
      });

      it('claims nothing for an empty list', async () => {
        expect(await store.claimByIds({ owner: 'a', leaseMs: MIN, now, ids: [] })).toEqual([]);
      });
    });

    describe('args: written once, read in bounded batches', () => {
      const now = at(BASE, MIN);
      const withArgs = (requestId: number, orderId: number, args: Record<string, unknown>): Order => {
        const o = makeTestOrder(requestId, orderId, { timestamp: BASE });
        o.command.action.args = args;
        return o;
      };

      it('a write of an order read without args (or with other args) keeps the stored args', async () => {
        await store.saveOrders([withArgs(1, 1, { groups: ['a', 'b'] })]);
        const [claimed] = await store.claimDue({ owner: 'me', leaseMs: MIN, limit: 10, now });
        expect(claimed!.order.command.action).not.toHaveProperty('args');
        const sent = structuredClone(claimed!.order);
        sent.command.status = 'sent';
        const [out] = await store.writeConditional([{ id: '1-1', rev: claimed!.rev, order: sent }]);
        expect(out).toMatchObject({ ok: true });
        const read = (await store.getOrder('1-1'))!;
        expect(read.order.command.status).toBe('sent');
        expect(read.order.command.action.args).toEqual({ groups: ['a', 'b'] });
        const other = structuredClone(read.order);
        other.command.action.args = { groups: ['z'] };
        await store.writeConditional([{ id: '1-1', rev: read.rev, order: other }]);
        expect((await store.getOrder('1-1'))!.order.command.action.args).toEqual({ groups: ['a', 'b'] });
      });

      it('a write marked withArgs replaces the document, args included, still only on the revision read', async () => {
        await store.saveOrders([withArgs(1, 1, { groups: ['a', 'b'] })]);
        const {
          orders: [found],
        } = await store.findDue({ limit: 10, now, partitions: [partitionOfOrder(withArgs(1, 1, {}))] });
        const { args } = await store.readArgs({ ids: ['1-1'], maxBytes: 1024 * 1024 });
        const sent = structuredClone(found!.order);
        sent.command.status = 'sent';
        sent.command.action.args = args.get('1-1')!;
        const [out] = await store.writeConditional([
          { id: '1-1', rev: found!.rev, order: sent, withArgs: true },
        ]);
        expect(out).toMatchObject({ ok: true });
        const read = (await store.getOrder('1-1'))!;
        expect(read.order).toEqual(sent);
        expect(read.rev).toBe(out?.ok ? out.rev : undefined);
        // The revision it was written on is spent: a second writer holding it loses.
        const again = await store.writeConditional([
          { id: '1-1', rev: found!.rev, order: sent, withArgs: true },
        ]);
        expect(again[0]).toMatchObject({ ok: false, reason: 'conflict' });
      });

      it('getOrders with { args: false } returns orders without args', async () => {
        await store.saveOrders([withArgs(1, 1, { groups: ['a'] }), withArgs(1, 2, { groups: ['b'] })]);
        const got = await store.getOrders(['1-2', '1-1'], { args: false });
        expect(ids(got)).toEqual(['1-2', '1-1']);
        for (const s of got) expect(s.order.command.action).not.toHaveProperty('args');
        expect((await store.getOrders(['1-1']))[0]?.order.command.action.args).toEqual({ groups: ['a'] });
      });

      it('removeOrders does not archive an order read without its args (keeps it); deleting it is fine', async () => {
        await store.saveOrders([
          makeTestOrder(1, 1, { status: 'success', completedAt: BASE }),
          makeTestOrder(1, 2, { status: 'success', completedAt: BASE }),
        ]);
        const stripped = await store.getOrders(['1-1', '1-2'], { args: false });
        const archived = await store.removeOrders([stripped[0]!], 'archive');
        expect(archived[0]).toMatchObject({ ok: false, reason: 'error' });
        expect(await store.getOrder('1-1')).toBeDefined();
        expect(await store.removeOrders([stripped[1]!], 'delete')).toEqual([
          { id: '1-2', ok: true, rev: expect.any(String) },
        ]);
        expect(await store.getOrder('1-2')).toBeUndefined();
      });

      it('findOverdue returns orders without args', async () => {
        await store.saveOrders([withArgs(1, 1, { groups: ['a'] })]);
        const [o] = await store.findOverdue(at(BASE, 10 * HOUR), 10);
        expect(o?.id).toBe('1-1');
        expect(o!.order.command.action).not.toHaveProperty('args');
      });

      it('readArgs reads the args of a prefix of the ids, bounded by bytes; one too large alone is named', async () => {
        await store.saveOrders([
          withArgs(1, 1, { groups: ['a'] }),
          withArgs(1, 2, largeArgs(2)),
          withArgs(1, 3, largeArgs(3)),
          withArgs(1, 4, largeArgs(4)),
        ]);
        const small = await store.readArgs({ ids: ['1-1', '9-9'], maxBytes: 1024 * 1024 });
        expect(small).toEqual({ consumed: 2, args: new Map([['1-1', { groups: ['a'] }]]), tooLarge: [] });

        const all = ['1-2', '1-3', '1-4'];
        const seen = new Map<string, Record<string, unknown>>();
        for (let rest = all; rest.length > 0; ) {
          const read = await store.readArgs({ ids: rest, maxBytes: 2.5 * 1024 * 1024 });
          expect(read.consumed).toBeGreaterThanOrEqual(1);
          expect(read.consumed).toBeLessThan(3);
          expect(read.tooLarge).toEqual([]);
          for (const [id, a] of read.args) seen.set(id, a);
          rest = rest.slice(read.consumed);
        }
        expect([...seen.keys()]).toEqual(all);
        expect(seen.get('1-3')).toEqual(largeArgs(3));

        const tiny = await store.readArgs({ ids: all, maxBytes: 64 * 1024 });
        expect(tiny).toEqual({ consumed: 1, args: new Map(), tooLarge: ['1-2'] });
      });

      it('readArgs bounds the args themselves: args of exactly maxBytes are read, one byte more is too large', async () => {
        // `{"blob":"x…x"}`: 11 bytes of JSON around the string.
        const sized = (bytes: number): Record<string, unknown> => ({ blob: 'x'.repeat(bytes - 11) });
        const maxBytes = 4096;
        expect(Buffer.byteLength(JSON.stringify(sized(maxBytes)))).toBe(maxBytes);
        await store.saveOrders([
          withArgs(1, 1, sized(maxBytes)),
          withArgs(1, 2, sized(maxBytes + 1)),
          withArgs(1, 3, sized(maxBytes / 2)),
          withArgs(1, 4, sized(maxBytes / 2)),
          withArgs(1, 5, { groups: ['a'] }),
        ]);
        expect(await store.readArgs({ ids: ['1-1', '1-2'], maxBytes })).toEqual({
          consumed: 1,
          args: new Map([['1-1', sized(maxBytes)]]),
          tooLarge: [],
        });
        expect(await store.readArgs({ ids: ['1-2', '1-3'], maxBytes })).toEqual({
          consumed: 1,
          args: new Map(),
          tooLarge: ['1-2'],
        });
        // Two halves fill the bound exactly; a third order does not fit beside them.
        expect(await store.readArgs({ ids: ['1-3', '1-4', '1-5'], maxBytes })).toEqual({
          consumed: 2,
          args: new Map([
            ['1-3', sized(maxBytes / 2)],
            ['1-4', sized(maxBytes / 2)],
          ]),
          tooLarge: [],
        });
      });

      it('an order larger than the read bound (8 MiB) alone is read without its args by getOrder and listOrders', async () => {
        // ~9 MiB of args: 9,000 names of 1,000 characters.
        const huge = { groups: Array.from({ length: 9000 }, (_, i) => `h${i}-`.padEnd(1000, 'x')) };
        await store.saveOrders([
          withArgs(1, 1, { groups: ['a'] }),
          withArgs(1, 2, huge),
          withArgs(1, 3, { groups: ['c'] }),
        ]);
        const one = (await store.getOrder('1-2'))!;
        expect(one.order.command.action).not.toHaveProperty('args');
        expect(one.order.command.action.name).toBe('restart');
        const seen: Array<[string, unknown]> = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.listOrders(
            { requestId: 1 },
            cursor === undefined ? { size: 10 } : { size: 10, cursor },
          );
          for (const s of page.items) seen.push([s.id, s.order.command.action.args]);
          cursor = page.cursor;
          if (cursor === undefined) break;
        }
        expect(seen).toEqual([
          ['1-1', { groups: ['a'] }],
          ['1-2', undefined],
          ['1-3', { groups: ['c'] }],
        ]);
        // The args are still stored: delivery reads them with a bound of its own.
        const read = await store.readArgs({ ids: ['1-2'], maxBytes: 16 * 1024 * 1024 });
        expect(read.args.get('1-2')).toEqual(huge);
      });

      it('an order larger than the read bound (8 MiB) even without its args cannot be read: a store error naming it', async () => {
        // ~9 MiB of result data: 600 leaves of 15,000 characters (a leaf may hold 16 KiB).
        const data = Object.fromEntries(
          Array.from({ length: 600 }, (_, i) => [`k${i}`, String(i).padEnd(15_000, 'x')]),
        );
        const huge = withArgs(1, 2, { groups: ['b'] });
        huge.command.status = 'success';
        huge.command.result = { code: 0, message: 'done', data };
        await store.saveOrders([withArgs(1, 1, { groups: ['a'] }), huge]);
        const byId = await store.getOrder('1-2').catch((e: unknown) => e);
        expect(byId).toBeInstanceOf(CommandManagerError);
        expect(byId).toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
        expect((byId as Error).message).toMatch(/^order 1-2 .* cannot be read$/);
        // The other order is still read.
        expect((await store.getOrder('1-1'))?.order.command.action.args).toEqual({ groups: ['a'] });
      });

      it('listOrders bounds a page of large orders by bytes: fewer items than asked, a cursor, every order once', async () => {
        // ~11 MiB of orders, more than one page may hold (8 MiB).
        await store.saveOrders(Array.from({ length: 11 }, (_, i) => withArgs(1, i + 1, largeArgs(i))));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listOrders(
            { requestId: 1 },
            cursor === undefined ? { size: 11 } : { size: 11, cursor },
          );
          pages++;
          expect(page.items.length).toBeLessThan(11);
          expect(Buffer.byteLength(JSON.stringify(page.items))).toBeLessThanOrEqual(8.5 * 1024 * 1024);
          seen.push(...ids(page.items));
          cursor = page.cursor;
        } while (cursor !== undefined && pages < 20);
        expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => `1-${i + 1}`));
        expect(pages).toBeGreaterThan(1);
      });
    });

    describe('findOverdue', () => {
      const now = at(BASE, HOUR);

      it('finds pending and sent orders whose deadline has passed, oldest deadline first, up to limit', async () => {
        await store.saveOrders([
          makeTestOrder(1, 1, { deadline: at(now, -3 * MIN) }),
          makeTestOrder(1, 2, { status: 'sent', deadline: at(now, -5 * MIN) }),
          makeTestOrder(1, 3, { deadline: at(now, -1) }),
          makeTestOrder(1, 4, { deadline: now }), // not before now
          makeTestOrder(1, 5, { deadline: at(now, MIN) }),
          makeTestOrder(1, 6, { status: 'success', deadline: at(now, -MIN), completedAt: BASE }),
          makeTestOrder(1, 7, { status: 'failure', deadline: at(now, -MIN), completedAt: BASE }),
          makeTestOrder(1, 8, { deadline: at(now, -4 * MIN), leaseOwner: 'x', leaseExpiresAt: at(now, MIN) }),
          makeTestOrder(2, 1, { status: 'sent', deadline: at(now, -3 * MIN) }),
        ]);
        expect(ids(await store.findOverdue(now, 100))).toEqual(['1-2', '1-8', '1-1', '2-1', '1-3']);
        expect(ids(await store.findOverdue(now, 2))).toEqual(['1-2', '1-8']);
        expect(await store.findOverdue(at(BASE, 0), 100)).toEqual([]);
      });
    });

    describe('findTerminalBefore', () => {
      const before = at(BASE, 60 * MIN);

      it('finds success/failure orders completed before the bound, paged in completion order', async () => {
        const orders: Order[] = [];
        for (let i = 1; i <= 23; i++) {
          orders.push(
            makeTestOrder(1, i, {
              status: i % 2 ? 'success' : 'failure',
              completedAt: at(BASE, ((i * 7) % 23) * SEC),
            }),
          );
        }
        orders.push(
          makeTestOrder(2, 1, { status: 'success', completedAt: before }), // not before
          makeTestOrder(2, 2, { status: 'failure', completedAt: at(before, MIN) }),
          makeTestOrder(2, 3, { status: 'success' }), // no completed_at
          makeTestOrder(2, 4, { status: 'pending' }),
          makeTestOrder(2, 5, { status: 'sent' }),
          makeTestOrder(3, 2, { status: 'success', completedAt: at(BASE, 3 * SEC) }), // tie on completed_at
        );
        await store.saveOrders(orders);
        const want = orders
          .filter((o) => o.command.request_id === 1 || idOf(o) === '3-2')
          .sort(
            (a, b) =>
              Date.parse(a.scheduling.completed_at!) - Date.parse(b.scheduling.completed_at!) ||
              a.command.request_id - b.command.request_id ||
              a.command.order_id - b.command.order_id,
          )
          .map(idOf);
        expect(want).toHaveLength(24);
        const got: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 100; i++) {
          const page = await store.findTerminalBefore(
            before,
            cursor === undefined ? { size: 5 } : { size: 5, cursor },
          );
          expect(page.items.length).toBeLessThanOrEqual(5);
          if (page.items.length < 5) expect(page.cursor).toBeUndefined();
          got.push(...ids(page.items));
          cursor = page.cursor;
          if (!cursor) break;
        }
        expect(got).toEqual(want);
      });

      it('keeps paging correctly while each page is removed (the retention loop)', async () => {
        const orders = Array.from({ length: 37 }, (_, i) =>
          makeTestOrder(4, i + 1, { status: 'success', completedAt: at(BASE, i * SEC) }),
        );
        await store.saveOrders(orders);
        const removed: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 100; i++) {
          const page = await store.findTerminalBefore(
            before,
            cursor === undefined ? { size: 10 } : { size: 10, cursor },
          );
          const out = await store.removeOrders(page.items, 'delete');
          expect(out.every((o) => o.ok)).toBe(true);
          removed.push(...ids(page.items));
          cursor = page.cursor;
          if (!cursor) break;
        }
        expect(removed).toEqual(orders.map(idOf));
        expect(await store.countByStatus({ requestId: 4 })).toEqual({
          pending: 0,
          sent: 0,
          success: 0,
          failure: 0,
        });
      });

      it('returns an empty page when nothing is old enough', async () => {
        await store.saveOrders([makeTestOrder(1, 1, { status: 'success', completedAt: before })]);
        expect(await store.findTerminalBefore(before, { size: 10 })).toEqual({ items: [] });
      });
    });

    describe('removeOrders', () => {
      beforeEach(async () => {
        await store.saveOrders([
          makeTestOrder(6, 1, { status: 'success', completedAt: BASE }),
          makeTestOrder(6, 2, { status: 'failure', completedAt: BASE }),
          makeTestOrder(6, 3, { status: 'success', completedAt: BASE }),
        ]);
      });

      it('deletes orders read at their current revision', async () => {
        const stored = await store.getOrders(['6-1', '6-2']);
        const out = await store.removeOrders(stored, 'delete');
        expect(out.map((o) => [o.id, o.ok])).toEqual([
          ['6-1', true],
          ['6-2', true],
        ]);
        expect(await store.getOrder('6-1')).toBeUndefined();
        expect(await store.getOrder('6-2')).toBeUndefined();
        expect(ids((await store.listOrders({ requestId: 6 }, { size: 10 })).items)).toEqual(['6-3']);
        expect(await store.countByStatus({ requestId: 6 })).toEqual({
          pending: 0,
          sent: 0,
          success: 1,
          failure: 0,
        });
      });

      it('keeps an order changed since it was read (stale revision: conflict), and reports unknown ones', async () => {
        const [s1, s2] = await store.getOrders(['6-1', '6-2']);
        const changed = structuredClone(s1!.order);
        changed.command.result = { code: 0, message: 'late' };
        await store.writeConditional([{ id: s1!.id, rev: s1!.rev, order: changed }]);
        const out = await store.removeOrders(
          [s1!, { id: '6-404', rev: s2!.rev, order: makeTestOrder(6, 404) }, s2!],
          'delete',
        );
        expect(out.map((o) => [o.id, o.ok ? 'ok' : o.reason])).toEqual([
          ['6-1', 'conflict'],
          ['6-404', 'not_found'],
          ['6-2', 'ok'],
        ]);
        expect((await store.getOrder('6-1'))?.order).toEqual(changed);
      });

      it('archives: the order leaves the stream and a copy is kept', async () => {
        const [s] = await store.getOrders(['6-3']);
        const out = await store.removeOrders([s!], 'archive');
        expect(out[0]).toMatchObject({ id: '6-3', ok: true });
        expect(await store.getOrder('6-3')).toBeUndefined();
        expect((await store.listOrders({ requestId: 6 }, { size: 10 })).items).toHaveLength(2);
        if (h.readArchived) expect(await h.readArchived('6-3')).toEqual(s!.order);
      });

      it('keeps an order changed since it was read, in archive mode too', async () => {
        const s = (await store.getOrder('6-3'))!;
        const changed = structuredClone(s.order);
        changed.scheduling.last_error = 'changed';
        await store.writeConditional([{ id: s.id, rev: s.rev, order: changed }]);
        expect((await store.removeOrders([s], 'archive'))[0]).toMatchObject({
          ok: false,
          reason: 'conflict',
        });
        expect((await store.getOrder('6-3'))?.order).toEqual(changed);
      });

      it('accepts an empty list', async () => {
        expect(await store.removeOrders([], 'delete')).toEqual([]);
      });
    });
  });
}
