import {
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  ResultCodes,
  applyResult,
  markFailed,
  markSent,
  orderDocumentId,
  withLease,
} from '@command-manager/core';
import type {
  FindDueRequest,
  FindDueResult,
  GetOrdersOptions,
  Order,
  RetryPolicy,
  StoredOrder,
} from '@command-manager/core';
import {
  InMemorySchedulerMetrics,
  ManagementApiClient,
  Scheduler,
  SchedulerMetricNames as M,
} from '@command-manager/scheduler';
import type { PartitionOwnership, SchedulerOptions } from '@command-manager/scheduler';
import { ManualClock as FakeClock, RecordingLogger } from '@command-manager/test-support';
import { command, ids, orders, requestRecord } from './support/fixtures';
import { StubManagementApi } from './support/stub-management-api';

function withLeaseForTest(order: Order, owner: string, expiresAtMs: number): Order {
  return withLease(order, owner, new Date(expiresAtMs));
}

const policy: RetryPolicy = { baseMs: 1000, maxMs: 60_000, factor: 2, jitter: 0 };

interface Harness {
  clock: FakeClock;
  store: InMemoryOrderStore;
  requests: InMemoryRequestStore;
  locks: InMemoryLockStore;
  client: ManagementApiClient;
  metrics: InMemorySchedulerMetrics;
  logger: RecordingLogger;
  scheduler: Scheduler;
}

let stub: StubManagementApi;
const open: Array<{ scheduler: Scheduler; client: ManagementApiClient }> = [];

beforeEach(async () => {
  stub = await StubManagementApi.start();
});

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.scheduler.stop();
    await h.client.close();
  }
  await stub.close();
});

function harness(
  options: SchedulerOptions = {},
  extra: {
    breaker?: { failureThreshold?: number; openMs?: number };
    owner?: string;
    shared?: Harness;
    partitions?: PartitionOwnership;
  } = {},
): Harness {
  const clock = extra.shared?.clock ?? new FakeClock();
  const store = extra.shared?.store ?? new InMemoryOrderStore({ clock });
  const requests = extra.shared?.requests ?? new InMemoryRequestStore({ orders: store });
  const locks = extra.shared?.locks ?? new InMemoryLockStore();
  const metrics = new InMemorySchedulerMetrics();
  const logger = new RecordingLogger();
  const client = new ManagementApiClient({
    managementApiUrl: stub.url,
    clock,
    metrics,
    ...(extra.breaker ? { breaker: extra.breaker } : {}),
  });
  const scheduler = new Scheduler({
    orders: store,
    requests,
    locks,
    delivery: client,
    owner: extra.owner ?? 'sidecar-a',
    ...(extra.partitions && { partitions: extra.partitions }),
    clock,
    logger,
    metrics,
    options: { retryPolicy: policy, random: () => 0, ...options },
  });
  open.push({ scheduler, client });
  return { clock, store, requests, locks, client, metrics, logger, scheduler };
}

async function statusOf(store: InMemoryOrderStore, id: string): Promise<Order> {
  const stored = await store.getOrder(id);
  if (!stored) throw new Error(`order ${id} missing`);
  return stored.order;
}

