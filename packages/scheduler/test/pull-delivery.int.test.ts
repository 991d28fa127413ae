/**
 * Pull delivery against real OpenSearch (through the adapter): consumers claim due orders under a lease and
 * acknowledge them; the scheduler runs in pull mode beside them (deadlines, rollout control).
 */
import { applyResult, markFailed, systemClock } from '@command-manager/core';
import type { Clock, StoredOrder } from '@command-manager/core';
import { OpenSearchServerTime } from '@command-manager/opensearch';
import {
  ClockSkewGuard,
  InMemorySchedulerMetrics,
  PullDelivery,
  Scheduler,
  SchedulerMetricNames,
  consumerLeaseOwner,
} from '@command-manager/scheduler';
import type { OrderDelivery } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command, ids, orders, requestRecord } from './support/fixtures';
import { openSearchFixture } from './support/opensearch-fixture';
import type { Stores } from './support/opensearch-fixture';

jest.setTimeout(120_000);

const os = openSearchFixture(__filename);
const running: Array<{ scheduler: Scheduler; pull: PullDelivery }> = [];

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.pull.stop();
    await r.scheduler.stop();
  }
});

afterAll(async () => {
  await os.close();
});

/** Pull mode never calls the push delivery; this one fails the test should it be called. */
const noPush: OrderDelivery = {
  isBlocked: () => true,
  deliver: () => Promise.reject(new Error('push delivery called in pull mode')),
};

function pullMode(
  stores: Stores,
  options: {
    clock?: Clock;
    pollIntervalMs?: number;
    maxWaiters?: number;
    maxAnswerBytes?: number;
    owner?: string;
  } = {},
): { scheduler: Scheduler; pull: PullDelivery; metrics: InMemorySchedulerMetrics } {
  const metrics = new InMemorySchedulerMetrics();
  const clock = options.clock ?? systemClock;
  const scheduler = new Scheduler({
    orders: stores.orders,
    requests: stores.requests,
    locks: stores.locks,
    delivery: noPush,
    owner: options.owner ?? 'sidecar-a',
    clock,
    metrics,
    options: { mode: 'pull', sweepIntervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
  });
  const pull = new PullDelivery({
    orders: stores.orders,
    admission: scheduler,
    clock,
    metrics,
    options: {
      pollIntervalMs: options.pollIntervalMs ?? 100,
      ...(options.maxWaiters !== undefined && { maxWaiters: options.maxWaiters }),
      ...(options.maxAnswerBytes !== undefined && { maxAnswerBytes: options.maxAnswerBytes }),
    },
  });
  running.push({ scheduler, pull });
  return { scheduler, pull, metrics };
}

function idsOf(claimed: readonly StoredOrder[]): string[] {
  return claimed.map((o) => o.id);
}

it('two consumers claiming at once never receive the same order while its lease holds', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const n = 300;
  await stores.orders.saveOrders(orders(1, n, systemClock.now()));
  const { pull } = pullMode(stores);
  const got = new Map<string, string[]>([
    ['server-a', []],
    ['server-b', []],
  ]);
  // Several claims of each consumer in flight at once, round after round, until none is left.
  for (let round = 0; round < 50; round++) {
    const answers = await Promise.all(
      ['server-a', 'server-b', 'server-a', 'server-b'].map(async (consumer) => ({
        consumer,
        answer: await pull.claim({ consumer, size: 40, leaseMs: 60_000, waitMs: 0 }),
      })),
    );
    for (const { consumer, answer } of answers) got.get(consumer)?.push(...idsOf(answer.orders));
    if (answers.every((a) => a.answer.orders.length === 0)) break;
  }
  const all = [...(got.get('server-a') ?? []), ...(got.get('server-b') ?? [])];
  expect(all).toHaveLength(n);
  expect(new Set(all)).toEqual(new Set(ids(1, n)));
  expect((got.get('server-a') ?? []).length).toBeGreaterThan(0);
  expect((got.get('server-b') ?? []).length).toBeGreaterThan(0);
  // Each order is leased to the consumer that received it.
  const stored = new Map((await stores.orders.getOrders(all)).map((o) => [o.id, o]));
  for (const [consumer, list] of got) {
    for (const id of list)
      expect(stored.get(id)?.order.scheduling.lease_owner).toBe(consumerLeaseOwner(consumer));
  }
  // An ack by the wrong consumer changes nothing; by the right one, the orders are sent.
  const [aFirst] = got.get('server-a') ?? [];
  expect(await pull.ack({ consumer: 'server-b', orders: [aFirst ?? ''] })).toEqual([
    expect.objectContaining({ id: aFirst, outcome: 'not_yours' }),
  ]);
  for (const [consumer, list] of got) {
    const outcomes = await pull.ack({ consumer, orders: list });
    expect(outcomes.every((o) => o.outcome === 'applied')).toBe(true);
  }
  expect(await stores.orders.countByStatus({ requestId: 1 })).toMatchObject({ pending: 0, sent: n });
});

