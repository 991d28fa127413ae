/**
 * The scheduler against real OpenSearch (through the adapter) and a real HTTP stub of the Management API.
 */
import { applyResult, markFailed, markSent, partitionOf, systemClock } from '@command-manager/core';
import { OpenSearchPartitionLeaseStore } from '@command-manager/opensearch';
import type { Order } from '@command-manager/core';
import {
  InMemorySchedulerMetrics,
  ManagementApiClient,
  PartitionLeaseManager,
  Scheduler,
} from '@command-manager/scheduler';
import type { PartitionOwnership, SchedulerOptions } from '@command-manager/scheduler';
import { command, ids, orders, requestRecord } from './support/fixtures';
import type { Stores } from './support/opensearch-fixture';
import { schedulerRig } from './support/scheduler-rig';

jest.setTimeout(120_000);

const rig = schedulerRig(__filename);
const { os } = rig;

function scheduler(
  stores: Stores,
  owner: string,
  options: SchedulerOptions = {},
  partitions?: PartitionOwnership,
): Scheduler {
  const client = new ManagementApiClient({ managementApiUrl: rig.stub.url });
  const s = new Scheduler({
    ...(partitions && { partitions }),
    orders: stores.orders,
    requests: stores.requests,
    locks: stores.locks,
    delivery: client,
    owner,
    metrics: new InMemorySchedulerMetrics(),
    options: { pollIntervalMs: 100, sweepIntervalMs: 3_600_000, retentionIntervalMs: 3_600_000, ...options },
  });
  rig.track(s, client);
  return s;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

it('two schedulers sharing the partitions of one index never dispatch an order twice', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const n = 600;
  const leases = ['sidecar-a', 'sidecar-b'].map(
    (owner) =>
      new PartitionLeaseManager({
        store: new OpenSearchPartitionLeaseStore({ client: os.client, ordersIndex: stores.ordersIndex }),
        owner,
        options: { partitions: 16, leaseMs: 1500 },
      }),
  );
  for (const l of leases) l.start();
  try {
    // Spread over the partitions like a submission's orders.
    const spread = orders(1, n, systemClock.now()).map((o) => {
      o.scheduling.partition = partitionOf(`1-${o.command.order_id}`, 16);
      return o;
    });
    await stores.orders.saveOrders(spread);
    const a = scheduler(stores, 'sidecar-a', { batchSize: 50, concurrency: 3 }, leases[0]);
    const b = scheduler(stores, 'sidecar-b', { batchSize: 50, concurrency: 3 }, leases[1]);
    a.start();
    b.start();
    await rig.stub.waitFor(() => rig.stub.accepted.length >= n);
    await until(async () => (await stores.orders.countByStatus({ requestId: 1 })).sent === n);
  } finally {
    for (const l of leases) await l.stop();
  }

  expect(new Set(rig.stub.received).size).toBe(n);
  expect(rig.stub.received).toHaveLength(n);
  expect(rig.stub.duplicatesAccepted()).toEqual([]);
  const owners = new Set(
    (await stores.orders.getOrders(ids(1, n))).map((o) => o.order.scheduling.lease_owner),
  );
  expect(owners).toEqual(new Set([null]));
});