describe('dispatch', () => {
  it('delivers due orders in batches and marks them sent with the latency recorded', async () => {
    const h = harness({ batchSize: 2 });
    await h.store.saveOrders(orders(1, 5, h.clock.now()));
    h.clock.advance(40);

    const summary = await h.scheduler.dispatchDue();

    expect(summary).toMatchObject({ claimed: 5, accepted: 5, retried: 0 });
    expect([...stub.accepted].sort()).toEqual(ids(1, 5).sort());
    expect(stub.acceptRequests).toBe(3);
    for (const id of ids(1, 5)) {
      const o = await statusOf(h.store, id);
      expect(o.command.status).toBe('sent');
      expect(o.scheduling.sent_at).toBe(h.clock.now().toISOString());
      expect(o.scheduling.lease_owner).toBeNull();
    }
    expect(h.metrics.counter(M.DISPATCHED)).toBe(5);
    expect(h.metrics.counter(M.ACCEPTED)).toBe(5);
    expect(h.metrics.observed(M.SUBMIT_TO_ACCEPTED_SECONDS)).toEqual([0.04, 0.04, 0.04, 0.04, 0.04]);
    // Nothing due any more.
    expect((await h.scheduler.dispatchDue()).claimed).toBe(0);
  });

  it('retries a 5xx with backoff and then delivers once', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 2, h.clock.now()));
    stub.failNext(1, 503);

    const first = await h.scheduler.dispatchDue();
    expect(first).toMatchObject({ claimed: 2, retried: 2, accepted: 0 });
    const retried = await statusOf(h.store, '1-1');
    expect(retried.command.status).toBe('pending');
    expect(retried.scheduling.attempts).toBe(1);
    expect(retried.scheduling.lease_owner).toBeNull();
    expect(retried.scheduling.last_error).toContain('HTTP 503');
    expect(Date.parse(retried.scheduling.next_attempt_at)).toBe(h.clock.ms + 1000);

    // Not due before the backoff has passed.
    expect((await h.scheduler.dispatchDue()).claimed).toBe(0);
    h.clock.advance(1000);
    const second = await h.scheduler.dispatchDue();
    expect(second).toMatchObject({ claimed: 2, accepted: 2 });
    expect((await statusOf(h.store, '1-1')).command.status).toBe('sent');
    expect(stub.countReceived('1-1')).toBe(2);
    expect(stub.countAccepted('1-1')).toBe(1);
    expect(h.metrics.counter(M.RETRIED)).toBe(2);
  });

  it('retries a reset connection', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 1, h.clock.now()));
    stub.resetNext(1);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ retried: 1 });
    expect((await statusOf(h.store, '1-1')).scheduling.last_error).toContain('unreachable');
    h.clock.advance(1000);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 1 });
  });

  it('honours Retry-After of a 429', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 1, h.clock.now()));
    stub.rateLimitNext(1, 30);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ retried: 1 });
    const o = await statusOf(h.store, '1-1');
    expect(Date.parse(o.scheduling.next_attempt_at)).toBe(h.clock.ms + 30_000);
  });

  it('fails an order whose next retry would come after its deadline', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 1, h.clock.now(), command({ timeout: 10 })));
    stub.rateLimitNext(1, 60);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ expired: 1 });
    const o = await statusOf(h.store, '1-1');
    expect(o.command.status).toBe('failure');
    expect(o.command.result?.code).toBe(ResultCodes.EXPIRED_UNDELIVERED);
    expect(o.command.result?.message).toMatch(/^expired undelivered: .*HTTP 429/);
  });

  it('fails a 4xx without retrying, once the batch is split down to the order it is about', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 2, h.clock.now()));
    // The batch of two, then each order alone.
    stub.failNext(3, 400, { body: { title: 'Bad Request', detail: 'unknown action' } });
    expect(await h.scheduler.dispatchDue()).toMatchObject({ failed: 2, retried: 0 });
    const o = await statusOf(h.store, '1-1');
    expect(o.command.status).toBe('failure');
    expect(o.command.result?.code).toBe(ResultCodes.UNDELIVERABLE);
    expect(o.command.result?.message).toContain('unknown action');
    h.clock.advance(120_000);
    expect((await h.scheduler.dispatchDue()).claimed).toBe(0);
    expect(stub.acceptRequests).toBe(3);
  });

  it('records a partial answer per order: accepted sent, rejected failed with the reason', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 3, h.clock.now()));
    stub.rejectIds.set('1-2', 'agent 002 is not connected');
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 2, rejected: 1 });
    expect((await statusOf(h.store, '1-1')).command.status).toBe('sent');
    expect((await statusOf(h.store, '1-3')).command.status).toBe('sent');
    const rejected = await statusOf(h.store, '1-2');
    expect(rejected.command.status).toBe('failure');
    expect(rejected.command.result).toEqual({
      code: ResultCodes.REJECTED,
      message: 'agent 002 is not connected',
    });
    expect(h.metrics.counter(M.REJECTED, { reason: 'rejected' })).toBe(1);
  });

  it('never claims an order leased by another live sidecar', async () => {
    const a = harness();
    await a.store.saveOrders(orders(1, 1, a.clock.now()));
    const [claimed] = await a.store.claimDue({
      owner: 'sidecar-b',
      leaseMs: 30_000,
      limit: 1,
      now: a.clock.now(),
    });
    expect(claimed).toBeDefined();
    expect((await a.scheduler.dispatchDue()).claimed).toBe(0);
    a.clock.advance(30_000);
    expect(await a.scheduler.dispatchDue()).toMatchObject({ claimed: 1, accepted: 1 });
  });
});

