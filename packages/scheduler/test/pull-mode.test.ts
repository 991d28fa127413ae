import {
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  systemClock,
} from '@command-manager/core';
import { Scheduler } from '@command-manager/scheduler';
import type { OrderDelivery } from '@command-manager/scheduler';
import { command, orders } from './support/fixtures';

// A scheduler in pull mode pushes nothing but keeps its maintenance running.

it('runs the deadline sweep but no dispatch, and a wake does not dispatch either', async () => {
  const store = new InMemoryOrderStore();
  const now = systemClock.now();
  const [due] = orders(1, 1, now);
  const [overdue] = orders(2, 1, new Date(now.getTime() - 120_000), command({ timeout: 60 }));
  if (!due || !overdue) throw new Error('fixtures');
  await store.saveOrders([due, overdue]);
  const deliver = jest.fn<ReturnType<OrderDelivery['deliver']>, Parameters<OrderDelivery['deliver']>>();
  const scheduler = new Scheduler({
    orders: store,
    requests: new InMemoryRequestStore({ orders: store }),
    locks: new InMemoryLockStore(),
    delivery: { deliver, isBlocked: () => false },
    owner: 'sidecar-a',
    options: { mode: 'pull', pollIntervalMs: 10, sweepIntervalMs: 20 },
  });
  scheduler.start();
  try {
    scheduler.wake({ requestId: 1, orders: 1 });
    const giveUpAt = Date.now() + 5000;
    while ((await store.getOrder('2-1'))?.order.command.status !== 'failure') {
      if (Date.now() > giveUpAt) throw new Error('the sweep did not fail the overdue order');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Several poll intervals later the due order is still pending and unleased: nothing claimed it.
    await new Promise((r) => setTimeout(r, 100));
    const stillDue = await store.getOrder('1-1');
    expect(stillDue?.order.command.status).toBe('pending');
    expect(stillDue?.order.scheduling.lease_owner).toBeNull();
    expect(deliver).not.toHaveBeenCalled();
  } finally {
    await scheduler.stop();
  }
});
