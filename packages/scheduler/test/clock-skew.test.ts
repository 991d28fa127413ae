import {
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  ResultCodes,
  markSent,
} from '@command-manager/core';
import type { StoredOrder } from '@command-manager/core';
import {
  ClockSkewGuard,
  InMemorySchedulerMetrics,
  Scheduler,
  SchedulerMetricNames as M,
} from '@command-manager/scheduler';
import type { OrderDelivery, OrderVerdict, ServerTimeSource } from '@command-manager/scheduler';
import { ManualClock, RecordingLogger } from '@command-manager/test-support';
import { command, orders } from './support/fixtures';

/** The indexer's clock: the local manual time plus `offsetMs`, answered in whole seconds. */
class FakeIndexer implements ServerTimeSource {
  readonly resolutionMs = 1000;
  offsetMs = 0;
  calls = 0;
  down = false;

  constructor(private readonly clock: ManualClock) {}

  async serverTime(): Promise<Date> {
    this.calls++;
    if (this.down) throw new Error('indexer unreachable');
    const t = this.clock.ms + this.offsetMs;
    return new Date(t - (t % 1000));
  }
}

function guardWorld(): {
  clock: ManualClock;
  indexer: FakeIndexer;
  guard: ClockSkewGuard;
  logger: RecordingLogger;
  metrics: InMemorySchedulerMetrics;
} {
  const clock = new ManualClock(Date.parse('2025-06-01T12:00:00.500Z'));
  const indexer = new FakeIndexer(clock);
  const logger = new RecordingLogger();
  const metrics = new InMemorySchedulerMetrics();
  const guard = new ClockSkewGuard({
    server: indexer,
    clock,
    monotonic: { nowMs: () => clock.ms },
    logger,
    metrics,
    options: { maxSkewMs: 5000, checkIntervalMs: 10_000 },
  });
  return { clock, indexer, guard, logger, metrics };
}

describe('ClockSkewGuard', () => {
  it('measures the skew against the indexer and refuses deadlines beyond the bound until it is back', async () => {
    const { clock, indexer, guard, logger, metrics } = guardWorld();
    expect(await guard.allowsDeadlines()).toBe(true);
    expect(guard.lastSkewMs()).toBe(0);
    expect(metrics.gauge(M.CLOCK_SKEW_EXCEEDED)).toBe(0);

    // This clock 60 s ahead of the indexer's.
    indexer.offsetMs = -60_000;
    clock.advance(10_000);
    expect(await guard.allowsDeadlines()).toBe(false);
    expect(guard.withinBound()).toBe(false);
    expect(guard.lastSkewMs()).toBe(60_000);
    expect(metrics.gauge(M.CLOCK_SKEW_SECONDS)).toBe(60);
    expect(metrics.gauge(M.CLOCK_SKEW_EXCEEDED)).toBe(1);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);

    indexer.offsetMs = 4000;
    clock.advance(10_000);
    expect(await guard.allowsDeadlines()).toBe(true);
    expect(guard.lastSkewMs()).toBe(-4000);
    expect(metrics.gauge(M.CLOCK_SKEW_EXCEEDED)).toBe(0);
    expect(logger.lines.some((l) => l.level === 'info' && /agrees .* again/.test(l.message))).toBe(true);
  });

  it("serverClock reads the indexer's time whenever the skew measured exceeds the measurement's error", async () => {
    const { clock, indexer, guard } = guardWorld();
    // Nothing measured yet: this clock as it is.
    expect(guard.serverClock().now().getTime()).toBe(clock.ms);
    // 3 s ahead: within the deadline bound (indexerClock keeps this clock), yet beyond the estimate's error.
    indexer.offsetMs = -3000;
    await guard.allowsDeadlines();
    expect(guard.withinBound()).toBe(true);
    expect(guard.indexerClock().now().getTime()).toBe(clock.ms);
    expect(guard.serverClock().now().getTime()).toBe(clock.ms - 3000);
    // 60 s ahead: corrected too.
    indexer.offsetMs = -60_000;
    clock.advance(10_000);
    await guard.allowsDeadlines();
    expect(guard.serverClock().now().getTime()).toBe(clock.ms - 60_000);
    // A skew the estimate cannot tell from none (under half a second, the round trip being instant here):
    // this clock as it is, more exact than the estimate.
    indexer.offsetMs = 0;
    clock.advance(10_000);
    await guard.allowsDeadlines();
    expect(guard.lastSkewMs()).toBe(0);
    expect(guard.serverClock().now().getTime()).toBe(clock.ms);
  });

  it('asks the indexer at most once per check interval, and keeps its verdict while the indexer is unreachable', async () => {
    const { clock, indexer, guard } = guardWorld();
    indexer.offsetMs = 60_000;
    expect(await guard.allowsDeadlines()).toBe(false);
    clock.advance(9_999);
    indexer.offsetMs = 0;
    expect(await guard.allowsDeadlines()).toBe(false);
    expect(indexer.calls).toBe(1);
    clock.advance(1);
    indexer.down = true;
    expect(await guard.allowsDeadlines()).toBe(false);
    indexer.down = false;
    expect(await guard.allowsDeadlines()).toBe(true);
    expect(indexer.calls).toBe(3);
  });
});