describe('leases', () => {
  it('a verdict for an order another dispatcher wrote meanwhile is not written (LEASE_LOST)', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 2, h.clock.now()));
    stub.holdNext(1);
    const round = h.scheduler.dispatchDue();
    await stub.waitFor(() => stub.received.length === 2);
    // Another sidecar takes 1-1 over (as if our lease had expired).
    const current = await h.store.getOrder('1-1');
    if (!current) throw new Error('missing');
    await h.store.writeConditional([
      {
        id: '1-1',
        rev: current.rev,
        order: withLeaseForTest(current.order, 'sidecar-b', h.clock.ms + 60_000),
      },
    ]);
    stub.releaseHeld();
    const summary = await round;

    expect(summary).toMatchObject({ accepted: 1, leaseLost: 1 });
    const taken = await statusOf(h.store, '1-1');
    expect(taken.command.status).toBe('pending');
    expect(taken.scheduling.lease_owner).toBe('sidecar-b');
    expect(h.metrics.counter(M.LEASE_LOSSES)).toBe(1);
    expect(h.logger.entries.some((e) => e.meta?.code === 'LEASE_LOST' && e.meta.orderId === '1-1')).toBe(
      true,
    );
  });

  it('does not deliver the orders of a partition lost while their batch waited for a delivery slot', async () => {
    let held = true;
    const ownership = { usable: () => (held ? all : []), holds: () => held };
    const all = Array.from({ length: 64 }, (_, p) => p);
    const h = harness({ batchSize: 1, concurrency: 1 }, { partitions: ownership });
    await h.store.saveOrders(orders(1, 2, h.clock.now()));
    stub.holdNext(1);
    const round = h.scheduler.dispatchDue();
    await stub.waitFor(() => stub.received.length === 1);
    // The second batch was claimed ahead and waits for the only slot; the partitions pass to another sidecar.
    held = false;
    stub.releaseHeld();
    const summary = await round;
    expect(summary).toMatchObject({ claimed: 2, accepted: 1, leaseLost: 1 });
    expect(stub.received).toHaveLength(1);
    const [first, second] = [await statusOf(h.store, '1-1'), await statusOf(h.store, '1-2')];
    expect([first.command.status, second.command.status].sort()).toEqual(['pending', 'sent']);
    expect(h.metrics.counter(M.LEASE_LOSSES)).toBe(1);
  });

  it('leaves an order decided elsewhere while in flight (result raced the sent write)', async () => {
    const h = harness();
    await h.store.saveOrders(orders(1, 1, h.clock.now()));
    stub.holdNext(1);
    const round = h.scheduler.dispatchDue();
    await stub.waitFor(() => stub.received.length === 1);
    const current = await h.store.getOrder('1-1');
    if (!current) throw new Error('missing');
    const done = applyResult(
      current.order,
      { status: 'success', result: { code: 0, message: 'ok' } },
      h.clock.now(),
    );
    await h.store.writeConditional([{ id: '1-1', rev: current.rev, order: done }]);
    stub.releaseHeld();
    const summary = await round;
    expect(summary).toMatchObject({ accepted: 0, leaseLost: 0 });
    expect((await statusOf(h.store, '1-1')).command.status).toBe('success');
  });
});

