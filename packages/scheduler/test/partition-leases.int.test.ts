/**
 * Partition leases on a real OpenSearch: sidecars racing for the same lease documents (their rounds run at
 * once), on one manual time read through different monotonic origins.
 */
import { OpenSearchPartitionLeaseStore } from '@command-manager/opensearch';
import { LeaseWorld } from './support/lease-world';
import { openSearchFixture } from './support/opensearch-fixture';

jest.setTimeout(60_000);

const f = openSearchFixture(__filename);
const P = 16;
const LEASE_MS = 6_000;
const INTERVAL_MS = 2_000;

afterAll(() => f.close());

async function world(): Promise<LeaseWorld> {
  const { ordersIndex } = await f.stores();
  const store = new OpenSearchPartitionLeaseStore({ client: f.client, ordersIndex, replicas: 0 });
  await store.init();
  return new LeaseWorld({ partitions: P, leaseMs: LEASE_MS, renewIntervalMs: INTERVAL_MS }, store);
}

/** `n` intervals; rounds race (run at once) unless `inTurn` (a steal needs a phase apart from renewals). */
async function intervals(
  w: LeaseWorld,
  n: number,
  silent?: ReadonlySet<string>,
  inTurn = false,
): Promise<void> {
  for (let i = 0; i < n; i++) await w.interval(silent, !inTurn);
}

describe('partition leases on OpenSearch', () => {
  it('assigns every partition to exactly one of three racing sidecars, at most fair share plus one each', async () => {
    const w = await world();
    w.add('a', 0);
    w.add('b', 9e9);
    w.add('c', -3e6);
    await intervals(w, 4);
    const counts = w.counts();
    expect(counts.reduce((x, y) => x + y, 0)).toBe(P);
    for (const n of counts) expect(n).toBeLessThanOrEqual(Math.ceil(P / 3));
    const stored = await w.store.readLeases(P);
    expect(stored).toHaveLength(P);
    for (const lease of stored) expect(w.usable(lease.owner ?? '')).toContain(lease.partition);
  });

  it('lets a fourth sidecar steal its share from the most loaded within two lease periods', async () => {
    const w = await world();
    for (const o of ['a', 'b', 'c']) w.add(o);
    await intervals(w, 4);
    w.add('d', 77e6);
    // Rounds in turn: a steal reads a lease and writes it a moment later; rounds started at the very same
    // instant as the owner's renewal would lose every race (real sidecars' rounds have phases of their own).
    await intervals(w, (2 * LEASE_MS) / INTERVAL_MS, undefined, true);
    expect(w.usable('d').length).toBeGreaterThanOrEqual(P / 4 - 1);
    for (const n of w.counts()) expect(n).toBeLessThanOrEqual(P / 4 + 1);
    expect(w.counts().reduce((x, y) => x + y, 0)).toBe(P);
    expect(w.lost.size).toBeGreaterThan(0);
  });

  it('takes over the partitions of a silent owner after the lease period, and not before', async () => {
    const w = await world();
    w.add('a');
    w.add('b');
    w.add('c');
    await intervals(w, 4);
    const silentHeld = w.usable('a');
    expect(silentHeld.length).toBeGreaterThan(0);
    const silent = new Set(['a']);
    await intervals(w, 2, silent);
    const others = (): number[] => [...w.usable('b'), ...w.usable('c')];
    expect(others().filter((p) => silentHeld.includes(p))).toEqual([]);
    await intervals(w, 2, silent);
    expect(w.usable('a')).toEqual([]);
    expect(others().sort((x, y) => x - y)).toEqual(Array.from({ length: P }, (_, p) => p));
  });
});
