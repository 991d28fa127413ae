import {
  InMemoryAgentDirectory,
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryPartitionLeaseStore,
  InMemoryRequestStore,
  type Order,
} from '@command-manager/core';
import { ManualClock } from '@command-manager/test-support';
import {
  describeAgentDirectoryContract,
  describeLockStoreContract,
  describeOrderStoreContract,
  describePartitionLeaseStoreContract,
  makeTestOrder,
  describeOrderAggregationContract,
  describeRequestListingContract,
  describeRequestStoreContract,
} from '@command-manager/store-contract';

/** A settable clock, as the contract's harness asks. */
const manualClock = (start = new Date('2025-06-01T12:00:00.000Z')): ManualClock => new ManualClock(start);

describeOrderStoreContract('in-memory', async () => {
  const clock = manualClock();
  const store = new InMemoryOrderStore({ clock });
  return {
    store,
    clock,
    cleanup: async () => undefined,
    readArchived: async (id) => store.archived.get(id)?.order,
  };
});

describeRequestStoreContract('in-memory', async () => {
  const orders = new InMemoryOrderStore();
  return { store: new InMemoryRequestStore({ orders }), orders, cleanup: async () => undefined };
});

describeRequestListingContract('in-memory', async () => ({
  store: new InMemoryRequestStore({ orders: new InMemoryOrderStore() }),
  settle: async () => undefined,
  cleanup: async () => undefined,
}));

describeOrderAggregationContract('in-memory', async () => ({
  store: new InMemoryOrderStore(),
  cleanup: async () => undefined,
}));

describeLockStoreContract('in-memory', async () => ({
  store: new InMemoryLockStore(),
  cleanup: async () => undefined,
}));

describeAgentDirectoryContract('in-memory', async (agents) => {
  const directory = new InMemoryAgentDirectory();
  directory.addAgents(agents);
  return { directory, cleanup: async () => undefined };
});

// What only the in-memory twins offer (inspection and fault injection), beyond the contract.
describe('InMemoryOrderStore extras', () => {
  it('stamps archived copies with the injected clock', async () => {
    const clock = manualClock(new Date('2030-01-02T03:04:05.000Z'));
    const store = new InMemoryOrderStore({ clock });
    await store.saveOrders([makeTestOrder(1, 1, { status: 'success', completedAt: new Date('2030-01-01') })]);
    const s = (await store.getOrder('1-1'))!;
    await store.removeOrders([s], 'archive');
    expect(store.archived.get('1-1')).toEqual({ order: s.order, archivedAt: '2030-01-02T03:04:05.000Z' });
    expect(store.size).toBe(0);
    // The map handed out is a copy.
    store.archived.get('1-1')!.order.command.status = 'pending';
    expect(store.archived.get('1-1')?.order.command.status).toBe('success');
  });

  it('does not archive on delete', async () => {
    const store = new InMemoryOrderStore();
    await store.saveOrders([makeTestOrder(1, 1)]);
    await store.removeOrders([(await store.getOrder('1-1'))!], 'delete');
    expect(store.archived.size).toBe(0);
  });

  it('reports injected failures in `failed` and progress per batch of batchSize', async () => {
    const store = new InMemoryOrderStore({
      batchSize: 4,
      rejectOrder: (o: Order) => (o.command.order_id % 5 === 0 ? 'injected' : undefined),
    });
    const progress: number[] = [];
    const orders = Array.from({ length: 10 }, (_, i) => makeTestOrder(2, i + 1));
    const r = await store.saveOrders(orders, {
      onProgress: (p) => progress.push(p.written + p.existing + p.failed),
    });
    expect(r.written).toBe(8);
    expect(r.failed).toEqual([
      { id: '2-5', reason: 'injected' },
      { id: '2-10', reason: 'injected' },
    ]);
    expect(progress).toEqual([4, 8, 10]);
    expect(await store.getOrder('2-5')).toBeUndefined();
    // A retry writes what failed once the fault is gone (here: still there) and counts the rest as existing.
    const again = await store.saveOrders(orders);
    expect(again).toMatchObject({ written: 0, existing: 8 });
    expect(again.failed).toHaveLength(2);
  });

  it('reports an order without integer ids as failed', async () => {
    const store = new InMemoryOrderStore();
    const bad = makeTestOrder(1, 1);
    (bad.command as { order_id: unknown }).order_id = 'x';
    const r = await store.saveOrders([bad]);
    expect(r.written).toBe(0);
    expect(r.failed).toHaveLength(1);
  });

  it('rejects a page size that is not a positive integer', async () => {
    const store = new InMemoryOrderStore();
    await expect(store.listOrders({}, { size: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(store.findTerminalBefore(new Date(), { size: 1.5 })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('never reuses a revision after an id is deleted and created again', async () => {
    const store = new InMemoryOrderStore();
    await store.saveOrders([makeTestOrder(1, 1)]);
    const old = (await store.getOrder('1-1'))!;
    await store.removeOrders([old], 'delete');
    await store.saveOrders([makeTestOrder(1, 1)]);
    const [out] = await store.writeConditional([{ id: '1-1', rev: old.rev, order: old.order }]);
    expect(out).toMatchObject({ ok: false, reason: 'conflict' });
  });
});

describe('InMemoryAgentDirectory extras', () => {
  it('takes agents in the constructor and by addAgent, replacing by id', async () => {
    const directory = new InMemoryAgentDirectory([{ id: '001', groups: ['g'], status: 'active' }]);
    directory.addAgent({ id: '002', groups: ['g'] });
    expect(await directory.countGroupMembers('g')).toBe(2);
    directory.addAgent({ id: '001', groups: ['h'], status: 'active' });
    expect(await directory.countGroupMembers('g')).toBe(1);
    expect(await directory.countGroupMembers('h')).toBe(1);
  });

  it('keeps its agents apart from the objects callers hold', async () => {
    const agent = { id: '001', groups: ['g'], status: 'active' };
    const directory = new InMemoryAgentDirectory([agent]);
    agent.groups.push('mutated');
    const [page] = await collectPages(directory.groupMembers('g'));
    expect(page).toEqual([{ id: '001', groups: ['g'], status: 'active' }]);
    page![0]!.groups.push('again');
    expect((await directory.lookupAgents(['001'])).get('001')?.groups).toEqual(['g']);
  });

  it('clamps pageSize to 1..10,000', async () => {
    const directory = new InMemoryAgentDirectory(
      Array.from({ length: 12_000 }, (_, i) => ({ id: String(i).padStart(6, '0'), groups: ['g'] })),
    );
    const sizes = (await collectPages(directory.groupMembers('g', { pageSize: 50_000 }))).map(
      (p) => p.length,
    );
    expect(sizes).toEqual([10_000, 2_000]);
    const tiny = await collectPages(directory.groupMembers('g', { pageSize: 0 }));
    expect(tiny.every((p) => p.length === 1)).toBe(true);
  });
});

async function collectPages<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const p of pages) out.push(p);
  return out;
}

describePartitionLeaseStoreContract('in-memory', async () => ({
  store: new InMemoryPartitionLeaseStore(),
  cleanup: async () => undefined,
}));
