/**
 * The deadline sweep with delivery windows, against real OpenSearch: orders, and agents whose presence is
 * read from a real agents index (`agent.status`). The sweep's clock is moved by hand.
 */
import { markSent, newOrder, orderDocumentId, ResultCodes } from '@command-manager/core';
import type { Order } from '@command-manager/core';
import { createAgentsIndex, OpenSearchAgentDirectory, seedAgents } from '@command-manager/opensearch';
import {
  AgentDirectoryPresence,
  InMemorySchedulerMetrics,
  MaintenanceRunner,
} from '@command-manager/scheduler';
import type { SweepSummary } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command } from './support/fixtures';
import { openSearchFixture } from './support/opensearch-fixture';

jest.setTimeout(60_000);

const os = openSearchFixture(__filename);
afterAll(() => os.close());

const S = 1000;

it('an offline agent fails with AGENT_OFFLINE only when its window ends; online agents keep their codes', async () => {
  const stores = await os.stores({ writeRefresh: 'wait_for' });
  const agentsIndex = `${os.prefix}agents`;
  await createAgentsIndex(os.client, { index: agentsIndex });
  await seedAgents(
    os.client,
    [
      { id: 'on-sent', groups: ['g'], status: 'active' },
      { id: 'off-sent', groups: ['g'], status: 'disconnected' },
      { id: 'on-pending', groups: ['g'], status: 'active' },
      { id: 'off-pending', groups: ['g'], status: 'never_connected' },
      { id: 'back', groups: ['g'], status: 'disconnected' },
    ],
    { index: agentsIndex },
  );
  const t0 = Date.now() - 3600 * S;
  const clock = new ManualClock(t0);
  // timeout 60 s, window 150 s: a `sent` order of an offline agent is checked after 60 s, 120 s and 150 s.
  const windowed = command({ timeout: 60, delivery_window_s: 150 });
  const make = (orderId: number, agent: string, sent: boolean): Order => {
    const o = newOrder({
      command: windowed,
      requestId: 1,
      orderId,
      target: { type: 'agent', id: agent },
      groups: ['g'],
      principal: 'svc',
      now: new Date(t0),
    });
    return sent ? markSent(o, new Date(t0 + S)) : o;
  };
  const unknownAgent = newOrder({
    command: command({ timeout: 60 }),
    requestId: 2,
    orderId: 1,
    target: { type: 'agent', id: 'not-in-index' },
    groups: [],
    principal: 'svc',
    now: new Date(t0),
  });
  await stores.orders.saveOrders([
    make(1, 'on-sent', true),
    make(2, 'off-sent', true),
    make(3, 'on-pending', false),
    make(4, 'off-pending', false),
    make(5, 'back', true),
    markSent(unknownAgent, new Date(t0 + S)),
  ]);
  const metrics = new InMemorySchedulerMetrics();
  const directory = new OpenSearchAgentDirectory({ client: os.client, agentsIndex });
  const runner = new MaintenanceRunner({
    owner: 'sweeper',
    stores: { orders: stores.orders, locks: stores.locks },
    agents: new AgentDirectoryPresence(directory),
    clock,
    metrics,
  });
  const statusOf = async (requestId: number, orderId: number): Promise<[string, number | undefined]> => {
    const o = await stores.orders.getOrder(orderDocumentId(requestId, orderId));
    return [o?.order.command.status ?? 'missing', o?.order.command.result?.code];
  };

  const sweepAt = (seconds: number): Promise<SweepSummary> => {
    clock.set(t0 + seconds * S);
    return runner.sweepDeadlines();
  };
  const none = { expiredUndelivered: 0, noResultInTime: 0, conflicts: 0 };

  expect(await sweepAt(61)).toEqual({ ...none, noResultInTime: 2, postponed: 4 });
  expect(await statusOf(1, 1)).toEqual(['failure', ResultCodes.NO_RESULT_IN_TIME]);
  expect(await statusOf(2, 1)).toEqual(['failure', ResultCodes.NO_RESULT_IN_TIME]);
  const offSent = await stores.orders.getOrder('1-2');
  expect(offSent?.order.delivery_timestamp).toBe(new Date(t0 + 121 * S).toISOString());
  expect(offSent?.order.scheduling.agent_offline_at).toBe(new Date(t0 + 61 * S).toISOString());
  expect((await stores.orders.getOrder('1-3'))?.order.delivery_timestamp).toBe(
    new Date(t0 + 150 * S).toISOString(),
  );

  // `back` connects again: from the next check it has its timeout to report.
  await seedAgents(os.client, [{ id: 'back', groups: ['g'], status: 'active' }], { index: agentsIndex });
  expect(await sweepAt(122)).toEqual({ ...none, postponed: 2 });
  const back = await stores.orders.getOrder('1-5');
  expect(back?.order.command.status).toBe('sent');
  expect(back?.order.scheduling.agent_back_at).toBe(new Date(t0 + 122 * S).toISOString());
  expect(back?.order.delivery_timestamp).toBe(new Date(t0 + 182 * S).toISOString());

  expect(await sweepAt(151)).toEqual({ ...none, expiredUndelivered: 1, agentOffline: 2 });
  expect(await statusOf(1, 2)).toEqual(['failure', ResultCodes.AGENT_OFFLINE]);
  expect(await statusOf(1, 3)).toEqual(['failure', ResultCodes.EXPIRED_UNDELIVERED]);
  expect(await statusOf(1, 4)).toEqual(['failure', ResultCodes.AGENT_OFFLINE]);
  expect(await statusOf(1, 5)).toEqual(['sent', undefined]);
  expect(metrics.counter('scheduler_orders_expired_total', { kind: 'agent_offline' })).toBe(2);

  expect(await sweepAt(183)).toEqual({ ...none, noResultInTime: 1 });
  expect(await statusOf(1, 5)).toEqual(['failure', ResultCodes.NO_RESULT_IN_TIME]);
  await runner.stop();
});
