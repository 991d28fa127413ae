/**
 * Answers of `/accept_commands` that are not about an order (401/403 after re-authentication, 404) stop
 * dispatch and leave the orders pending; 413 splits the batch; only per-order answers fail an order.
 * Real OpenSearch (through the adapter) and a real HTTP stub of the Management API.
 */
import { ResultCodes, systemClock } from '@command-manager/core';
import {
  InMemorySchedulerMetrics,
  ManagementApiClient,
  Scheduler,
  SchedulerMetricNames as M,
  type ManagementApiAuth,
} from '@command-manager/scheduler';
import { ids, orders } from './support/fixtures';
import type { Stores } from './support/opensearch-fixture';
import { schedulerRig } from './support/scheduler-rig';

jest.setTimeout(120_000);

const rig = schedulerRig(__filename);
const { os } = rig;

interface Harness {
  scheduler: Scheduler;
  client: ManagementApiClient;
  metrics: InMemorySchedulerMetrics;
}

function harness(
  stores: Stores,
  options: { auth?: ManagementApiAuth; path?: string; batchSize?: number; openMs?: number } = {},
): Harness {
  const metrics = new InMemorySchedulerMetrics();
  const client = new ManagementApiClient({
    managementApiUrl: `${rig.stub.url}${options.path ?? ''}`,
    ...(options.auth ? { auth: options.auth } : {}),
    breaker: { failureThreshold: 5, openMs: options.openMs ?? 60_000 },
    metrics,
  });
  const scheduler = new Scheduler({
    orders: stores.orders,
    requests: stores.requests,
    locks: stores.locks,
    delivery: client,
    owner: 'sidecar-a',
    metrics,
    options: {
      batchSize: options.batchSize ?? 500,
      concurrency: 2,
      sweepIntervalMs: 3_600_000,
      retentionIntervalMs: 3_600_000,
    },
  });
  rig.track(scheduler, client);
  return { scheduler, client, metrics };
}

async function expectAllPendingUntouched(stores: Stores, requestId: number, n: number): Promise<void> {
  const all = await stores.orders.getOrders(ids(requestId, n));
  expect(all).toHaveLength(n);
  for (const o of all) {
    expect(o.order.command.status).toBe('pending');
    expect(o.order.scheduling.attempts).toBe(0);
    expect(o.order.scheduling.lease_owner).toBeNull();
  }
}

it('a 401 on /accept_commands fails no order: dispatch stops, the breaker opens, orders stay pending and go once the API accepts', async () => {
  const stores = await os.stores({ writeRefresh: true });
  rig.stub.auth = { type: 'basic', username: 'wazuh', password: 'rotated' };
  const n = 300;
  await stores.orders.saveOrders(orders(1, n, systemClock.now()));
  const h = harness(stores, {
    auth: { type: 'basic', username: 'wazuh', password: 'old' },
    batchSize: 100,
    openMs: 3000,
  });

  const first = await h.scheduler.dispatchDue();
  expect(first).toMatchObject({ failed: 0, rejected: 0, expired: 0, retried: 0, accepted: 0 });
  // Claiming stops as soon as the breaker opens; what was claimed by then is halted (released pending).
  expect(first.halted).toBeGreaterThan(0);
  expect(h.client.breaker.state).toBe('open');
  expect(h.metrics.counter(M.DELIVERY_HALTED, { reason: 'auth' })).toBeGreaterThanOrEqual(1);
  // At most the calls already under way when the first 401 came back.
  expect(rig.stub.acceptRequests).toBeLessThanOrEqual(2);
  await expectAllPendingUntouched(stores, 1, n);

  // While the breaker is open nothing is claimed.
  expect((await h.scheduler.dispatchDue()).claimed).toBe(0);

  // The server's credentials are fixed: after the open period the trial goes through and everything is sent.
  rig.stub.auth = { type: 'basic', username: 'wazuh', password: 'old' };
  await new Promise((r) => setTimeout(r, Math.max(0, h.client.breaker.remainingOpenMs()) + 100));
  let sent = 0;
  // Verdicts are written without a forced refresh: the released orders become claimable by search after the
  // next periodic refresh, so rounds go on for a while.
  const until = Date.now() + 30_000;
  while (sent < n && Date.now() < until) {
    await h.scheduler.dispatchDue();
    sent = (await stores.orders.countByStatus({ requestId: 1 })).sent;
    if (sent < n) await new Promise((r) => setTimeout(r, 200));
  }
  expect(sent).toBe(n);
  expect(rig.stub.duplicatesAccepted()).toEqual([]);
});

it('with a JWT, a 401 renews the token once; a second 401 halts dispatch without failing the orders', async () => {
  const stores = await os.stores({ writeRefresh: true });
  rig.stub.auth = { type: 'jwt', username: 'wazuh-wui', password: 'pw' };
  await stores.orders.saveOrders(orders(2, 5, systemClock.now()));
  const h = harness(stores, { auth: { type: 'jwt', username: 'wazuh-wui', password: 'pw' } });
  rig.stub.failNext(2, 401);
  const summary = await h.scheduler.dispatchDue();
  expect(summary).toMatchObject({ halted: 5, failed: 0 });
  expect(rig.stub.logins).toBe(2);
  expect(rig.stub.acceptRequests).toBe(2);
  await expectAllPendingUntouched(stores, 2, 5);
});

it('403 and 404 halt dispatch too (the dispatcher is refused or misconfigured, not the order)', async () => {
  const stores = await os.stores({ writeRefresh: true });
  await stores.orders.saveOrders(orders(3, 4, systemClock.now()));
  const forbidden = harness(stores);
  rig.stub.failNext(1, 403);
  expect(await forbidden.scheduler.dispatchDue()).toMatchObject({ halted: 4, failed: 0 });
  await expectAllPendingUntouched(stores, 3, 4);

  await stores.orders.saveOrders(orders(4, 4, systemClock.now()));
  const misrouted = harness(stores, { path: '/wrong-prefix' });
  expect(await misrouted.scheduler.dispatchDue()).toMatchObject({ failed: 0 });
  expect(misrouted.metrics.counter(M.DELIVERY_HALTED, { reason: 'not_found' })).toBe(1);
  expect(misrouted.client.breaker.state).toBe('open');
  await expectAllPendingUntouched(stores, 4, 4);
});

it('413 splits the batch down to what the API takes; an order too large alone fails with ORDER_TOO_LARGE', async () => {
  const stores = await os.stores({ writeRefresh: true });
  await stores.orders.saveOrders(orders(5, 10, systemClock.now()));
  rig.stub.maxOrdersPerRequest = 3;
  rig.stub.tooLargeIds.add('5-7');
  const h = harness(stores, { batchSize: 10 });
  const summary = await h.scheduler.dispatchDue();
  expect(summary).toMatchObject({ accepted: 9, failed: 1, halted: 0 });
  expect(h.metrics.counter(M.BATCH_SPLITS)).toBeGreaterThan(0);
  const [tooLarge] = await stores.orders.getOrders(['5-7']);
  expect(tooLarge?.order.command.status).toBe('failure');
  expect(tooLarge?.order.command.result?.code).toBe(ResultCodes.ORDER_TOO_LARGE);
  expect(tooLarge?.order.command.result?.message).toMatch(/too large/);
  expect(h.client.breaker.state).toBe('closed');
  expect(new Set(rig.stub.accepted).size).toBe(9);
});
