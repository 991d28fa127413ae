/**
 * The ONE contract of `LockStore`, run against the in-memory twin and the OpenSearch adapter.
 * Each test gets a fresh store.
 *
 * Semantics required: a lock is free when absent or when `now >= expiry` (expiry = acquisition time +
 * ttlMs); its owner may re-acquire it at any time, which renews the expiry to now + ttlMs; of concurrent
 * acquirers of a free lock exactly one wins; `release` by anyone but the owner does nothing; releasing an
 * unknown lock is not an error; locks of different names are independent.
 */
import type { LockStore } from '@command-manager/core';

export interface LockStoreHarness {
  store: LockStore;
  cleanup(): Promise<void>;
}

const T0 = new Date('2025-06-01T12:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

export function describeLockStoreContract(name: string, makeStore: () => Promise<LockStoreHarness>): void {
  describe(`LockStore contract: ${name}`, () => {
    let h: LockStoreHarness;
    let store: LockStore;

    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });

    afterEach(async () => {
      await h.cleanup();
    });

    it('is exclusive while live and free again at its expiry', async () => {
      expect(await store.acquire('retention', 'a', 10_000, at(0))).toBe(true);
      expect(await store.acquire('retention', 'b', 10_000, at(1))).toBe(false);
      expect(await store.acquire('retention', 'b', 10_000, at(9_999))).toBe(false);
      expect(await store.acquire('retention', 'b', 10_000, at(10_000))).toBe(true);
      expect(await store.acquire('retention', 'a', 10_000, at(10_001))).toBe(false);
    });

    it('is re-entrant for its owner, which renews the expiry', async () => {
      expect(await store.acquire('retention', 'a', 10_000, at(0))).toBe(true);
      expect(await store.acquire('retention', 'a', 10_000, at(5_000))).toBe(true);
      expect(await store.acquire('retention', 'b', 10_000, at(12_000))).toBe(false);
      expect(await store.acquire('retention', 'b', 10_000, at(15_000))).toBe(true);
    });

    it('ignores a release by someone else', async () => {
      await store.acquire('retention', 'a', 10_000, at(0));
      await store.release('retention', 'b');
      expect(await store.acquire('retention', 'b', 10_000, at(1))).toBe(false);
      expect(await store.acquire('retention', 'a', 10_000, at(2))).toBe(true);
    });

    it('is free at once after its owner releases it', async () => {
      await store.acquire('retention', 'a', 10_000, at(0));
      await store.release('retention', 'a');
      expect(await store.acquire('retention', 'b', 10_000, at(1))).toBe(true);
      // And the former owner is now the outsider.
      expect(await store.acquire('retention', 'a', 10_000, at(2))).toBe(false);
    });

    it('does not fail on releasing a lock that does not exist, or twice', async () => {
      await expect(store.release('nothing-here', 'a')).resolves.toBeUndefined();
      await store.acquire('retention', 'a', 10_000, at(0));
      await store.release('retention', 'a');
      await expect(store.release('retention', 'a')).resolves.toBeUndefined();
    });

    it('keeps locks of different names apart', async () => {
      expect(await store.acquire('retention', 'a', 10_000, at(0))).toBe(true);
      expect(await store.acquire('expiry', 'b', 10_000, at(0))).toBe(true);
      expect(await store.acquire('expiry', 'a', 10_000, at(1))).toBe(false);
      await store.release('retention', 'a');
      expect(await store.acquire('expiry', 'a', 10_000, at(2))).toBe(false);
    });

    it('lets exactly one of concurrent acquirers of a free lock win', async () => {
      const owners = ['a', 'b', 'c', 'd', 'e'];
      const won = await Promise.all(owners.map((o) => store.acquire('race', o, 10_000, at(0))));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = owners[won.indexOf(true)]!;
      for (const o of owners) expect(await store.acquire('race', o, 10_000, at(1))).toBe(o === winner);
    });

    it('lets exactly one of concurrent acquirers of an expired lock win', async () => {
      await store.acquire('race', 'old', 1_000, at(0));
      const owners = ['a', 'b', 'c'];
      const won = await Promise.all(owners.map((o) => store.acquire('race', o, 10_000, at(5_000))));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await store.acquire('race', 'old', 10_000, at(5_001))).toBe(false);
    });
  });
}
