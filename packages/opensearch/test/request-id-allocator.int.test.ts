import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTestOrder } from '../../core/test/contract/order-fixtures';
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
