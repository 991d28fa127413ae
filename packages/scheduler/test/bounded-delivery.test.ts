/**
 * Claims read orders without their args; delivery reads them just before each `/accept_commands` call, as
 * many as fit in `deliveryMaxBytes`, so that a batch of orders with large args never sits in the heap whole.
 */
import { InMemoryLockStore, InMemoryOrderStore, InMemoryRequestStore } from '@command-manager/core';
import type { StoredOrder } from '@command-manager/core';
import { Scheduler } from '@command-manager/scheduler';
import type { OrderDelivery, OrderVerdict } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command, orders } from './support/fixtures';

/** Records every call; accepts every order. */
class RecordingDelivery implements OrderDelivery {
  calls: StoredOrder[][] = [];
  async deliver(batch: readonly StoredOrder[]): Promise<Map<string, OrderVerdict>> {
    this.calls.push(structuredClone([...batch]));
    return new Map(batch.map((s) => [s.id, { kind: 'accepted' }]));
  }
  isBlocked(): boolean {
    return false;
  }
}

const groups = (n: number, seed: string): string[] =>
  Array.from({ length: n }, (_, i) => `${seed}-${i}`.padEnd(45, 'x'));
const argsBytes = (s: StoredOrder): number => Buffer.byteLength(JSON.stringify(s.order.command.action.args));

describe('delivery posts args in calls bounded by bytes', () => {
  it.each([
    ['carried by the claim', true],
    ['read before each call (an answer too large to carry them)', false],
  ])(
    'args %s: every order with its full args, calls of at most deliveryMaxBytes, one too large alone fails',
    async (_how, carried) => {
      const clock = new ManualClock();
      const store = new InMemoryOrderStore({ clock });
      const now = clock.now();
      // 10 orders with ~56 KB of args each, and one whose ~300 KB can never fit a call of 200 KiB.
      const normal = orders(
        1,
        10,
        now,
        command({ action: { name: 'set-group', args: { groups: groups(1200, 'g') } } }),
      );
      const [huge] = orders(
        2,
        1,
        now,
        command({ action: { name: 'set-group', args: { groups: groups(6500, 'h') } } }),
      );
      await store.saveOrders([...normal, huge!]);

      const findDue = store.findDue.bind(store);
      const claimedArgs: unknown[] = [];
      store.findDue = async (r) => {
        const found = await findDue(r);
        if (!carried)
          for (const c of found.orders) {
            const { args: _args, ...action } = c.order.command.action;
            c.order.command.action = action as typeof c.order.command.action;
          }
        claimedArgs.push(...found.orders.map((c) => c.order.command.action.args));
        return found;
      };
      const delivery = new RecordingDelivery();
      const scheduler = new Scheduler({
        orders: store,
        requests: new InMemoryRequestStore({ orders: store }),
        locks: new InMemoryLockStore(),
        delivery,
        owner: 'sidecar-a',
        clock,
        options: { batchSize: 20, concurrency: 1, deliveryMaxBytes: 200 * 1024 },
      });
      try {
        await scheduler.dispatchDue();
      } finally {
        await scheduler.stop();
      }

      expect(claimedArgs).toHaveLength(11);
      expect(claimedArgs.every((a) => (a === undefined) === !carried)).toBe(true);
      expect(delivery.calls.length).toBeGreaterThan(1);
      for (const call of delivery.calls) {
        expect(call.reduce((sum, s) => sum + argsBytes(s), 0)).toBeLessThanOrEqual(200 * 1024);
      }
      const delivered = delivery.calls.flat();
      expect(delivered.map((s) => s.id).sort()).toEqual(normal.map((_, i) => `1-${i + 1}`).sort());
      for (const s of delivered) expect(s.order.command.action.args).toEqual({ groups: groups(1200, 'g') });

      for (let i = 1; i <= 10; i++) {
        const o = (await store.getOrder(`1-${i}`))!.order;
        expect(o.command.status).toBe('sent');
        // The verdict writes left the stored args as they were.
        expect(o.command.action.args).toEqual({ groups: groups(1200, 'g') });
      }
      const failed = (await store.getOrder('2-1'))!.order;
      expect(failed.command.status).toBe('failure');
      expect(failed.command.result?.message).toContain('larger than');
    },
  );
});