describe('circuit breaker', () => {
  it('opens after consecutive failures, stops calling, and closes after a successful trial', async () => {
    const h = harness({}, { breaker: { failureThreshold: 2, openMs: 10_000 } });
    await h.store.saveOrders(orders(1, 1, h.clock.now()));
    stub.failNext(2, 502);
    await h.scheduler.dispatchDue();
    h.clock.advance(1000);
    await h.scheduler.dispatchDue();
    expect(h.client.breaker.state).toBe('open');
    expect(h.metrics.gauge(M.BREAKER_STATE)).toBe(1);
    expect(stub.acceptRequests).toBe(2);

    // Open: nothing is claimed and the API is not called, however long the backoff is past.
    h.clock.advance(5000);
    expect((await h.scheduler.dispatchDue()).claimed).toBe(0);
    expect(stub.acceptRequests).toBe(2);

    h.clock.advance(5000);
    expect(h.client.breaker.state).toBe('half-open');
    expect(h.metrics.gauge(M.BREAKER_STATE)).toBe(2);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 1 });
    expect(h.client.breaker.state).toBe('closed');
    expect(h.metrics.gauge(M.BREAKER_STATE)).toBe(0);
  });

  it('re-opens when the half-open trial fails', async () => {
    const h = harness({}, { breaker: { failureThreshold: 1, openMs: 1000 } });
    await h.store.saveOrders(orders(1, 1, h.clock.now()));
    stub.failNext(2, 500);
    await h.scheduler.dispatchDue();
    expect(h.client.breaker.state).toBe('open');
    h.clock.advance(1000);
    await h.scheduler.dispatchDue();
    expect(stub.acceptRequests).toBe(2);
    expect(h.client.breaker.state).toBe('open');
  });
});

describe('deadlines', () => {
  it('fails pending orders past their deadline as expired undelivered and sent ones as no result in time', async () => {
    const h = harness();
    const t0 = h.clock.now();
    const [pending, sent, fresh, done] = orders(1, 4, t0, command({ timeout: 60 }));
    if (!pending || !sent || !fresh || !done) throw new Error('fixtures');
    const sentOrder = markSent(sent, t0);
    const doneOrder = applyResult(
      markSent(done, t0),
      { status: 'success', result: { code: 0, message: 'ok' } },
      t0,
    );
    const freshOrder = { ...fresh, delivery_timestamp: new Date(t0.getTime() + 3_600_000).toISOString() };
    await h.store.saveOrders([pending, sentOrder, freshOrder, doneOrder]);
    h.clock.advance(61_000);

    const summary = await h.scheduler.sweepDeadlines();

    expect(summary).toEqual({ expiredUndelivered: 1, noResultInTime: 1, conflicts: 0 });
    expect((await statusOf(h.store, '1-1')).command.result).toEqual({
      code: ResultCodes.EXPIRED_UNDELIVERED,
      message: 'expired undelivered',
    });
    expect((await statusOf(h.store, '1-2')).command.result).toEqual({
      code: ResultCodes.NO_RESULT_IN_TIME,
      message: 'no result came in time',
    });
    expect((await statusOf(h.store, '1-3')).command.status).toBe('pending');
    expect((await statusOf(h.store, '1-4')).command.status).toBe('success');
    expect(h.metrics.counter(M.EXPIRED, { kind: 'undelivered' })).toBe(1);
    expect(h.metrics.counter(M.EXPIRED, { kind: 'no_result' })).toBe(1);
  });

  it('sweeps in bulk across several rounds', async () => {
    const h = harness({ sweepBatchSize: 3 });
    await h.store.saveOrders(orders(1, 10, h.clock.now(), command({ timeout: 1 })));
    h.clock.advance(2000);
    expect(await h.scheduler.sweepDeadlines()).toMatchObject({ expiredUndelivered: 10 });
    expect((await h.store.countByStatus({})).failure).toBe(10);
  });
});