it('an un-acked order is claimable again after its lease, and delivered exactly once more', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const clock = new ManualClock(Date.now());
  await stores.orders.saveOrders(orders(2, 5, clock.now()));
  const { pull, metrics } = pullMode(stores, { clock });

  const first = await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 5000, waitMs: 0 });
  expect(idsOf(first.orders).sort()).toEqual(ids(2, 5).sort());
  expect(Date.parse(first.leaseExpiresAt ?? '')).toBe(clock.ms + 5000);
  // While the lease holds nobody gets them, the holder included.
  clock.advance(4999);
  expect((await pull.claim({ consumer: 'server-b', size: 10, leaseMs: 5000, waitMs: 0 })).orders).toEqual([]);
  expect((await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 5000, waitMs: 0 })).orders).toEqual([]);

  // server-a never acks (killed mid-batch): after the lease, the orders go to server-b, once.
  clock.advance(1);
  const second = await pull.claim({ consumer: 'server-b', size: 10, leaseMs: 5000, waitMs: 0 });
  expect(idsOf(second.orders).sort()).toEqual(ids(2, 5).sort());
  expect((await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 5000, waitMs: 0 })).orders).toEqual([]);
  expect((await pull.claim({ consumer: 'server-b', size: 10, leaseMs: 5000, waitMs: 0 })).orders).toEqual([]);

  // server-a's late ack is refused (another consumer holds them); server-b's applies.
  const late = await pull.ack({ consumer: 'server-a', orders: ids(2, 5) });
  expect(late.map((o) => o.outcome)).toEqual(Array(5).fill('not_yours'));
  const acked = await pull.ack({ consumer: 'server-b', orders: [...ids(2, 5), '2-99'] });
  expect(acked.map((o) => o.outcome)).toEqual([...Array(5).fill('applied'), 'unknown']);
  // A repeated ack says the order is sent already.
  expect(await pull.ack({ consumer: 'server-b', orders: ['2-1'] })).toEqual([
    expect.objectContaining({ id: '2-1', outcome: 'conflict', status: 'sent' }),
  ]);
  // Nothing is claimable any more.
  clock.advance(60_000);
  expect((await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 5000, waitMs: 0 })).orders).toEqual([]);
  expect(await stores.orders.countByStatus({ requestId: 2 })).toMatchObject({ pending: 0, sent: 5 });
  expect(metrics.counter(SchedulerMetricNames.PULL_ORDERS_CLAIMED)).toBe(10);
  expect(metrics.counter(SchedulerMetricNames.PULL_ACKS, { outcome: 'applied' })).toBe(5);
  expect(metrics.counter(SchedulerMetricNames.PULL_ACKS, { outcome: 'not_yours' })).toBe(5);
});

it("after the consumer's lease lapsed, its ack is applied until another consumer claims the order", async () => {
  const stores = await os.stores({ writeRefresh: true });
  await stores.orders.saveOrders(orders(3, 2, systemClock.now()));
  const { pull } = pullMode(stores);
  const first = await pull.claim({ consumer: 'server-a', size: 2, leaseMs: 1000, waitMs: 0 });
  expect(idsOf(first.orders).sort()).toEqual(['3-1', '3-2']);
  // Leases lapse on the indexer's clock: real time has to pass.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // Nobody claimed 3-1 since: the lapsed lease is still server-a's, and so is the ack.
  expect((await pull.ack({ consumer: 'server-a', orders: ['3-1'] }))[0]?.outcome).toBe('applied');
  // 3-2 is claimed by server-b once its lease lapsed; server-a's late ack is then refused.
  const again = await pull.claim({ consumer: 'server-b', size: 2, leaseMs: 30_000, waitMs: 0 });
  expect(idsOf(again.orders)).toEqual(['3-2']);
  expect(await pull.ack({ consumer: 'server-a', orders: ['3-2'] })).toEqual([
    expect.objectContaining({ id: '3-2', outcome: 'not_yours' }),
  ]);
  expect((await pull.ack({ consumer: 'server-b', orders: ['3-2'] }))[0]?.outcome).toBe('applied');
});

