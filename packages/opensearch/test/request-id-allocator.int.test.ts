import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTestOrder } from '@command-manager/store-contract';
import { OpenSearchOrderStore, OpenSearchRequestIdAllocator } from '@command-manager/opensearch';
import { opensearchUrl } from '@command-manager/test-support';
import { testIndices } from './helpers/test-indices';

const run = promisify(execFile);
const t = testIndices(__filename);
jest.setTimeout(120_000);

afterAll(async () => {
  await t.close();
});

function strictlyIncreasing(ids: number[]): boolean {
  return ids.every((id, i) => i === 0 || id > (ids[i - 1] as number));
}

describe('OpenSearchRequestIdAllocator', () => {
  it('hands out 1,000 distinct ids to two processes allocating 500 each concurrently', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const allocator = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await allocator.init();
    const child = path.join(__dirname, 'helpers', 'allocate-ids.child.js');
    const procs = [1, 2].map(() =>
      run(process.execPath, [child, opensearchUrl(), ordersIndex, '500'], {
        timeout: 90_000,
        maxBuffer: 1 << 20,
      }),
    );
    const outputs = await Promise.all(procs);
    const perProcess = outputs.map((o) => JSON.parse(o.stdout) as number[]);
    for (const ids of perProcess) expect(ids).toHaveLength(500);
    const all = perProcess.flat();
    expect(new Set(all).size).toBe(1000);
    expect(all.every((id) => Number.isSafeInteger(id) && id >= 1)).toBe(true);
    // Every id was handed out once and nothing else ran: they are exactly 1..1000.
    expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // The next one continues above all of them.
    expect(await allocator.next()).toBe(1001);
    await t.dropLayout(ordersIndex);
  });

  it('resumes above every stored request id when the requests index is deleted while it runs', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const orders = new OpenSearchOrderStore({
      client: t.client,
      ordersIndex,
      replicas: 0,
      saveRefresh: false,
    });
    await orders.init();
    const a = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    const b = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await a.init();
    const before = [await a.next(), await a.next(), await b.next()];
    // Orders of the last request, not yet searchable (no refresh): they must count all the same.
    const last = before[2] as number;
    await orders.saveOrders([makeTestOrder(last, 1), makeTestOrder(last, 2)]);
    await t.client.indices.delete({ index: a.layout.requests });
    // Allocator `b` meets the missing counter first; `a` then meets the counter `b` re-created.
    const afterB = await b.next();
    const afterA = await a.nextBlock(3);
    for (const id of [afterB, ...afterA]) expect(id).toBeGreaterThan(last);
    expect(new Set([afterB, ...afterA]).size).toBe(4);
    await t.dropLayout(ordersIndex);
  });

  it('is strictly increasing for sequential calls, also across allocator instances', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const a = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    const b = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await a.init();
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push(await (i % 2 ? a : b).next());
    expect(strictlyIncreasing(ids)).toBe(true);
    await t.dropLayout(ordersIndex);
  });

  it('nextBlock returns n distinct increasing ids, disjoint from concurrent single allocations', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const allocator = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await allocator.init();
    const [block, ...singles] = await Promise.all([
      allocator.nextBlock(200),
      ...Array.from({ length: 50 }, () => allocator.next().then((id) => [id])),
    ]);
    expect(block).toHaveLength(200);
    expect(strictlyIncreasing(block as number[])).toBe(true);
    const all = [...(block as number[]), ...singles.flat()];
    expect(new Set(all).size).toBe(250);
    await expect(allocator.nextBlock(0)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await t.dropLayout(ordersIndex);
  });

  it('with a blockSize, hands out unique ids in call order from blocks, one counter round trip per block', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const blocky = new OpenSearchRequestIdAllocator({
      client: t.client,
      ordersIndex,
      replicas: 0,
      blockSize: 5,
    });
    const single = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await blocky.init();
    // 12 concurrent calls: three blocks of 5 (ids 1..15); the results leave in call order.
    const first = await Promise.all(Array.from({ length: 12 }, () => blocky.next()));
    expect(first).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Another allocator continues above every block taken, not above the ids handed out.
    expect(await single.next()).toBe(16);
    // The rest of the block first (13..15), then a new block above 16; nextBlock is served from it too.
    const more = [await blocky.next(), ...(await blocky.nextBlock(4)), await blocky.next()];
    expect(more.slice(0, 3)).toEqual([13, 14, 15]);
    expect(strictlyIncreasing(more)).toBe(true);
    expect(more.slice(3).every((id) => id > 16)).toBe(true);
    await t.dropLayout(ordersIndex);
  });

  it('with blocks, two allocators allocating concurrently never hand out the same id', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const make = (): OpenSearchRequestIdAllocator =>
      new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0, blockSize: 7 });
    const [a, b] = [make(), make()];
    await a.init();
    const [fromA, fromB] = await Promise.all(
      [a, b].map((x) => Promise.all(Array.from({ length: 100 }, () => x.next()))),
    );
    expect(strictlyIncreasing(fromA as number[])).toBe(true);
    expect(strictlyIncreasing(fromB as number[])).toBe(true);
    expect(new Set([...(fromA as number[]), ...(fromB as number[])]).size).toBe(200);
    await t.dropLayout(ordersIndex);
  });

  it('refuses a block size outside 1..10000', () => {
    for (const blockSize of [0, 1.5, 10_001]) {
      expect(
        () => new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex: 'x', blockSize }),
      ).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });

  it('init resumes above the highest request id already stored (e.g. after losing the requests index)', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const orders = new OpenSearchOrderStore({
      client: t.client,
      ordersIndex,
      replicas: 0,
      saveRefresh: true,
    });
    await orders.init();
    await orders.saveOrders([makeTestOrder(41, 1), makeTestOrder(4242, 1), makeTestOrder(7, 3)]);
    const allocator = new OpenSearchRequestIdAllocator({ client: t.client, ordersIndex, replicas: 0 });
    await allocator.init();
    expect(await allocator.next()).toBe(4243);
    // A second init (another sidecar starting) never moves the counter back.
    await allocator.init();
    expect(await allocator.next()).toBe(4244);
    await t.dropLayout(ordersIndex);
  });
});
