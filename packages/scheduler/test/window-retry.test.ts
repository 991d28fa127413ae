/**
 * Dispatch retries within the delivery window: a retry that lands after an order's first deadline but
 * inside its window is scheduled, not failed (in-memory stores, a delivery that always answers "retry").
 */
import {
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  newOrder,
  ResultCodes,
} from '@command-manager/core';
import type { OrderVerdict } from '@command-manager/scheduler';
import { Scheduler } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command } from './support/fixtures';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

async function dispatchLate(windowS?: number) {
  const clock = new ManualClock(T0);
  const orders = new InMemoryOrderStore({ clock });
  await orders.saveOrders([
    newOrder({
      command: command({ timeout: 60, ...(windowS !== undefined && { delivery_window_s: windowS }) }),
      requestId: 1,
      orderId: 1,
      target: { type: 'agent', id: '001' },
      groups: [],
      principal: 'svc',
      now: new Date(T0),
    }),
  ]);
  const scheduler = new Scheduler({
    orders,
    requests: new InMemoryRequestStore({ orders }),
    locks: new InMemoryLockStore(),
    delivery: {
      isBlocked: () => false,
      deliver: async (batch) =>
        new Map(batch.map((o): [string, OrderVerdict] => [o.id, { kind: 'retry', reason: 'HTTP 503' }])),
    },
    owner: 'a',
    clock,
    options: {
      retryPolicy: { baseMs: 20_000, maxMs: 20_000, factor: 1, jitter: 0 },
      pollIntervalMs: 3_600_000,
      sweepIntervalMs: 3_600_000,
      retentionIntervalMs: 3_600_000,
    },
  });
  // 50 s in: the retry (20 s later) would land after the first deadline (60 s).
  clock.set(T0 + 50_000);
  const summary = await scheduler.dispatchDue();
  await scheduler.stop();
  return { summary, order: (await orders.getOrder('1-1'))?.order };
}

it('a retry past the first deadline fails the order without a window, and is scheduled within one', async () => {
  const plain = await dispatchLate();
  expect(plain.summary).toMatchObject({ claimed: 1, expired: 1, retried: 0 });
  expect(plain.order?.command.result?.code).toBe(ResultCodes.EXPIRED_UNDELIVERED);

  const windowed = await dispatchLate(3600);
  expect(windowed.summary).toMatchObject({ claimed: 1, expired: 0, retried: 1 });
  expect(windowed.order?.command.status).toBe('pending');
  expect(windowed.order?.scheduling.next_attempt_at).toBe(new Date(T0 + 70_000).toISOString());
});
