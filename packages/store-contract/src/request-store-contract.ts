/**
 * The ONE contract of `RequestStore`, run against the in-memory twin and the OpenSearch adapter.
 * Each test gets a fresh, empty store (after `init`).
 *
 * Semantics required: `createRequest` is create-only (false and no overwrite when the id exists);
 * `putRequest` replaces or creates (last writer wins); records round-trip exactly. `reserveIdempotency`
 * is create-only: of concurrent reservations of one key exactly one gets `undefined`; later ones get the
 * FIRST fingerprint (never overwritten) and, once completed, the response; completing a key that was never
 * reserved rejects with code NOT_FOUND. Keys are arbitrary strings up to 200 characters.
 * `releaseIdempotency` drops a reservation that has no response (a retry is then processed) and leaves an
 * answered key alone; a reservation older than its `reservationTtlMs` (its writer died) is taken over by
 * the next reservation; `removeExpired` deletes idempotency entries and finished request records created
 * before their bounds, never a record still `writing`. `findStaleWrites` finds the records still `writing`
 * whose heartbeat is older than its bound. `createRequestsWithOrders` writes each record create-only and
 * its orders into the harness's order store: a repeated call counts the record `created` and its orders
 * `existing`; an entry whose id holds ANOTHER record is `exists` and leaves none of its orders stored.
 */
import type { OrderStore, RequestRecord, RequestStore } from '@command-manager/core';
import { makeTestOrder } from './order-fixtures';

export interface RequestStoreHarness {
  store: RequestStore;
  /** The order store that `createRequestsWithOrders` writes into (set up with the store's `init`). */
  orders: OrderStore;
  cleanup(): Promise<void>;
}

/** A request record for contract tests: a group command still `writing`, with `fields` over it. */
export function makeTestRecord(requestId: number, fields: Partial<RequestRecord> = {}): RequestRecord {
  return {
    request_id: requestId,
    created_at: '2025-06-01T12:00:00.000Z',
    principal: 'tester',
    command: {
      source: 'Users/Services',
      user: 'wazuh',
      target: { type: 'group', id: 'Test' },
      action: { name: 'restart', args: {} },
      timeout: 100,
      max_concurrency: 10,
      max_errors: '10%',
    },
    total_orders: 3,
    unresolved: [],
    write_state: 'writing',
    rollout_stopped_at: null,
    ...fields,
  };
}

const record = makeTestRecord;