it("a sidecar whose clock runs 60 s ahead does not take a consumer's live lease", async () => {
  const stores = await os.stores({ writeRefresh: true });
  await stores.orders.saveOrders(orders(9, 2, systemClock.now()));
  const { pull } = pullMode(stores, { owner: 'sidecar-a' });
  const held = await pull.claim({ consumer: 'server-a', size: 2, leaseMs: 30_000, waitMs: 0 });
  expect(idsOf(held.orders).sort()).toEqual(['9-1', '9-2']);
  // Another sidecar, its clock 60 s ahead: by its clock the 30 s leases have lapsed; by the indexer's, not.
  // It claims on the indexer's time, as the sidecar wires it: its clock corrected by the skew measured.
  const ahead: Clock = { now: () => new Date(Date.now() + 60_000) };
  const guard = new ClockSkewGuard({ server: new OpenSearchServerTime(os.client), clock: ahead });
  await guard.allowsDeadlines();
  expect(guard.lastSkewMs()).toBeGreaterThan(55_000);
  const skewed = pullMode(stores, { owner: 'sidecar-b', clock: guard.serverClock() });
  expect(
    (await skewed.pull.claim({ consumer: 'server-b', size: 2, leaseMs: 30_000, waitMs: 0 })).orders,
  ).toEqual([]);
  // Nor by id (the path of a wake): a leased order is left to the search, which judges its lease.
  expect(
    await stores.orders.claimByIds({
      ids: ['9-1', '9-2'],
      owner: 'pull:server-b',
      now: ahead.now(),
      leaseMs: 30_000,
    }),
  ).toEqual([]);
  expect((await pull.ack({ consumer: 'server-a', orders: ['9-1', '9-2'] })).map((o) => o.outcome)).toEqual([
    'applied',
    'applied',
  ]);
});

it('a long-poll is answered with an order as soon as a submission on this sidecar wakes it', async () => {
  const stores = await os.stores();
  // A poll interval far beyond the test: only the wake can answer the claim in time.
  const { pull, metrics } = pullMode(stores, { pollIntervalMs: 60_000 });
  const started = performance.now();
  const claim = pull.claim({ consumer: 'server-a', size: 10, leaseMs: 30_000, waitMs: 30_000 });
  await until(() => pull.waiting === 1);
  expect(metrics.gauge(SchedulerMetricNames.PULL_WAITERS)).toBe(1);
  // What CommandService does: write, then tell the scheduler side which orders it wrote.
  await stores.orders.saveOrders(orders(4, 2, systemClock.now()));
  const submittedAt = performance.now();
  pull.wake({ requestId: 4, orders: 2 });
  const answer = await claim;
  const answeredAt = performance.now();
  expect(idsOf(answer.orders).sort()).toEqual(['4-1', '4-2']);
  expect(answeredAt - submittedAt).toBeLessThan(1000);
  expect(pull.waiting).toBe(0);
  expect(metrics.gauge(SchedulerMetricNames.PULL_WAITERS)).toBe(0);
  // Figure for the report (not asserted beyond the bound above).
  process.stdout.write(
    `long-poll answered ${(answeredAt - submittedAt).toFixed(1)} ms after the wake (waited ${(submittedAt - started).toFixed(0)} ms before it)\n`,
  );
});

it('a long-poll on another sidecar finds an order written elsewhere within its poll interval', async () => {
  const stores = await os.stores();
  const { pull } = pullMode(stores, { pollIntervalMs: 200 });
  const claim = pull.claim({ consumer: 'server-a', size: 10, leaseMs: 30_000, waitMs: 20_000 });
  await until(() => pull.waiting === 1);
  // Written through "another sidecar": no wake reaches this one; the periodic refresh makes it searchable.
  await stores.orders.saveOrders(orders(5, 1, systemClock.now()));
  const answer = await claim;
  expect(idsOf(answer.orders)).toEqual(['5-1']);
});