describe('rollout control', () => {
  it('stops the rollout once failures exceed max_errors: pending orders fail and the record says so', async () => {
    const h = harness();
    const cmd = command({ max_errors: 1 });
    await h.requests.createRequest(requestRecord(1, cmd, 6, h.clock.now()));
    await h.store.saveOrders(orders(1, 6, h.clock.now(), cmd));
    for (const id of ['1-1', '1-2']) {
      const s = await h.store.getOrder(id);
      if (!s) throw new Error('missing');
      const failed = markFailed(s.order, { code: 1, message: 'agent error' }, h.clock.now());
      await h.store.writeConditional([{ id, rev: s.rev, order: failed }]);
    }
    // 1-6 is being delivered by another sidecar right now: left to its holder.
    const s6 = await h.store.getOrder('1-6');
    if (!s6) throw new Error('missing');
    await h.store.writeConditional([
      { id: '1-6', rev: s6.rev, order: withLeaseForTest(s6.order, 'sidecar-b', h.clock.ms + 60_000) },
    ]);

    const summary = await h.scheduler.dispatchDue();

    expect(summary.rolloutStopped).toBe(3);
    expect(stub.acceptRequests).toBe(0);
    for (const id of ['1-3', '1-4', '1-5']) {
      const o = await statusOf(h.store, id);
      expect(o.command.status).toBe('failure');
      expect(o.command.result?.code).toBe(ResultCodes.ROLLOUT_STOPPED);
      expect(o.command.result?.message).toMatch(/rollout stopped/);
    }
    expect((await statusOf(h.store, '1-6')).command.status).toBe('pending');
    expect((await h.requests.getRequest(1))?.rollout_stopped_at).toBe(h.clock.now().toISOString());
    expect(h.metrics.counter(M.ROLLOUT_STOPPED)).toBe(3);

    // The other sidecar's delivery failed and put 1-6 back: the next claim fails it too.
    const back = await h.store.getOrder('1-6');
    if (!back) throw new Error('missing');
    await h.store.writeConditional([
      {
        id: '1-6',
        rev: back.rev,
        order: {
          ...back.order,
          scheduling: { ...back.order.scheduling, lease_owner: null, lease_expires_at: null },
        },
      },
    ]);
    expect((await h.scheduler.dispatchDue()).rolloutStopped).toBe(1);
    expect((await statusOf(h.store, '1-6')).command.result?.code).toBe(ResultCodes.ROLLOUT_STOPPED);
  });

  it('reads the budget as a percentage of the request orders', async () => {
    const h = harness();
    const cmd = command({ max_errors: '50%' });
    await h.requests.createRequest(requestRecord(1, cmd, 4, h.clock.now()));
    await h.store.saveOrders(orders(1, 4, h.clock.now(), cmd));
    const s = await h.store.getOrder('1-1');
    if (!s) throw new Error('missing');
    await h.store.writeConditional([
      { id: '1-1', rev: s.rev, order: markFailed(s.order, { code: 1, message: 'x' }, h.clock.now()) },
    ]);
    // 1 failure ≤ 2 allowed: delivered normally.
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 3, rolloutStopped: 0 });
  });

  it('keeps at most max_concurrency orders of a request sent but not terminal', async () => {
    const h = harness({ rolloutDeferMs: 5000 });
    const cmd = command({ max_concurrency: 2 });
    await h.requests.createRequest(requestRecord(1, cmd, 5, h.clock.now()));
    await h.store.saveOrders(orders(1, 5, h.clock.now(), cmd));
    // An unrelated request is not held back.
    await h.store.saveOrders(orders(2, 3, h.clock.now()));

    const first = await h.scheduler.dispatchDue();
    expect(first).toMatchObject({ accepted: 5, deferred: 3 });
    expect((await h.store.countByStatus({ requestId: 1 })).sent).toBe(2);
    expect((await h.store.countByStatus({ requestId: 2 })).sent).toBe(3);
    const deferred = (await h.store.listOrders({ requestId: 1, status: 'pending' }, { size: 10 })).items;
    expect(deferred.map((o) => o.order.scheduling.attempts)).toEqual([0, 0, 0]);

    h.clock.advance(5000);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 0, deferred: 3 });

    // One sent order completes: room for exactly one more.
    const s = await h.store.getOrder('1-1');
    if (!s) throw new Error('missing');
    await h.store.writeConditional([
      {
        id: '1-1',
        rev: s.rev,
        order: applyResult(s.order, { status: 'success', result: { code: 0, message: 'ok' } }, h.clock.now()),
      },
    ]);
    h.clock.advance(5000);
    expect(await h.scheduler.dispatchDue()).toMatchObject({ accepted: 1, deferred: 2 });
    expect((await h.store.countByStatus({ requestId: 1 })).sent).toBe(2);
  });
});

