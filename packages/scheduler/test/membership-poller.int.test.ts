/**
 * Live membership against real OpenSearch: a live group command submitted through core's service, agents
 * joining its group in the agents index afterwards, and membership pollers of two "sidecars" (their own
 * clients and stores) giving the joiners their orders.
 */
import { InMemoryLockStore } from '@command-manager/core';
import type { LockStore, Principal, StoredOrder } from '@command-manager/core';
import {
  createAgentsIndex,
  createOpenSearchClient,
  OpenSearchAgentDirectory,
  OpenSearchLiveMembershipStore,
  OpenSearchLockStore,
  OpenSearchOrderStore,
  OpenSearchRequestIdAllocator,
  OpenSearchRequestStore,
  seedAgents,
} from '@command-manager/opensearch';
import { MaintenanceRunner, MembershipPoller } from '@command-manager/scheduler';
import { opensearchClientOptions } from '@command-manager/test-support';
import { command } from './support/fixtures';
import { submissionService } from './support/submission-service';
import { openSearchFixture } from './support/opensearch-fixture';

jest.setTimeout(60_000);

const os = openSearchFixture(__filename);
const agentsIndex = `${os.prefix}agents`;
const clients: Array<ReturnType<typeof createOpenSearchClient>> = [];
const runners: MaintenanceRunner[] = [];

afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await os.close();
});

const admin: Principal = { name: 'admin', roles: ['admin'], canDelegate: true, sources: '*', actions: '*' };

/** One sidecar's view: its own client and stores over the test's indices. */
function sidecar(ordersIndex: string) {
  const client = createOpenSearchClient({ ...opensearchClientOptions(), maxRetries: 1 });
  clients.push(client);
  const common = { client, ordersIndex, replicas: 0 };
  const orders = new OpenSearchOrderStore({ ...common, saveRefresh: false });
  return {
    orders,
    requests: new OpenSearchRequestStore({ ...common, ordersRefresh: false }),
    locks: new OpenSearchLockStore(common),
    ids: new OpenSearchRequestIdAllocator(common),
    live: new OpenSearchLiveMembershipStore(common),
    agents: new OpenSearchAgentDirectory({ client, agentsIndex }),
  };
}
type Sidecar = ReturnType<typeof sidecar>;

function poller(s: Sidecar, owner: string, locks: LockStore = s.locks): MembershipPoller {
  return new MembershipPoller({
    owner,
    live: s.live,
    orders: s.orders,
    agents: s.agents,
    locks,
    options: { intervalMs: 300 },
  });
}

async function submitLive(
  s: Sidecar,
  group: string,
  windowS = 120,
  membership: 'live' | 'snapshot' = 'live',
): Promise<number> {
  const service = submissionService(s);
  const live = command({
    target: { type: 'group', id: group },
    timeout: 60,
    delivery_window_s: windowS,
    membership,
  });
  const answer = await service.submit({ commands: [live] }, admin);
  const first = answer.commands[0];
  if (!first) throw new Error('no request');
  return first.request_id;
}

async function ordersOf(s: Sidecar, requestId: number): Promise<StoredOrder[]> {
  await os.client.indices.refresh({ index: s.orders.layout.orders });
  const page = await s.orders.listOrders({ requestId }, { size: 100 });
  return page.items;
}

/** Agent id → order ids of the request (an agent with two orders would show two). */
function byAgent(orders: StoredOrder[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const o of orders) (out[o.order.command.target.id] ??= []).push(o.order.command.order_id);
  for (const ids of Object.values(out)) ids.sort((a, b) => a - b);
  return out;
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  await createAgentsIndex(os.client, { index: agentsIndex });
});

it('an agent added to a live group 5 s after submission gets its order, once, with two sidecars polling', async () => {
  const { ordersIndex } = await os.stores();
  const a = sidecar(ordersIndex);
  const b = sidecar(ordersIndex);
  await a.ids.init();
  await seedAgents(
    os.client,
    ['m1', 'm2', 'm3'].map((id) => ({ id, groups: ['live-1'], status: 'active' })),
    { index: agentsIndex },
  );
  const requestId = await submitLive(a, 'live-1');
  const record = await a.requests.getRequest(requestId);
  expect(record?.live_until).toBe(new Date(Date.parse(record?.created_at ?? '') + 120_000).toISOString());
  for (const [s, owner] of [
    [a, 'sidecar-a'],
    [b, 'sidecar-b'],
  ] as const) {
    const runner = new MaintenanceRunner({ owner, membership: poller(s, owner) });
    runners.push(runner);
    runner.start();
  }
  await new Promise((r) => setTimeout(r, 5000));
  // Nobody joined: the pollers wrote nothing.
  expect(byAgent(await ordersOf(a, requestId))).toEqual({ m1: [1], m2: [2], m3: [3] });

  await seedAgents(
    os.client,
    [
      { id: 'm4', groups: ['live-1', 'other'], status: 'active' },
      { id: 'x1', groups: ['other'], status: 'active' },
    ],
    { index: agentsIndex },
  );
  await until(async () => (await ordersOf(a, requestId)).length >= 4);
  // Several more rounds of both pollers: still one order per agent.
  await new Promise((r) => setTimeout(r, 1500));
  const orders = await ordersOf(b, requestId);
  expect(byAgent(orders)).toEqual({ m1: [1], m2: [2], m3: [3], m4: [4] });
  const joiner = orders.find((o) => o.order.command.target.id === 'm4')?.order;
  expect(joiner?.agent.groups).toEqual(['live-1', 'other']);
  expect(joiner?.command.status).toBe('pending');
  expect(joiner?.scheduling.delivery_window_ends_at).toBe(record?.live_until);
  expect(joiner?.scheduling.principal).toBe('admin');
});