it('a long-poll with nothing due answers empty after wait_ms; waiters beyond the cap are refused', async () => {
  const stores = await os.stores();
  const { pull, metrics } = pullMode(stores, { maxWaiters: 1 });
  const first = pull.claim({ consumer: 'server-a', size: 1, leaseMs: 30_000, waitMs: 400 });
  await until(() => pull.waiting === 1);
  await expect(
    pull.claim({ consumer: 'server-b', size: 1, leaseMs: 30_000, waitMs: 400 }),
  ).rejects.toMatchObject({
    code: 'TOO_MANY_WAITERS',
    retryAfterSec: 1,
  });
  // A claim that does not wait is not a waiter: it is answered.
  expect((await pull.claim({ consumer: 'server-b', size: 1, leaseMs: 30_000, waitMs: 0 })).orders).toEqual(
    [],
  );
  expect((await first).orders).toEqual([]);
  expect(metrics.counter(SchedulerMetricNames.PULL_CLAIMS, { result: 'empty' })).toBe(2);
});

it('a long-poll whose caller went away stops waiting at once', async () => {
  const stores = await os.stores();
  const { pull } = pullMode(stores);
  const controller = new AbortController();
  const claim = pull.claim(
    { consumer: 'server-a', size: 1, leaseMs: 30_000, waitMs: 30_000 },
    { signal: controller.signal },
  );
  await until(() => pull.waiting === 1);
  controller.abort();
  expect((await claim).orders).toEqual([]);
  expect(pull.waiting).toBe(0);
});

it('a target filter hands a consumer only its destination, on the search and the wake paths', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const now = systemClock.now();
  await stores.orders.saveOrders(orders(6, 3, now)); // agents 001, 002, 003
  const { pull } = pullMode(stores, { pollIntervalMs: 60_000 });
  const mine = await pull.claim({
    consumer: 'server-a',
    size: 10,
    leaseMs: 30_000,
    waitMs: 0,
    target: { type: 'agent', id: '002' },
  });
  expect(idsOf(mine.orders)).toEqual(['6-2']);
  const waiting = pull.claim({
    consumer: 'server-a',
    size: 10,
    leaseMs: 30_000,
    waitMs: 30_000,
    target: { type: 'agent', id: '002' },
  });
  await until(() => pull.waiting === 1);
  await stores.orders.saveOrders(orders(7, 3, now));
  pull.wake({ requestId: 7, orders: 3 });
  expect(idsOf((await waiting).orders)).toEqual(['7-2']);
});

it('deadlines still apply: a claimed order past its deadline cannot be acked and the sweep fails it', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const clock = new ManualClock(Date.now());
  await stores.orders.saveOrders(orders(8, 1, clock.now(), command({ timeout: 10 })));
  const { pull, scheduler } = pullMode(stores, { clock });
  expect(
    (await pull.claim({ consumer: 'server-a', size: 1, leaseMs: 60_000, waitMs: 0 })).orders,
  ).toHaveLength(1);
  clock.advance(10_001);
  expect((await pull.ack({ consumer: 'server-a', orders: ['8-1'] }))[0]).toMatchObject({
    outcome: 'expired',
  });
  // Past its deadline and un-acked: nobody may claim it, and the sweep (still running in pull mode) fails it.
  expect((await pull.claim({ consumer: 'server-b', size: 1, leaseMs: 60_000, waitMs: 0 })).orders).toEqual(
    [],
  );
  expect(await scheduler.sweepDeadlines()).toMatchObject({ expiredUndelivered: 1 });
  const failed = await stores.orders.getOrder('8-1');
  expect(failed?.order.command.status).toBe('failure');
  expect((await pull.ack({ consumer: 'server-a', orders: ['8-1'] }))[0]).toMatchObject({
    outcome: 'conflict',
    status: 'failure',
  });
});