describe('retention', () => {
  async function seed(h: Harness): Promise<void> {
    const day = 24 * 3600 * 1000;
    const old = new Date(h.clock.ms - 10 * day);
    const [a, b, c, d, e] = orders(1, 5, old, command({ timeout: 30 * 24 * 3600 }));
    if (!a || !b || !c || !d || !e) throw new Error('fixtures');
    const eightDaysAgo = new Date(h.clock.ms - 8 * day);
    const oneDayAgo = new Date(h.clock.ms - day);
    await h.store.saveOrders([
      applyResult(markSent(a, old), { status: 'success', result: { code: 0, message: 'ok' } }, eightDaysAgo),
      markFailed(b, { code: 1, message: 'x' }, eightDaysAgo),
      applyResult(markSent(c, old), { status: 'success', result: { code: 0, message: 'ok' } }, oneDayAgo),
      d, // pending, submitted 10 days ago
      markSent(e, old), // sent 10 days ago
    ]);
  }

  it('archives exactly the terminal orders older than the retention period', async () => {
    const h = harness({ retentionMode: 'archive', retentionPageSize: 1 });
    await seed(h);
    expect(await h.scheduler.runRetention()).toEqual({ ran: true, removed: 2, conflicts: 0 });
    expect([...h.store.archived.keys()].sort()).toEqual(['1-1', '1-2']);
    expect(await h.store.getOrder('1-1')).toBeUndefined();
    expect(await h.store.getOrder('1-2')).toBeUndefined();
    for (const id of ['1-3', '1-4', '1-5']) expect(await h.store.getOrder(id)).toBeDefined();
    expect(h.metrics.counter(M.RETAINED, { mode: 'archive' })).toBe(2);
  });

  it('deletes without archiving in delete mode', async () => {
    const h = harness({ retentionMode: 'delete' });
    await seed(h);
    expect(await h.scheduler.runRetention()).toMatchObject({ removed: 2 });
    expect(h.store.archived.size).toBe(0);
    expect(h.store.size).toBe(3);
  });

  it('runs in one sidecar at a time under the retention lock, and releases it', async () => {
    const h = harness();
    await seed(h);
    await h.locks.acquire('retention', 'sidecar-b', 60_000, h.clock.now());
    expect(await h.scheduler.runRetention()).toEqual({ ran: false, removed: 0, conflicts: 0 });
    expect(h.store.size).toBe(5);
    await h.locks.release('retention', 'sidecar-b');
    expect(await h.scheduler.runRetention()).toMatchObject({ ran: true, removed: 2 });
    // Released at the end: another sidecar can take it at once.
    expect(await h.locks.acquire('retention', 'sidecar-b', 60_000, h.clock.now())).toBe(true);
  });
});

