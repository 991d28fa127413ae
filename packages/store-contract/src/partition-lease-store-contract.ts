/**
 * The ONE contract of `PartitionLeaseStore`, run against the in-memory twin and the OpenSearch adapter.
 * Each test gets a fresh store.
 *
 * Semantics required: a partition never written is absent from `readLeases`; the first write creates it
 * (`rev` undefined) and of concurrent creators exactly one wins; every later write is conditional on the
 * revision read, and of concurrent writers on one revision exactly one wins; a write that returned is seen
 * by the next read; partitions are independent, and only those below the count asked are read.
 */
import type { PartitionLeaseStore } from '@command-manager/core';

export interface PartitionLeaseStoreHarness {
  store: PartitionLeaseStore;
  cleanup(): Promise<void>;
}

export function describePartitionLeaseStoreContract(
  name: string,
  makeStore: () => Promise<PartitionLeaseStoreHarness>,
): void {
  describe(`PartitionLeaseStore contract: ${name}`, () => {
    let h: PartitionLeaseStoreHarness;
    let store: PartitionLeaseStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('reads nothing before the first write, and every write at once after it', async () => {
      expect(await store.readLeases(8)).toEqual([]);
      const rev = await store.writeLease({ partition: 3, owner: 'a', counter: 1 }, undefined);
      expect(rev).toEqual(expect.any(String));
      expect(await store.readLeases(8)).toEqual([{ partition: 3, owner: 'a', counter: 1, rev }]);
      const next = await store.writeLease({ partition: 3, owner: null, counter: 2 }, rev);
      expect(next).toEqual(expect.any(String));
      expect(next).not.toBe(rev);
      expect(await store.readLeases(8)).toEqual([{ partition: 3, owner: null, counter: 2, rev: next }]);
    });

    it('refuses a write on a revision that is no longer current, and a second create', async () => {
      const first = await store.writeLease({ partition: 0, owner: 'a', counter: 1 }, undefined);
      expect(await store.writeLease({ partition: 0, owner: 'b', counter: 1 }, undefined)).toBeUndefined();
      const second = await store.writeLease({ partition: 0, owner: 'a', counter: 2 }, first);
      expect(second).toBeDefined();
      expect(await store.writeLease({ partition: 0, owner: 'b', counter: 3 }, first)).toBeUndefined();
      const [lease] = await store.readLeases(1);
      expect(lease).toMatchObject({ owner: 'a', counter: 2, rev: second });
    });

    it('lets exactly one of concurrent writers on one revision win', async () => {
      const owners = ['a', 'b', 'c', 'd'];
      const created = await Promise.all(
        owners.map((owner) => store.writeLease({ partition: 1, owner, counter: 1 }, undefined)),
      );
      expect(created.filter((r) => r !== undefined)).toHaveLength(1);
      const [lease] = await store.readLeases(2);
      expect(lease?.owner).toBe(owners[created.findIndex((r) => r !== undefined)]);
      const taken = await Promise.all(
        owners.map((owner) => store.writeLease({ partition: 1, owner, counter: 2 }, lease?.rev)),
      );
      expect(taken.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('keeps partitions apart and reads only those below the count asked', async () => {
      await store.writeLease({ partition: 0, owner: 'a', counter: 1 }, undefined);
      await store.writeLease({ partition: 5, owner: 'b', counter: 7 }, undefined);
      expect((await store.readLeases(5)).map((l) => l.partition)).toEqual([0]);
      const all = await store.readLeases(6);
      expect(all.map((l) => [l.partition, l.owner, l.counter])).toEqual([
        [0, 'a', 1],
        [5, 'b', 7],
      ]);
    });
  });
}