it('pollers running at once without the lock still give each joiner one order; a marker without its order is repaired', async () => {
  const { ordersIndex } = await os.stores();
  const a = sidecar(ordersIndex);
  const b = sidecar(ordersIndex);
  await a.ids.init();
  await seedAgents(os.client, [{ id: 'n1', groups: ['live-2'], status: 'active' }], {
    index: agentsIndex,
  });
  const requestId = await submitLive(a, 'live-2');
  const joiners = Array.from({ length: 30 }, (_, i) => `j${String(i).padStart(2, '0')}`);
  await seedAgents(
    os.client,
    joiners.map((id) => ({ id, groups: ['live-2'], status: 'active' })),
    { index: agentsIndex },
  );
  // The record is found by search: make it searchable now rather than wait for the periodic refresh.
  await os.client.indices.refresh({ index: a.live.layout.requests });
  // Each poller has a lock of its own: nothing keeps them apart but the markers and create-only orders.
  const pa = poller(a, 'a', new InMemoryLockStore());
  const pb = poller(b, 'b', new InMemoryLockStore());
  for (let round = 0; round < 4; round++) await Promise.all([pa.poll(), pb.poll()]);
  const orders = await ordersOf(a, requestId);
  const agents = byAgent(orders);
  expect(Object.keys(agents).sort()).toEqual(['n1', ...joiners].sort());
  for (const ids of Object.values(agents)) expect(ids).toHaveLength(1);
  const orderIds = orders.map((o) => o.order.command.order_id);
  expect(new Set(orderIds).size).toBe(31);
  expect(Math.min(...orderIds.filter((id) => id > 1))).toBeGreaterThanOrEqual(2);

  // A poller that died between a marker and its order: the next round writes that order under the marker's id.
  await seedAgents(os.client, [{ id: 'late', groups: ['live-2'], status: 'active' }], {
    index: agentsIndex,
  });
  const record = await a.requests.getRequest(requestId);
  if (!record) throw new Error('no record');
  const reserved = await a.live.reserveOrderIds(record, 1);
  expect(reserved).toBeGreaterThan(31);
  expect(await a.live.createMarkers(requestId, [{ agentId: 'late', orderId: reserved ?? 0 }])).toEqual(
    new Set(['late']),
  );
  expect((await pb.poll()).joined).toBe(1);
  expect(byAgent(await ordersOf(a, requestId)).late).toEqual([reserved]);
  expect((await pa.poll()).joined).toBe(0);
});

it('a request whose window has ended, and a snapshot command, are not followed', async () => {
  const { ordersIndex } = await os.stores();
  const a = sidecar(ordersIndex);
  await a.ids.init();
  await seedAgents(os.client, [{ id: 'w1', groups: ['live-3'], status: 'active' }], {
    index: agentsIndex,
  });
  const ended = await submitLive(a, 'live-3', 60);
  const snapshot = await submitLive(a, 'live-3', 60, 'snapshot');
  expect((await a.requests.getRequest(snapshot))?.live_until).toBeUndefined();
  await seedAgents(os.client, [{ id: 'w2', groups: ['live-3'], status: 'active' }], {
    index: agentsIndex,
  });
  const p = new MembershipPoller({
    owner: 'a',
    live: a.live,
    orders: a.orders,
    agents: a.agents,
    locks: a.locks,
    clock: { now: () => new Date(Date.now() + 61_000) },
  });
  expect(await p.poll()).toEqual({ ran: true, requests: 0, joined: 0 });
  expect(byAgent(await ordersOf(a, ended))).toEqual({ w1: [1] });
  expect(byAgent(await ordersOf(a, snapshot))).toEqual({ w1: [1] });
  await os.client.indices.refresh({ index: a.live.layout.requests });
  const followed = await a.live.findLiveRequests(new Date(), 10);
  expect(followed.map((r) => r.request_id)).toEqual([ended]);
});
