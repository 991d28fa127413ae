/**
 * A cancel that races a delivery: the dispatcher writes nothing on the orders it delivers, so the cancel fails
 * them, and an order the Management API accepted is then written `sent` by its dispatcher: no order that went
 * out is recorded cancelled. Real OpenSearch (through the adapter), the real scheduler and a real HTTP stub of
 * the Management API.
 */
import {
  ActionRegistry,
  CommandService,
  InMemoryAgentDirectory,
  InProcessIdAllocator,
  ResultCodes,
  type Principal,
} from '@command-manager/core';
import { createOpenSearchClient } from '@command-manager/opensearch';
import { adminClientOptions } from '@command-manager/test-support';
import { InMemorySchedulerMetrics, ManagementApiClient, Scheduler } from '@command-manager/scheduler';
import { openSearchFixture, type Stores } from './support/opensearch-fixture';
import { StubManagementApi } from './support/stub-management-api';

jest.setTimeout(120_000);

const os = openSearchFixture(__filename);
/** Index statistics are read as an administrator: beyond the sidecar's role on a secured node. */
const admin = createOpenSearchClient({ ...adminClientOptions(), maxRetries: 1 });
let stub: StubManagementApi;
let scheduler: Scheduler | undefined;
let client: ManagementApiClient | undefined;

const operator: Principal = {
  name: 'wazuh-server',
  roles: ['management-api'],
  canDelegate: true,
  sources: '*',
  actions: '*',
};

beforeEach(async () => {
  stub = await StubManagementApi.start();
});

afterEach(async () => {
  stub.releaseHeld();
  await scheduler?.stop();
  await client?.close();
  await stub.close();
});

afterAll(async () => {
  await admin.close();
  await os.close();
});

function serviceOver(stores: Stores, agentCount: number): CommandService {
  const agents = new InMemoryAgentDirectory();
  for (let i = 1; i <= agentCount; i++)
    agents.addAgent({ id: String(i).padStart(4, '0'), groups: ['Test'], status: 'active' });
  return new CommandService({
    orders: stores.orders,
    requests: stores.requests,
    ids: new InProcessIdAllocator(),
    agents,
    registry: ActionRegistry.withDefaults(),
    limits: { maxBatchCommands: 10, maxFanOut: 5000, maxResultsPerReport: 100 },
    indexName: 'orders',
  });
}

async function submitGroup(service: CommandService): Promise<number> {
  const submitted = await service.submit(
    {
      commands: [
        {
          source: 'Users/Services',
          user: 'alice',
          target: { type: 'group', id: 'Test' },
          action: { name: 'restart', args: {} },
          timeout: 300,
        },
      ],
    },
    operator,
  );
  return submitted.commands[0]!.request_id;
}

it('an order the Management API accepts while it is cancelled ends up sent, and its agent result is applied', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const service = serviceOver(stores, 6);
  const requestId = await submitGroup(service);

  client = new ManagementApiClient({ managementApiUrl: stub.url });
  scheduler = new Scheduler({
    orders: stores.orders,
    requests: stores.requests,
    locks: stores.locks,
    delivery: client,
    owner: 'sidecar-a',
    metrics: new InMemorySchedulerMetrics(),
    options: { batchSize: 4, concurrency: 1, sweepIntervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
  });
  // The first batch (4 orders) reaches the Management API and waits there for its answer.
  stub.holdNext(1);
  const round = scheduler.dispatchDue();
  await stub.waitFor(() => stub.received.length >= 4);
  const inFlight = [...stub.received];

  const cancel = await service.cancel(requestId, operator);

  stub.releaseHeld();
  await round;
  for (const id of inFlight) {
    const stored = await stores.orders.getOrder(id);
    expect(stored?.order.command.status).toBe('sent');
  }
  // The agents' results for what the Management API accepted are applied, not refused as a conflict.
  const outcomes = await service.reportResults(
    { results: inFlight.map((id) => ({ id, status: 'success', result: { code: 0, message: 'done' } })) },
    { ...operator, name: 'comms', roles: ['comms'] },
  );
  expect(outcomes.map((o) => o.outcome)).toEqual(inFlight.map(() => 'applied'));
  expect(cancel.cancelled + cancel.in_flight).toBe(6);
  // Every order is either recorded cancelled and never went out, or went out and is not recorded cancelled.
  const all = await stores.orders.getOrders(Array.from({ length: 6 }, (_, i) => `${requestId}-${i + 1}`));
  expect(all).toHaveLength(6);
  for (const o of all) {
    const wentOut = stub.received.includes(o.id);
    expect(o.order.command.result?.code === ResultCodes.CANCELLED).toBe(!wentOut);
  }
});

it('cancelling a request of several pages forces one refresh, not one per page', async () => {
  const stores = await os.stores({ writeRefresh: true });
  const service = serviceOver(stores, 1_250);
  const requestId = await submitGroup(service);
  const index = stores.ordersIndex;
  // No periodic refresh: every refresh counted below is one the cancel asked for.
  await os.client.indices.refresh({ index });
  await os.client.indices.putSettings({ index, body: { index: { refresh_interval: '-1' } } });
  const refreshes = async (): Promise<number> => {
    const stats = await admin.indices.stats({ index, metric: 'refresh' });
    const all = stats.body._all as { primaries: { refresh?: { total?: number } } };
    return all.primaries.refresh?.total ?? 0;
  };
  const before = await refreshes();
  const cancel = await service.cancel(requestId, operator);
  // Three pages of 500; the last page's write makes every page searchable.
  expect((await refreshes()) - before).toBe(1);
  expect(cancel).toEqual({ request_id: requestId, cancelled: 1_250, in_flight: 0 });
  expect((await stores.orders.countByStatus({ requestId })).failure).toBe(1_250);
});

it('a cancel sent right after the submission cancels every order, before any of them is searchable', async () => {
  // As in the sidecar, a submission forces no refresh: a search would not see its orders yet, a read by id does.
  const stores = await os.stores({ submitRefresh: false });
  const service = serviceOver(stores, 300);
  const requestId = await submitGroup(service);
  const cancelled = await service.cancel(requestId, operator);
  expect(cancelled).toEqual({ request_id: requestId, cancelled: 300, in_flight: 0 });
  const stored = await stores.orders.getOrders([`${requestId}-1`, `${requestId}-150`, `${requestId}-300`]);
  expect(stored.map((s) => s.order.command.status)).toEqual(['failure', 'failure', 'failure']);
});