it('sweeps both deadline kinds and retention archives exactly the right orders', async () => {
  const stores = await os.stores();
  const now = systemClock.now();
  const day = 24 * 3600 * 1000;
  const old = new Date(now.getTime() - 10 * day);
  // `command.timeout` is a `short` in Wazuh's mapping: give these old orders a far deadline directly.
  const farDeadline = new Date(now.getTime() + day).toISOString();
  const [oldSuccess, oldFailure, recent, stillPending, stillSent, overduePending, overdueSent] = orders(
    2,
    7,
    old,
    command({ timeout: 3600 }),
  ).map((o) => ({ ...o, delivery_timestamp: farDeadline }));
  if (
    !oldSuccess ||
    !oldFailure ||
    !recent ||
    !stillPending ||
    !stillSent ||
    !overduePending ||
    !overdueSent
  ) {
    throw new Error('fixtures');
  }
  const ok = { status: 'success' as const, result: { code: 0, message: 'ok' } };
  const overdue = (o: Order): Order => ({
    ...o,
    delivery_timestamp: new Date(now.getTime() - 1000).toISOString(),
  });
  const saved = await stores.orders.saveOrders([
    applyResult(markSent(oldSuccess, old), ok, new Date(now.getTime() - 8 * day)),
    markFailed(oldFailure, { code: 1, message: 'x' }, new Date(now.getTime() - 8 * day)),
    applyResult(markSent(recent, old), ok, new Date(now.getTime() - day)),
    stillPending,
    markSent(stillSent, old),
    overdue(overduePending),
    overdue(markSent(overdueSent, old)),
  ]);
  expect(saved).toEqual({ written: 7, existing: 0, failed: [] });
  const s = scheduler(stores, 'sidecar-a', { retentionMode: 'archive' });

  expect(await s.sweepDeadlines()).toEqual({ expiredUndelivered: 1, noResultInTime: 1, conflicts: 0 });
  expect((await stores.orders.getOrder('2-6'))?.order.command.result?.message).toBe('expired undelivered');
  expect((await stores.orders.getOrder('2-7'))?.order.command.result?.message).toBe('no result came in time');

  expect(await s.runRetention()).toEqual({ ran: true, removed: 2, conflicts: 0 });
  const remaining = (await stores.orders.getOrders(ids(2, 7))).map((o) => o.id).sort();
  expect(remaining).toEqual(['2-3', '2-4', '2-5', '2-6', '2-7']);
  await os.client.indices.refresh({ index: stores.orders.layout.archivePattern });
  const archived = await os.client.search({
    index: stores.orders.layout.archivePattern,
    body: { query: { match_all: {} }, size: 10 },
  });
  const archivedIds = (archived.body.hits.hits as Array<{ _id: string; _index: string }>)
    .map((h) => h._id)
    .sort();
  expect(archivedIds).toEqual(['2-1', '2-2']);
  const month = `${old.getUTCFullYear()}.${String(old.getUTCMonth() + 1).padStart(2, '0')}`;
  for (const hit of archived.body.hits.hits as Array<{ _index: string }>) {
    expect(hit._index).toBe(`${stores.ordersIndex}-archive-${month}`);
  }
});

it('retries a 5xx against the real store and then delivers', async () => {
  const stores = await os.stores();
  await stores.orders.saveOrders(orders(3, 3, systemClock.now()));
  rig.stub.failNext(1, 503);
  const s = scheduler(stores, 'sidecar-a', { retryPolicy: { baseMs: 10, maxMs: 10, factor: 1, jitter: 0 } });
  expect(await s.dispatchDue()).toMatchObject({ retried: 3 });
  await until(async () => {
    await s.dispatchDue();
    return (await stores.orders.countByStatus({ requestId: 3 })).sent === 3;
  });
  for (const id of ids(3, 3)) expect(rig.stub.countAccepted(id)).toBe(1);
  expect((await stores.orders.getOrder('3-1'))?.order.scheduling.attempts).toBe(1);
});

it('max_concurrency holds while its verdicts are not yet searchable: one order sent at a time, never two', async () => {
  // The sidecar's store settings, on an index refreshed by this test only: the window between a verdict and
  // the refresh that makes it searchable, at most a second in production, lasts as long as the test needs.
  const stores = await os.stores({ writeRefresh: true, submitRefresh: false });
  await os.client.indices.putSettings({
    index: stores.ordersIndex,
    body: { index: { refresh_interval: '30s' } },
  });
  const now = systemClock.now();
  const limited = command({ max_concurrency: 1 });
  await stores.requests.createRequest(requestRecord(30, limited, 5, now));
  await stores.orders.saveOrders(orders(30, 5, now, limited));
  await os.client.indices.refresh({ index: stores.ordersIndex });
  // The stub accepts every order and no result ever comes: the first order stays `sent`, the others wait.
  rig.stub.holdNext(1);
  // A poll of 100 ms defers the held-back orders by 500 ms.
  const s = scheduler(stores, 'sidecar-a');
  s.start();
  await rig.stub.waitFor(() => rig.stub.received.length >= 1);
  // While the first order is on its way, the other four's deferral becomes searchable; then it is accepted.
  await new Promise((r) => setTimeout(r, 200));
  await os.client.indices.refresh({ index: stores.ordersIndex });
  rig.stub.releaseHeld();
  await rig.stub.waitFor(() => rig.stub.accepted.length >= 1);
  // The four come due again within 500 ms; a second order would have gone out by now.
  await new Promise((r) => setTimeout(r, 2500));
  expect(rig.stub.accepted).toHaveLength(1);
  await os.client.indices.refresh({ index: stores.ordersIndex });
  expect(await stores.orders.countByStatus({ requestId: 30 })).toMatchObject({ sent: 1, pending: 4 });
});