describe('lifecycle', () => {
  it('wake() dispatches at once although the poll interval is long', async () => {
    const h = harness({ pollIntervalMs: 3_600_000, sweepIntervalMs: 3_600_000 });
    h.scheduler.start();
    h.scheduler.start();
    await h.store.saveOrders(orders(1, 3, h.clock.now()));
    h.scheduler.wake();
    await stub.waitFor(() => stub.accepted.length === 3);
    await until(async () => (await h.store.countByStatus({})).sent === 3);
    await h.scheduler.stop();
    await h.scheduler.stop();
  });

  it('stop() aborts deliveries still in flight after the shutdown timeout and releases their leases', async () => {
    const h = harness({ pollIntervalMs: 3_600_000, shutdownTimeoutMs: 20 });
    await h.store.saveOrders(orders(1, 2, h.clock.now()));
    stub.holdNext(1);
    h.scheduler.start();
    h.scheduler.wake();
    await stub.waitFor(() => stub.received.length === 2);
    const revs = (await h.store.getOrders(ids(1, 2))).map((o) => o.rev);
    await h.scheduler.stop();
    for (const id of ids(1, 2)) {
      const o = await statusOf(h.store, id);
      expect(o.command.status).toBe('pending');
      expect(o.scheduling.lease_owner).toBeNull();
      expect(o.scheduling.attempts).toBe(0);
    }
    // Nothing was written on them: no lease was, so releasing one changes nothing.
    expect((await h.store.getOrders(ids(1, 2))).map((o) => o.rev)).toEqual(revs);
    // Stopped: no more claims.
    expect((await h.scheduler.dispatchDue()).claimed).toBe(0);
  });

  it('two schedulers sharing the partitions of one store never dispatch an order twice', async () => {
    const half = (parity: number): PartitionOwnership => ({
      usable: () => Array.from({ length: 32 }, (_, i) => 2 * i + parity),
      holds: (p) => p % 2 === parity,
    });
    const a = harness({ batchSize: 7, concurrency: 3 }, { partitions: half(0) });
    const b = harness(
      { batchSize: 5, concurrency: 2 },
      { owner: 'sidecar-b', shared: a, partitions: half(1) },
    );
    await a.store.saveOrders(orders(1, 200, a.clock.now()));
    for (let i = 0; i < 20; i++) await Promise.all([a.scheduler.dispatchDue(), b.scheduler.dispatchDue()]);
    expect((await a.store.countByStatus({})).sent).toBe(200);
    expect(stub.accepted).toHaveLength(200);
    expect(stub.duplicatesAccepted()).toEqual([]);
    expect(orderDocumentId(1, 200)).toBe('1-200');
    // Each delivered the orders of its own partitions.
    expect(a.metrics.counter(M.ACCEPTED)).toBeGreaterThan(0);
    expect(b.metrics.counter(M.ACCEPTED)).toBeGreaterThan(0);
  });
});

/** An in-memory store that logs which claim path ran: a search, or a read by id. */
class SpyStore extends InMemoryOrderStore {
  readonly calls: string[] = [];
  override async findDue(request: FindDueRequest): Promise<FindDueResult> {
    this.calls.push('findDue');
    return super.findDue(request);
  }
  override async getOrders(ids: readonly string[], options?: GetOrdersOptions): Promise<StoredOrder[]> {
    this.calls.push(`getOrders ${ids.join(',')}`);
    return super.getOrders(ids, options);
  }
}