export function describeRequestStoreContract(
  name: string,
  makeStore: () => Promise<RequestStoreHarness>,
): void {
  describe(`RequestStore contract: ${name}`, () => {
    let h: RequestStoreHarness;
    let store: RequestStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
      await h.orders.init();
      await store.init();
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('init is idempotent', async () => {
      await Promise.all([store.init(), store.init()]);
      expect(await store.createRequest(record(1))).toBe(true);
    });

    describe('stale writes', () => {
      // Record writes need no refresh (reads by id are real time), so a store's search may lag behind
      // them by its refresh interval: poll until the answer settles.
      async function staleIds(before: string, expected: number[]): Promise<number[]> {
        let ids: number[] = [];
        for (let i = 0; i < 40; i++) {
          ids = (await store.findStaleWrites(new Date(before), 10))
            .map((r) => r.request_id)
            .sort((a, b) => a - b);
          if (JSON.stringify(ids) === JSON.stringify(expected)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        return ids;
      }

      it('finds records still writing whose heartbeat is older than the bound, and only those', async () => {
        await store.createRequest(record(1, { updated_at: '2025-06-01T12:00:05.000Z' }));
        await store.createRequest(record(2, { updated_at: '2025-06-01T12:10:00.000Z' }));
        await store.createRequest(
          record(3, { write_state: 'complete', updated_at: '2025-06-01T12:00:05.000Z' }),
        );
        await store.createRequest(record(4)); // no heartbeat: created_at counts
        expect(await staleIds('2025-06-01T12:05:00.000Z', [1, 4])).toEqual([1, 4]);
        await store.putRequest(record(1, { write_state: 'partial', updated_at: '2025-06-01T12:06:00.000Z' }));
        expect(await staleIds('2025-06-01T12:05:00.000Z', [4])).toEqual([4]);
      });
    });

    describe('createRequestsWithOrders', () => {
      const orderIds = async (requestId: number, n: number): Promise<string[]> =>
        (
          await h.orders.getOrders(
            Array.from({ length: n }, (_, i) => `${requestId}-${i + 1}`),
            { args: false },
          )
        ).map((o) => o.id);

      it('writes every record and its orders in one call, a record without orders alone', async () => {
        const a = record(21, { total_orders: 2, write_state: 'complete' });
        const b = record(22);
        const out = await store.createRequestsWithOrders([
          { record: a, orders: [makeTestOrder(21, 1), makeTestOrder(21, 2)] },
          { record: b, orders: [] },
        ]);
        expect(out).toEqual([
          { record: 'created', written: 2, existing: 0, failed: [] },
          { record: 'created', written: 0, existing: 0, failed: [] },
        ]);
        expect(await store.getRequest(21)).toEqual(a);
        expect(await store.getRequest(22)).toEqual(b);
        expect(await orderIds(21, 3)).toEqual(['21-1', '21-2']);
      });

      it('a repeated call finds its own record and orders: created, orders existing, nothing twice', async () => {
        const entry = { record: record(23), orders: [makeTestOrder(23, 1)] };
        await store.createRequestsWithOrders([entry]);
        expect(await store.createRequestsWithOrders([entry])).toEqual([
          { record: 'created', written: 0, existing: 1, failed: [] },
        ]);
        expect(await orderIds(23, 2)).toEqual(['23-1']);
      });

      it("an id holding another record is 'exists': that record is kept and none of the orders stays", async () => {
        const theirs = record(24, { principal: 'someone-else' });
        expect(await store.createRequest(theirs)).toBe(true);
        const out = await store.createRequestsWithOrders([
          { record: record(24), orders: [makeTestOrder(24, 1), makeTestOrder(24, 2)] },
        ]);
        expect(out).toEqual([{ record: 'exists', written: 0, existing: 0, failed: [] }]);
        expect(await store.getRequest(24)).toEqual(theirs);
        expect(await orderIds(24, 2)).toEqual([]);
      });
    });

    describe('request records', () => {
      it('creates a record once and reads it back exactly', async () => {
        const r = record(11, { unresolved: ['agent-9'], write_errors: [{ id: '11-2', reason: 'boom' }] });
        expect(await store.createRequest(r)).toBe(true);
        expect(await store.getRequest(11)).toEqual(r);
      });

      it('refuses a second record with the same id and keeps the first', async () => {
        const first = record(12, { principal: 'first' });
        expect(await store.createRequest(first)).toBe(true);
        expect(await store.createRequest(record(12, { principal: 'second' }))).toBe(false);
        expect(await store.getRequest(12)).toEqual(first);
      });

      it('lets exactly one of concurrent creators win', async () => {
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((p) => store.createRequest(record(13, { principal: p }))),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = ['a', 'b', 'c', 'd'][results.indexOf(true)];
        expect((await store.getRequest(13))?.principal).toBe(winner);
      });

      it('reads an unknown request as undefined', async () => {
        expect(await store.getRequest(404)).toBeUndefined();
      });

      it('putRequest replaces a record, and creates one that is absent', async () => {
        await store.createRequest(record(14));
        const done = record(14, { write_state: 'complete', rollout_stopped_at: '2025-06-01T13:00:00.000Z' });
        await store.putRequest(done);
        expect(await store.getRequest(14)).toEqual(done);
        const fresh = record(15, { write_state: 'partial' });
        await store.putRequest(fresh);
        expect(await store.getRequest(15)).toEqual(fresh);
      });

      it('keeps records apart from the objects callers hold', async () => {
        const r = record(16);
        await store.createRequest(r);
        r.unresolved.push('mutated');
        const got = (await store.getRequest(16))!;
        expect(got.unresolved).toEqual([]);
        got.unresolved.push('mutated');
        expect((await store.getRequest(16))?.unresolved).toEqual([]);
      });
    });

    describe('idempotency keys', () => {
      it('reserves a new key, then reports it in progress, then completed with its response', async () => {
        expect(await store.reserveIdempotency('key-1', 'fp-1')).toBeUndefined();
        const pending = await store.reserveIdempotency('key-1', 'fp-1');
        expect(pending?.fingerprint).toBe('fp-1');
        expect(pending?.response).toBeUndefined();
        const response = {
          index: 'wazuh-commands',
          commands: [{ request_id: 7, orders: 3, unresolved: [] }],
        };
        await store.completeIdempotency('key-1', response);
        expect(await store.reserveIdempotency('key-1', 'fp-1')).toEqual({ fingerprint: 'fp-1', response });
      });

      it('never overwrites the first fingerprint', async () => {
        await store.reserveIdempotency('key-2', 'fp-a');
        expect((await store.reserveIdempotency('key-2', 'fp-b'))?.fingerprint).toBe('fp-a');
        expect((await store.reserveIdempotency('key-2', 'fp-c'))?.fingerprint).toBe('fp-a');
      });

      it('keeps keys independent', async () => {
        expect(await store.reserveIdempotency('key-x', 'fp')).toBeUndefined();
        expect(await store.reserveIdempotency('key-y', 'fp')).toBeUndefined();
        await store.completeIdempotency('key-x', { a: 1 });
        expect((await store.reserveIdempotency('key-y', 'fp'))?.response).toBeUndefined();
      });

      it('lets exactly one of concurrent reservations of a key go on', async () => {
        const results = await Promise.all(
          ['f1', 'f2', 'f3', 'f4', 'f5'].map((fp) => store.reserveIdempotency('key-race', fp)),
        );
        expect(results.filter((r) => r === undefined)).toHaveLength(1);
        const winnerFp = ['f1', 'f2', 'f3', 'f4', 'f5'][results.indexOf(undefined)];
        for (const r of results) if (r) expect(r.fingerprint).toBe(winnerFp);
      });

      it('accepts keys with any characters, up to 200 long', async () => {
        for (const key of ['a/b c?#%&=+', 'ключ-ü-🔑', 'k'.repeat(200)]) {
          expect(await store.reserveIdempotency(key, 'fp')).toBeUndefined();
          await store.completeIdempotency(key, { key });
          expect(await store.reserveIdempotency(key, 'fp')).toEqual({ fingerprint: 'fp', response: { key } });
        }
      });

      it('releases a reservation that has no response, so that the next reservation goes on', async () => {
        expect(await store.reserveIdempotency('key-rel', 'fp-1')).toBeUndefined();
        await store.releaseIdempotency('key-rel');
        expect(await store.reserveIdempotency('key-rel', 'fp-2')).toBeUndefined();
        expect((await store.reserveIdempotency('key-rel', 'fp-2'))?.fingerprint).toBe('fp-2');
      });

      it('never releases an answered key, and releasing an unknown key does nothing', async () => {
        await store.reserveIdempotency('key-done', 'fp');
        await store.completeIdempotency('key-done', { ok: 1 });
        await store.releaseIdempotency('key-done');
        await store.releaseIdempotency('never-seen');
        expect(await store.reserveIdempotency('key-done', 'fp')).toEqual({
          fingerprint: 'fp',
          response: { ok: 1 },
        });
      });

      it('lets a retry take over a reservation older than its TTL (its writer died), once', async () => {
        const t0 = Date.parse('2025-06-01T12:00:00.000Z');
        const at = (ms: number): { now: Date; reservationTtlMs: number } => ({
          now: new Date(t0 + ms),
          reservationTtlMs: 60_000,
        });
        expect(await store.reserveIdempotency('key-ttl', 'fp-1', at(0))).toBeUndefined();
        expect(await store.reserveIdempotency('key-ttl', 'fp-1', at(59_000))).toEqual({
          fingerprint: 'fp-1',
        });
        const racers = await Promise.all(
          ['fp-2', 'fp-3', 'fp-4'].map((fp) => store.reserveIdempotency('key-ttl', fp, at(61_000))),
        );
        expect(racers.filter((r) => r === undefined)).toHaveLength(1);
        const winner = ['fp-2', 'fp-3', 'fp-4'][racers.indexOf(undefined)];
        expect((await store.reserveIdempotency('key-ttl', 'fp-9', at(62_000)))?.fingerprint).toBe(winner);
        await store.completeIdempotency('key-ttl', { done: true });
        // An answered key is replayed whatever its age.
        expect(await store.reserveIdempotency('key-ttl', winner as string, at(10_000_000))).toEqual({
          fingerprint: winner,
          response: { done: true },
        });
      });

      it('removes idempotency entries and finished request records created before their bounds', async () => {
        const old = { now: new Date('2025-06-01T10:00:00.000Z'), reservationTtlMs: 60_000 };
        const fresh = { now: new Date('2025-06-01T14:00:00.000Z'), reservationTtlMs: 60_000 };
        await store.reserveIdempotency('key-old', 'fp', old);
        await store.completeIdempotency('key-old', { a: 1 });
        await store.reserveIdempotency('key-fresh', 'fp', fresh);
        await store.createRequest(
          record(21, { created_at: '2025-06-01T10:00:00.000Z', write_state: 'complete' }),
        );
        await store.createRequest(
          record(22, { created_at: '2025-06-01T10:00:00.000Z', write_state: 'writing' }),
        );
        await store.createRequest(
          record(23, { created_at: '2025-06-01T14:00:00.000Z', write_state: 'complete' }),
        );
        const bounds = {
          idempotency: new Date('2025-06-01T12:00:00.000Z'),
          requests: new Date('2025-06-01T12:00:00.000Z'),
        };
        // A store's search may lag its writes by a refresh interval: repeat until both are gone.
        let removed = 0;
        for (let i = 0; i < 40 && removed < 2; i++) {
          removed += await store.removeExpired(bounds, 100);
          if (removed < 2) await new Promise((r) => setTimeout(r, 100));
        }
        expect(removed).toBe(2);
        expect(await store.getRequest(21)).toBeUndefined();
        expect((await store.getRequest(22))?.write_state).toBe('writing');
        expect(await store.getRequest(23)).toBeDefined();
        expect(await store.reserveIdempotency('key-old', 'fp-new', fresh)).toBeUndefined();
        expect((await store.reserveIdempotency('key-fresh', 'fp', fresh))?.fingerprint).toBe('fp');
      });

      it('rejects completing a key that was never reserved with NOT_FOUND', async () => {
        await expect(store.completeIdempotency('never-reserved', { a: 1 })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      });
    });
  });
}
