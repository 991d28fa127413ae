import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ActionRegistry,
  CommandService,
  InMemoryAgentDirectory,
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  InProcessIdAllocator,
  type Principal,
} from '@command-manager/core';
import {
  BUILT_IN_ROLES,
  createApp,
  createAuthenticator,
  generateApiToken,
  hashApiToken,
  listen,
} from '@command-manager/express';
import { PullDelivery, Scheduler } from '@command-manager/scheduler';
import { startPullConsumer } from '../src';
import type { AcceptedOrder, PullConsumerHandle } from '../src';

// The pull consumer against the command manager's real HTTP app and pull delivery, over the in-memory
// stores (what is under test is the consumer: claim, check, hand on, ack, report refusals).

const admin: Principal = { name: 'admin', roles: ['admin'], canDelegate: true, sources: '*', actions: '*' };
const token = generateApiToken();

interface World {
  url: string;
  service: CommandService;
  orders: InMemoryOrderStore;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const orders = new InMemoryOrderStore();
  const requests = new InMemoryRequestStore({ orders });
  const agents = new InMemoryAgentDirectory();
  for (const id of ['001', '002', '003', '004']) agents.addAgent({ id, groups: ['g'], status: 'active' });
  const scheduler = new Scheduler({
    orders,
    requests,
    locks: new InMemoryLockStore(),
    delivery: { isBlocked: () => true, deliver: () => Promise.reject(new Error('no push')) },
    owner: 'sidecar',
    options: { mode: 'pull' },
  });
  const pull = new PullDelivery({ orders, admission: scheduler, options: { pollIntervalMs: 20 } });
  const service = new CommandService({
    orders,
    requests,
    ids: new InProcessIdAllocator(),
    agents,
    registry: ActionRegistry.withDefaults(),
    limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 100 },
    indexName: 'wazuh-commands',
    onOrdersWritten: (written) => pull.wake(written),
  });
  const app = createApp({
    api: service,
    pull,
    auth: createAuthenticator({
      roles: BUILT_IN_ROLES,
      users: [],
      tokens: [{ name: 'server', sha256: Buffer.from(hashApiToken(token), 'hex'), roles: ['wazuh-server'] }],
      certificates: [],
    }),
    readiness: () => Promise.resolve({ ready: true, checks: {} }),
    limits: { bodyLimitBytes: 1024 * 1024 },
  });
  const server: Server = await listen(app, { port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    service,
    orders,
    close: async () => {
      pull.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const open: Array<{ close(): Promise<void> } | PullConsumerHandle> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await ('stop' in c ? c.stop() : c.close());
});

async function statusOf(w: World, id: string): Promise<string | undefined> {
  return (await w.orders.getOrder(id))?.order.command.status;
}

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  const giveUpAt = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > giveUpAt) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('claims, hands accepted orders on, acks them, and reports refused ones as failed', async () => {
  const w = await world();
  open.push(w);
  const forwarded: AcceptedOrder[] = [];
  const consumer = startPullConsumer({
    commandManagerUrl: w.url,
    token,
    waitMs: 2000,
    isKnownAgent: (id) => id !== '004',
    forward: (orders) => void forwarded.push(...orders),
  });
  open.push(consumer);
  const submitted = await w.service.submit(
    {
      commands: [
        {
          source: 'Users/Services',
          user: 'admin',
          target: { type: 'group', id: 'g' },
          action: { name: 'restart', args: {} },
          timeout: 300,
        },
      ],
    },
    admin,
  );
  const requestId = submitted.commands[0]?.request_id ?? 0;
  await until(() => consumer.received.length === 3 && consumer.rejected.length === 1);
  expect(forwarded.map((o) => o.target.id).sort()).toEqual(['001', '002', '003']);
  expect(consumer.rejected).toEqual([{ id: `${requestId}-4`, code: 1701, message: 'Agent does not exist' }]);
  for (const i of [1, 2, 3]) expect(await statusOf(w, `${requestId}-${i}`)).toBe('sent');
  const refused = await w.orders.getOrder(`${requestId}-4`);
  expect(refused?.order.command).toMatchObject({ status: 'failure', result: { code: 1701 } });
});

it('does not ack what it could not hand on: the order is claimed again after its lease, and handed on once', async () => {
  const w = await world();
  open.push(w);
  const forwarded: string[] = [];
  let failures = 1;
  const consumer = startPullConsumer({
    commandManagerUrl: w.url,
    token,
    waitMs: 500,
    leaseMs: 1000,
    forward: (orders) => {
      if (failures-- > 0) throw new Error('Comms API down');
      forwarded.push(...orders.map((o) => o.document_id));
    },
  });
  open.push(consumer);
  const submitted = await w.service.submit(
    {
      commands: [
        {
          source: 'Users/Services',
          user: 'admin',
          target: { type: 'agent', id: '001' },
          action: { name: 'restart', args: {} },
          timeout: 300,
        },
      ],
    },
    admin,
  );
  const id = `${submitted.commands[0]?.request_id ?? 0}-1`;
  // The order is `sent` once the ack is applied, a moment before the consumer reads the ack's answer.
  await until(async () => consumer.received.length > 0 && (await statusOf(w, id)) === 'sent');
  expect(forwarded).toEqual([id]);
  expect(consumer.received).toEqual([id]);
});