describe('wake hints and pipelining', () => {
  function spied(
    store: InMemoryOrderStore,
    options: SchedulerOptions = {},
  ): { scheduler: Scheduler; metrics: InMemorySchedulerMetrics } {
    const client = new ManagementApiClient({ managementApiUrl: stub.url });
    const metrics = new InMemorySchedulerMetrics();
    const scheduler = new Scheduler({
      orders: store,
      requests: new InMemoryRequestStore({ orders: store }),
      locks: new InMemoryLockStore(),
      delivery: client,
      owner: 'sidecar-a',
      metrics,
      options: { pollIntervalMs: 3_600_000, sweepIntervalMs: 3_600_000, ...options },
    });
    open.push({ scheduler, client });
    return { scheduler, metrics };
  }

  it('wake(hint) claims a small submission by id and delivers it before any search', async () => {
    const store = new SpyStore();
    const { scheduler } = spied(store, { batchSize: 10 });
    scheduler.start();
    // The loop's first round searches once and finds nothing.
    await until(() => store.calls.length === 1);
    await store.saveOrders(orders(7, 3, new Date()));
    // What the calls look like when the orders reach the Management API.
    const atDelivery = new Promise<string[]>((resolve) =>
      stub.once('orders', () => resolve([...store.calls])),
    );
    scheduler.wake({ requestId: 7, orders: 3 });
    expect(await atDelivery).toEqual(['findDue', 'getOrders 7-1,7-2,7-3']);
    await until(async () => (await store.countByStatus({ requestId: 7 })).sent === 3);
    expect([...stub.accepted].sort()).toEqual(ids(7, 3));
  });

  it('wake(hint) for more than one batch falls back to the search', async () => {
    const store = new SpyStore();
    const { scheduler } = spied(store, { batchSize: 2 });
    scheduler.start();
    await until(() => store.calls.length === 1);
    await store.saveOrders(orders(8, 3, new Date()));
    scheduler.wake({ requestId: 8, orders: 3 });
    await until(async () => (await store.countByStatus({ requestId: 8 })).sent === 3);
    expect(store.calls.filter((c) => c.startsWith('getOrders'))).toEqual([]);
  });

  it('a hint naming orders that are not there (or not due) leaves them to the search', async () => {
    const store = new SpyStore();
    const { scheduler } = spied(store, { batchSize: 10 });
    scheduler.start();
    await until(() => store.calls.length === 1);
    // Only 2 of the 3 hinted orders exist: the hint claims those, and wakes the loop for the rest.
    await store.saveOrders(orders(5, 2, new Date()));
    scheduler.wake({ requestId: 5, orders: 3 });
    await until(async () => (await store.countByStatus({ requestId: 5 })).sent === 2);
    await until(() => store.calls.filter((c) => c === 'findDue').length >= 2);
    expect(stub.accepted).toHaveLength(2);
  });

  it('claims batches ahead of delivery but keeps at most `concurrency` calls in flight', async () => {
    const store = new InMemoryOrderStore();
    const { scheduler } = spied(store, { batchSize: 2, concurrency: 1 });
    await store.saveOrders(orders(1, 6, new Date()));
    stub.holdNext(1);
    const round = scheduler.dispatchDue();
    await stub.waitFor(() => stub.received.length === 2);
    // One call on the wire; the next batch is claimed and waits for the slot. Nothing is written on the
    // orders taken: the partitions' leases say who delivers them.
    expect((await store.getOrders(ids(1, 6))).every((o) => o.order.scheduling.lease_owner === null)).toBe(
      true,
    );
    expect(stub.acceptRequests).toBe(1);
    stub.releaseHeld();
    // One round holds at most 2 × concurrency batches; the next round takes the rest.
    expect(await round).toMatchObject({ claimed: 4, accepted: 4 });
    expect(await scheduler.dispatchDue()).toMatchObject({ claimed: 2, accepted: 2 });
    expect(stub.acceptRequests).toBe(3);
    expect(stub.duplicatesAccepted()).toEqual([]);
  });

  it('stop() releases batches claimed ahead that never got a delivery slot', async () => {
    const store = new InMemoryOrderStore();
    const { scheduler } = spied(store, { batchSize: 2, concurrency: 1, shutdownTimeoutMs: 20 });
    await store.saveOrders(orders(1, 4, new Date()));
    stub.holdNext(1);
    scheduler.start();
    await stub.waitFor(() => stub.received.length === 2);
    const revs = (await store.getOrders(ids(1, 4))).map((o) => o.rev);
    await scheduler.stop();
    expect(stub.acceptRequests).toBe(1);
    for (const o of await store.getOrders(ids(1, 4))) {
      expect(o.order.command.status).toBe('pending');
      expect(o.order.scheduling.lease_owner).toBeNull();
      expect(o.order.scheduling.attempts).toBe(0);
    }
    expect((await store.getOrders(ids(1, 4))).map((o) => o.rev)).toEqual(revs);
  });
});

/** Waits (yielding to the event loop) until `check` holds; bounded by jest's test timeout. */
async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 5));
}