it('results and cancels still apply: a result racing the ack wins, a cancelled order is not acked', async () => {
  const stores = await os.stores({ writeRefresh: true });
  await stores.orders.saveOrders(orders(9, 2, systemClock.now()));
  const { pull } = pullMode(stores);
  const claimed = await pull.claim({ consumer: 'server-a', size: 2, leaseMs: 30_000, waitMs: 0 });
  expect(claimed.orders).toHaveLength(2);
  // The agent reported before the server acked (what CommandService.reportResults writes).
  const [o1, o2] = await stores.orders.getOrders(['9-1', '9-2']);
  const now = new Date();
  await stores.orders.writeConditional([
    {
      id: '9-1',
      rev: o1?.rev ?? '',
      order: applyResult(o1!.order, { status: 'success', result: { code: 0, message: 'ok' } }, now),
    },
    // A cancel (what CommandService.cancel writes on a pending order).
    { id: '9-2', rev: o2?.rev ?? '', order: markFailed(o2!.order, { code: 3, message: 'cancelled' }, now) },
  ]);
  const acked = await pull.ack({ consumer: 'server-a', orders: ['9-1', '9-2'] });
  expect(acked).toEqual([
    expect.objectContaining({ id: '9-1', outcome: 'conflict', status: 'success' }),
    expect.objectContaining({ id: '9-2', outcome: 'conflict', status: 'failure' }),
  ]);
  expect((await stores.orders.getOrder('9-1'))?.order.command.status).toBe('success');
  expect((await stores.orders.getOrder('9-2'))?.order.command.status).toBe('failure');
});

it('rollout control still applies: max_concurrency bounds what consumers hold, a stopped rollout fails', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const now = systemClock.now();
  const limited = command({ max_concurrency: 2 });
  await stores.requests.createRequest(requestRecord(10, limited, 5, now));
  await stores.orders.saveOrders(orders(10, 5, now, limited));
  const { pull } = pullMode(stores);
  const first = await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 30_000, waitMs: 0 });
  expect(first.orders).toHaveLength(2);
  // The other three were held back (deferred), not handed out.
  expect((await pull.claim({ consumer: 'server-b', size: 10, leaseMs: 30_000, waitMs: 0 })).orders).toEqual(
    [],
  );
  const acked = await pull.ack({ consumer: 'server-a', orders: idsOf(first.orders) });
  expect(acked.every((o) => o.outcome === 'applied')).toBe(true);

  const stopped = { ...requestRecord(11, command(), 3, now), rollout_stopped_at: now.toISOString() };
  await stores.requests.createRequest(stopped);
  await stores.orders.saveOrders(orders(11, 3, now));
  const none = await pull.claim({ consumer: 'server-a', size: 10, leaseMs: 30_000, waitMs: 0 });
  expect(none.orders.filter((o) => o.order.command.request_id === 11)).toEqual([]);
  expect(await stores.orders.countByStatus({ requestId: 11 })).toMatchObject({ failure: 3, pending: 0 });
});

async function until(check: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

it("a claim answer carries each order's args, within a byte budget: the rest is released, an order too large fails", async () => {
  const stores = await os.stores({ writeRefresh: true });
  const now = systemClock.now();
  // Ten orders with ~1 KB of args each, then one whose args alone exceed the budget.
  const small = command({ action: { name: 'set-group', args: { groups: ['g'.repeat(1000)] } } });
  await stores.orders.saveOrders(orders(1, 10, now, small));
  const huge = command({ action: { name: 'set-group', args: { groups: ['h'.repeat(8000)] } } });
  await stores.orders.saveOrders(orders(2, 1, now, huge));
  const { pull } = pullMode(stores, { maxAnswerBytes: 4096 });

  const first = await pull.claim({ consumer: 'server-a', size: 20, leaseMs: 60_000, waitMs: 0 });
  // Every order handed out carries its args; no more than the budget's worth of them.
  expect(first.orders.length).toBeGreaterThan(0);
  expect(first.orders.length).toBeLessThan(10);
  for (const o of first.orders) expect(o.order.command.action.args).toEqual({ groups: ['g'.repeat(1000)] });

  // The orders left out were released at once (not leased until the lease lapses): another claim gets them.
  const handed = new Set(idsOf(first.orders));
  for (let round = 0; round < 20; round++) {
    const next = await pull.claim({ consumer: 'server-b', size: 20, leaseMs: 60_000, waitMs: 0 });
    if (next.orders.length === 0) break;
    for (const o of next.orders) {
      expect(handed.has(o.id)).toBe(false);
      expect(o.order.command.action.args).toBeDefined();
      handed.add(o.id);
    }
  }
  expect([...handed].sort()).toEqual(ids(1, 10).sort());

  // The order whose args alone exceed the budget can never be handed out: it fails as undeliverable.
  const [tooLarge] = await stores.orders.getOrders(['2-1']);
  expect(tooLarge?.order.command.status).toBe('failure');
  expect(tooLarge?.order.command.result?.code).toBe(906);
});
