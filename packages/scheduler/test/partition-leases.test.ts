import { InMemoryPartitionLeaseStore, MAX_PARTITIONS } from '@command-manager/core';
import type { PartitionLease, PartitionLeaseStore, PartitionLeaseWrite } from '@command-manager/core';
import { LeaseWorld } from './support/lease-world';

const P = 64;
const INTERVAL_MS = 3_000;
const LEASE_MS = 9_000;
const world = (store?: PartitionLeaseStore): LeaseWorld =>
  new LeaseWorld({ partitions: P, leaseMs: LEASE_MS, renewIntervalMs: INTERVAL_MS }, store);

/** `inner`, whose writes are applied but whose answers are lost (thrown) while `lose` says so. */
function losingAnswers(
  inner: PartitionLeaseStore,
  lose: (lease: PartitionLeaseWrite) => boolean,
): PartitionLeaseStore {
  return {
    init: () => inner.init(),
    readLeases: (n) => inner.readLeases(n),
    writeLease: async (l: PartitionLeaseWrite, rev) => {
      const written = await inner.writeLease(l, rev);
      if (lose(l)) throw new Error('connection reset');
      return written;
    },
  };
}

describe('PartitionLeaseManager', () => {
  it('lets a lone sidecar take every partition in two rounds, each usable at once', async () => {
    const w = world();
    const a = w.add('a');
    await a.tick();
    expect(a.usable()).toHaveLength(1);
    await w.interval();
    expect(a.usable()).toHaveLength(P);
    expect(a.heldCount()).toBe(P);
  });

  it('works at the largest partition count: two sidecars share all 1,024', async () => {
    const w = new LeaseWorld({ partitions: MAX_PARTITIONS, leaseMs: LEASE_MS, renewIntervalMs: INTERVAL_MS });
    w.add('a');
    w.add('b', 9e8);
    for (let i = 0; i < 6; i++) await w.interval();
    expect(w.counts().sort()).toEqual([MAX_PARTITIONS / 2, MAX_PARTITIONS / 2]);
  });

  it('shares the partitions of three simultaneous starters at fair share plus one at most', async () => {
    const w = world();
    w.add('a', 0);
    w.add('b', 5e9);
    w.add('c', -7e8);
    for (let i = 0; i < 6; i++) await w.interval();
    const counts = w.counts();
    expect(counts.reduce((x, y) => x + y, 0)).toBe(P);
    for (const n of counts) expect(n).toBeLessThanOrEqual(Math.ceil(P / 3));
    for (const n of counts) expect(n).toBeGreaterThanOrEqual(Math.floor(P / 3) - 1);
  });

  it('lets three sidecars starting at once, their rounds racing, use every partition by the third round: no steal', async () => {
    // 16 partitions: each sidecar's target is 6, and three targets (18) are more than there are partitions.
    const w = new LeaseWorld({ partitions: 16, leaseMs: LEASE_MS, renewIntervalMs: INTERVAL_MS });
    const managers = ['a', 'b', 'c'].map((o, i) => w.add(o, i * 1e6));
    const stolen: number[] = [];
    const tick = async (): Promise<void> => {
      w.clock.advance(INTERVAL_MS);
      for (const s of await Promise.all(managers.map((m) => m.tick()))) stolen.push(s.stolen);
      w.expectDisjoint();
    };
    for (let i = 0; i < 3; i++) await tick();
    // A steal would leave its partition unusable for a lease period (three rounds).
    expect(stolen.reduce((x, y) => x + y, 0)).toBe(0);
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(16);
    for (const n of w.counts()) expect(n).toBeLessThanOrEqual(6);
    for (const n of w.counts()) expect(n).toBeGreaterThanOrEqual(5);
  });

  it('gives a joining fourth sidecar its share within two lease periods, never using a partition twice', async () => {
    const w = world();
    for (const o of ['a', 'b', 'c']) w.add(o);
    for (let i = 0; i < 6; i++) await w.interval();
    w.add('d', 123_456);
    const joinedAt = w.clock.ms;
    while (w.clock.ms - joinedAt < 2 * LEASE_MS) await w.interval();
    expect(w.usable('d').length).toBeGreaterThanOrEqual(P / 4 - 1);
    for (const n of w.counts()) expect(n).toBeLessThanOrEqual(P / 4 + 1);
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(P);
    // The partitions d took were stolen: their former owners saw their renewals fail.
    expect(w.lost.size).toBeGreaterThan(0);
  });

  it('gives a third sidecar joining two at least the floor of its share, though P is not a multiple of 3', async () => {
    const w = world();
    for (const o of ['a', 'b']) w.add(o);
    for (let i = 0; i < 6; i++) await w.interval();
    expect(w.counts()).toEqual([P / 2, P / 2]);
    w.add('c', 77_000);
    const joinedAt = w.clock.ms;
    while (w.clock.ms - joinedAt < 2 * LEASE_MS) await w.interval();
    expect(w.usable('c').length).toBeGreaterThanOrEqual(Math.floor(P / 3));
    for (const n of w.counts()) expect(n).toBeLessThanOrEqual(Math.ceil(P / 3));
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(P);
    // And it stays so: nobody steals back.
    const settled = w.counts();
    for (let i = 0; i < 6; i++) await w.interval();
    expect(w.counts()).toEqual(settled);
  });

  it('takes over a silent owner only after its counter stood still for the lease period', async () => {
    const w = world();
    const a = w.add('a');
    const b = w.add('b', 42e6);
    for (let i = 0; i < 6; i++) await w.interval();
    const aHeld = a.usable();
    expect(aHeld.length).toBe(P / 2);
    const silent = new Set(['a']);
    // Two intervals of silence (6 s < 9 s lease): b takes nothing of a's.
    await w.interval(silent);
    await w.interval(silent);
    expect(b.usable().filter((p) => aHeld.includes(p))).toEqual([]);
    // a, renewing nothing, stops using its partitions before anyone may take them.
    await w.interval(silent);
    expect(a.usable()).toEqual([]);
    await w.interval(silent);
    expect(b.usable()).toHaveLength(P);
    // What b took from a counts as handed over (a's last verdicts may still be unsearchable); its own do not.
    expect(b.handedOverAgoMs(aHeld[0]!)).toBeGreaterThanOrEqual(0);
    expect(b.handedOverAgoMs(b.usable().find((p) => !aHeld.includes(p))!)).toBeUndefined();
    // a wakes up: its renewals fail, it learns the partitions are gone and takes back only its share.
    await w.interval();
    expect(w.lost.get('a')?.sort((x, y) => x - y)).toEqual(aHeld);
  });

  it("takes a silent owner's leases in one round of concurrent writes, not one write after another", async () => {
    const inner = new InMemoryPartitionLeaseStore();
    // Writes of leases first written by `a`, by anyone else: the takes.
    let aLeases = new Set<number>();
    let writing = 0;
    let mostAtOnce = 0;
    const store: PartitionLeaseStore = {
      init: () => inner.init(),
      readLeases: (n) => inner.readLeases(n),
      writeLease: async (write: PartitionLeaseWrite, rev?: string) => {
        const take = write.owner === 'b' && aLeases.has(write.partition);
        if (take) writing++;
        mostAtOnce = Math.max(mostAtOnce, writing);
        try {
          await new Promise((resolve) => setImmediate(resolve));
          return await inner.writeLease(write, rev);
        } finally {
          if (take) writing--;
        }
      },
    };
    const w = world(store);
    const a = w.add('a');
    const b = w.add('b', 42e6);
    for (let i = 0; i < 6; i++) await w.interval();
    const aHeld = a.usable();
    aLeases = new Set(aHeld);
    const silent = new Set(['a']);
    while (b.heldCount() < P) await w.interval(silent);
    // The round that took a's share over wrote every take at once.
    expect(mostAtOnce).toBe(aHeld.length);
  });

  it('stops using a partition at once when its renewal finds it taken', async () => {
    const w = world();
    const a = w.add('a');
    await a.tick();
    await w.interval();
    const [lease] = (await w.store.readLeases(P)).filter((l) => l.partition === 5);
    expect(
      await w.store.writeLease({ partition: 5, owner: 'intruder', counter: 99 }, lease?.rev),
    ).toBeDefined();
    expect(a.holds(5)).toBe(true);
    await a.tick();
    expect(a.holds(5)).toBe(false);
    expect(w.lost.get('a')).toEqual([5]);
  });

  it('stops using its partitions when renewals fail for longer than the fence, and keeps them when they recover', async () => {
    const inner = new InMemoryPartitionLeaseStore();
    let down = false;
    const flaky: PartitionLeaseStore = {
      init: () => inner.init(),
      readLeases: (n) => (down ? Promise.reject(new Error('unavailable')) : inner.readLeases(n)),
      writeLease: (l: PartitionLeaseWrite, rev) =>
        down ? Promise.reject(new Error('unavailable')) : inner.writeLease(l, rev),
    };
    const w = world(flaky);
    const a = w.add('a');
    await a.tick();
    await w.interval();
    down = true;
    w.clock.advance(a.fenceMs - 1);
    await expect(a.tick()).rejects.toThrow('unavailable');
    expect(a.usable()).toHaveLength(P);
    w.clock.advance(1);
    expect(a.usable()).toEqual([]);
    down = false;
    await a.tick();
    expect(a.usable()).toHaveLength(P);
  });

  it('keeps a lease whose renewal was applied but whose answer was lost', async () => {
    const inner = new InMemoryPartitionLeaseStore();
    let loseAnswers = false;
    const lossy = losingAnswers(inner, () => loseAnswers);
    const w = world(lossy);
    const a = w.add('a');
    await a.tick();
    await w.interval();
    loseAnswers = true;
    await w.interval();
    loseAnswers = false;
    await w.interval();
    expect(w.lost.get('a')).toBeUndefined();
    expect(a.usable()).toHaveLength(P);
    expect((await inner.readLeases(P)).every((l) => l.owner === 'a')).toBe(true);
  });

  it('moves its counter on after a renewal whose answer was lost, so that no observer takes a renewed lease for silent', async () => {
    // Renewals of partition 5 by a are applied but their answers lost for three rounds, then answered again.
    const inner = new InMemoryPartitionLeaseStore();
    let lossy = false;
    const store = losingAnswers(inner, (l) => lossy && l.partition === 5 && l.owner === 'a');
    const w = world(store);
    const a = w.add('a');
    await a.tick();
    await w.interval();
    w.add('b', 77e6);
    const counters: number[] = [];
    const counterOf5 = async (): Promise<number | undefined> =>
      (await inner.readLeases(P)).find((l) => l.partition === 5)?.counter;
    lossy = true;
    // b looks once, then sleeps through two rounds: on waking it has room to take any lease it finds silent.
    for (let i = 0; i < 3; i++) {
      await w.interval(new Set(i === 0 ? [] : ['b']));
      counters.push((await counterOf5()) ?? -1);
    }
    lossy = false;
    // Each round checks that no partition is usable by both.
    for (let i = 0; i < 3; i++) await w.interval();
    // Every applied renewal wrote a new counter, so b never saw a's lease stand still.
    expect(new Set(counters).size).toBe(3);
    expect(a.holds(5)).toBe(true);
    expect(w.usable('b')).not.toContain(5);
  });

  it('uses a lease found in its own name after a lost answer only a lease period later, as a steal', async () => {
    const inner = new InMemoryPartitionLeaseStore();
    let loseAnswersOfB = false;
    const store = losingAnswers(inner, (l) => loseAnswersOfB && l.owner === 'b');
    const w = world(store);
    const a = w.add('a');
    await a.tick();
    await w.interval();
    expect(a.usable()).toHaveLength(P);
    const b = w.add('b', 31e6);
    // b's first round steals one partition of a's; the steal is applied but its answer lost.
    loseAnswersOfB = true;
    w.clock.advance(INTERVAL_MS);
    await expect(b.tick()).rejects.toThrow('connection reset');
    loseAnswersOfB = false;
    const [stolen] = (await inner.readLeases(P)).filter((l) => l.owner === 'b').map((l) => l.partition);
    expect(stolen).toBeDefined();
    // b finds its own name on the lease before a has run a round: a still uses the partition, b must not.
    await w.interval(new Set(['a']));
    expect(b.holds(stolen ?? -1)).toBe(false);
    // A lease period later a has let it go and b uses it.
    for (let i = 0; i < 3; i++) await w.interval();
    expect(b.holds(stolen ?? -1)).toBe(true);
    expect(a.holds(stolen ?? -1)).toBe(false);
  });

  it('does not release on stop a lease it stole and may not use yet: its former owner may still use it', async () => {
    const w = world();
    const a = w.add('a');
    await a.tick();
    await w.interval();
    const b = w.add('b', 8e6);
    await w.interval(new Set(['a']));
    const [stolen] = (await w.store.readLeases(P)).filter((l) => l.owner === 'b').map((l) => l.partition);
    expect(stolen).toBeDefined();
    expect(a.holds(stolen ?? -1)).toBe(true);
    await b.stop();
    w.sidecars.delete('b');
    // c starts before a has run a round: a still uses the partition, so c must not find it free.
    const c = w.add('c', 3e9);
    await w.interval(new Set(['a']));
    expect(c.holds(stolen ?? -1)).toBe(false);
    // The lease left in b's name expires and is taken; a and c share every partition.
    for (let i = 0; i < 8; i++) await w.interval();
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(P);
  });

  it('releases its leases on stop, so another sidecar uses them without waiting for the lease period', async () => {
    const w = world();
    const a = w.add('a');
    const b = w.add('b');
    for (let i = 0; i < 6; i++) await w.interval();
    await a.stop();
    expect(a.usable()).toEqual([]);
    const released: PartitionLease[] = (await w.store.readLeases(P)).filter((l) => l.owner === null);
    expect(released).toHaveLength(P / 2);
    await b.tick();
    expect(b.usable()).toHaveLength(P);
  });

  it('never holds more than fair share plus one, whatever the order of rounds', async () => {
    const w = world();
    const owners = ['a', 'b', 'c', 'd', 'e'];
    for (const o of owners) w.add(o);
    let worst = 0;
    for (let i = 0; i < 12; i++) {
      await w.interval();
      for (const m of w.sidecars.values()) worst = Math.max(worst, m.heldCount());
    }
    expect(worst).toBeLessThanOrEqual(Math.ceil(P / owners.length) + 1);
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(P);
  });
});
