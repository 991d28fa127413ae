/**
 * The deadline sweep's use of agent presence, on the in-memory twins: an unreadable agents index delays only
 * the verdicts that depend on it.
 */
import {
  InMemoryLockStore,
  InMemoryOrderStore,
  markSent,
  newOrder,
  ResultCodes,
} from '@command-manager/core';
import type { AgentPresence, Order } from '@command-manager/core';
import { MaintenanceRunner } from '@command-manager/scheduler';
import type { AgentPresenceSource } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command } from './support/fixtures';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

function sent(orderId: number, target: Order['command']['target']): Order {
  const o = newOrder({
    command: command({ timeout: 60 }),
    requestId: 1,
    orderId,
    target,
    groups: [],
    principal: 'svc',
    now: new Date(T0),
  });
  return markSent(o, new Date(T0 + 1000));
}

it('an unreadable agents index leaves the orders that need it for the next sweep, and judges the others', async () => {
  const clock = new ManualClock(T0 + 61_000);
  const orders = new InMemoryOrderStore({ clock });
  await orders.saveOrders([
    sent(1, { type: 'agent', id: 'off' }),
    sent(2, { type: 'server', id: 'vulnerability-detector' }),
  ]);
  let down = true;
  const agents: AgentPresenceSource = {
    presence: async (ids) => {
      if (down) throw new Error('agents index unavailable');
      return new Map(ids.map((id): [string, AgentPresence] => [id, 'offline']));
    },
  };
  const runner = new MaintenanceRunner({
    owner: 'a',
    stores: { orders, locks: new InMemoryLockStore() },
    agents,
    clock,
  });
  const none = { expiredUndelivered: 0, noResultInTime: 0, conflicts: 0 };
  expect(await runner.sweepDeadlines()).toEqual({ ...none, noResultInTime: 1 });
  expect((await orders.getOrder('1-1'))?.order.command.status).toBe('sent');
  expect((await orders.getOrder('1-2'))?.order.command.result?.code).toBe(ResultCodes.NO_RESULT_IN_TIME);
  down = false;
  expect(await runner.sweepDeadlines()).toEqual({ ...none, agentOffline: 1 });
  expect((await orders.getOrder('1-1'))?.order.command.result?.code).toBe(ResultCodes.AGENT_OFFLINE);
});