/** Answers every order with `retry` (and a Retry-After), as a Management API that is busy. */
const busyDelivery: OrderDelivery = {
  deliver: async (batch: readonly StoredOrder[]) =>
    new Map<string, OrderVerdict>(
      batch.map((o) => [o.id, { kind: 'retry', reason: 'busy', retryAfterMs: 60_000 }]),
    ),
  isBlocked: () => false,
};

describe('deadlines under clock skew', () => {
  async function schedulerWorld(offsetMs: number): Promise<{
    clock: ManualClock;
    store: InMemoryOrderStore;
    scheduler: Scheduler;
  }> {
    const { clock, indexer, guard } = guardWorld();
    indexer.offsetMs = offsetMs;
    const store = new InMemoryOrderStore({ clock });
    const scheduler = new Scheduler({
      orders: store,
      requests: new InMemoryRequestStore({ orders: store }),
      locks: new InMemoryLockStore(),
      delivery: busyDelivery,
      owner: 'skewed',
      clock,
      clockSkew: guard,
      options: { random: () => 0 },
    });
    await guard.allowsDeadlines();
    return { clock, store, scheduler };
  }

  it('neither sweeps nor expires a failed delivery while this clock is beyond the bound', async () => {
    const { clock, store, scheduler } = await schedulerWorld(-60_000);
    const [pending, sent] = orders(1, 2, clock.now(), command({ timeout: 30 }));
    if (!pending || !sent) throw new Error('fixtures');
    await store.saveOrders([pending]);
    // The retry (60 s later) lands after the 30 s deadline: an agreeing clock would expire it now.
    expect(await scheduler.dispatchDue()).toMatchObject({ retried: 1, expired: 0 });
    await store.saveOrders([markSent(sent, clock.now())]);
    clock.advance(31_000);
    expect(await scheduler.sweepDeadlines()).toEqual({
      expiredUndelivered: 0,
      noResultInTime: 0,
      conflicts: 0,
      skipped: 'clock_skew',
    });
    expect((await store.getOrder('1-1'))?.order.command.status).toBe('pending');
    expect((await store.getOrder('1-2'))?.order.command.status).toBe('sent');
    await scheduler.stop();
  });

  it('enforces deadlines as before while this clock agrees with the indexer', async () => {
    const { clock, store, scheduler } = await schedulerWorld(1500);
    await store.saveOrders(orders(1, 1, clock.now(), command({ timeout: 30 })));
    expect(await scheduler.dispatchDue()).toMatchObject({ retried: 0, expired: 1 });
    expect((await store.getOrder('1-1'))?.order.command.result?.code).toBe(ResultCodes.EXPIRED_UNDELIVERED);
    await scheduler.stop();
  });
});
