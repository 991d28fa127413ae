/**
 * `CommandService.submit` with a request store that offers `createRequestsWithOrders` (records and small
 * commands' orders in one round trip), and the id allocation / agent lookup overlap. `TogetherRequestStore`
 * below records the calls and adds switches for the store-side failures the service must handle.
 */
import { ActionRegistry } from '../src/action-registry';
import { CommandService } from '../src/command-service';
import type { CommandServiceDeps } from '../src/command-service';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import { InProcessIdAllocator } from '../src/in-process-id-allocator';
import { InMemoryAgentDirectory, InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { Order, RequestRecord } from '../src/model';
import type {
  AgentInfo,
  OrderStore,
  RequestIdAllocator,
  RequestWithOrders,
  RequestWithOrdersOutcome,
} from '../src/ports';
import { command, ManualClock, principal } from './helpers/fixtures';

type Mode = 'ok' | 'no-answer' | 'applied-no-answer';

/** In-memory records + orders behind the one-round-trip method; `mode` simulates a lost answer. */
class TogetherRequestStore extends InMemoryRequestStore {
  calls: RequestWithOrders[][] = [];
  puts: RequestRecord[] = [];
  released: string[] = [];
  mode: Mode = 'ok';
  /** Request ids whose record item fails (their orders are still written, as OpenSearch could). */
  failRecord = new Set<number>();
  /** Request ids that already have someone else's record. */
  foreign = new Set<number>();

  constructor(private readonly orderStore: OrderStore) {
    super({ orders: orderStore });
  }

  override async createRequestsWithOrders(
    entries: readonly RequestWithOrders[],
  ): Promise<RequestWithOrdersOutcome[]> {
    this.calls.push(structuredClone([...entries]));
    if (this.mode === 'no-answer') throw unavailable();
    const out: RequestWithOrdersOutcome[] = [];
    for (const { record, orders } of entries) {
      if (this.foreign.has(record.request_id)) {
        await super.createRequest({ ...record, principal: 'someone-else' });
      }
      if (this.failRecord.has(record.request_id)) {
        const res = await this.orderStore.saveOrders(orders);
        out.push({ record: 'failed', reason: 'rejected: queue full', ...res });
      } else if (await this.createRequest(record)) {
        out.push({ record: 'created', ...(await this.orderStore.saveOrders(orders)) });
      } else {
        out.push({ record: 'exists', written: 0, existing: 0, failed: [] });
      }
    }
    if (this.mode === 'applied-no-answer') throw unavailable();
    return out;
  }

  override async putRequest(record: RequestRecord): Promise<void> {
    this.puts.push(structuredClone(record));
    await super.putRequest(record);
  }

  override async releaseIdempotency(key: string): Promise<void> {
    this.released.push(key);
    await super.releaseIdempotency(key);
  }
}

function unavailable(): CommandManagerError {
  return new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'no answer from the store', {
    retryAfterSec: 1,
  });
}

function setup(
  options: { groupSize?: number; orders?: InMemoryOrderStore; deps?: Partial<CommandServiceDeps> } = {},
) {
  const clock = new ManualClock();
  const orders = options.orders ?? new InMemoryOrderStore({ clock });
  const requests = new TogetherRequestStore(orders);
  const agents = new InMemoryAgentDirectory();
  for (let i = 1; i <= (options.groupSize ?? 5); i++) {
    agents.addAgent({ id: `a${String(i).padStart(5, '0')}`, groups: ['web'], status: 'active' });
  }
  agents.addAgent({ id: 'db1', groups: ['db'], status: 'active' });
  const onOrdersWritten = jest.fn();
  const service = new CommandService({
    orders,
    requests,
    ids: new InProcessIdAllocator(),
    agents,
    registry: ActionRegistry.withDefaults(),
    clock,
    limits: { maxBatchCommands: 10, maxFanOut: 1000, maxResultsPerReport: 50 },
    indexName: 'wazuh-commands',
    onOrdersWritten,
    ...options.deps,
  });
  return { service, orders, requests, agents, onOrdersWritten };
}

const alice = principal();
const toGroup = (id = 'web') => command({ target: { type: 'group', id } });
const toAgent = (id = 'db1') => command({ target: { type: 'agent', id } });

async function ids(store: OrderStore, requestId: number): Promise<string[]> {
  return (await store.listOrders({ requestId }, { size: 10_000 })).items.map((s) => s.id);
}

async function rejection(p: Promise<unknown>, code: string): Promise<CommandManagerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CommandManagerError && e.code === code) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('submit through createRequestsWithOrders (one round trip)', () => {
  it('writes every record and the small commands’ orders in one call, records final, no rewrite', async () => {
    const { service, orders, requests, onOrdersWritten } = setup();
    const result = await service.submit(
      { commands: [toAgent(), toGroup(), toAgent('ghost'), toGroup('nobody')] },
      alice,
    );
    expect(result.commands).toEqual([
      { request_id: 1, orders: 1, unresolved: [], write_state: 'complete' },
      { request_id: 2, orders: 5, unresolved: [], write_state: 'complete' },
      { request_id: 3, orders: 0, unresolved: ['agent:ghost'], write_state: 'complete' },
      { request_id: 4, orders: 0, unresolved: ['group:nobody'], write_state: 'complete' },
    ]);
    expect(requests.calls).toHaveLength(1);
    const [call] = requests.calls;
    expect(call?.map((e) => [e.record.request_id, e.record.write_state, e.record.total_orders])).toEqual([
      [1, 'complete', 1],
      [2, 'complete', 5],
      [3, 'complete', 0],
      [4, 'complete', 0],
    ]);
    expect(call?.map((e) => e.orders.length)).toEqual([1, 5, 0, 0]);
    expect(requests.puts).toEqual([]);
    expect(await ids(orders, 2)).toEqual(['2-1', '2-2', '2-3', '2-4', '2-5']);
    expect(await requests.getRequest(3)).toMatchObject({ total_orders: 0, unresolved: ['agent:ghost'] });
    expect(onOrdersWritten.mock.calls).toEqual([
      [{ requestId: 1, orders: 1 }],
      [{ requestId: 2, orders: 5 }],
    ]);
  });

  it('streams a group above the inline limit: its record goes `writing` in the same call, then is finalised', async () => {
    const { service, orders, requests, onOrdersWritten } = setup({ groupSize: 101 });
    const result = await service.submit({ commands: [toGroup(), toAgent()] }, alice);
    expect(result.commands.map((c) => [c.request_id, c.orders, c.write_state])).toEqual([
      [1, 101, 'complete'],
      [2, 1, 'complete'],
    ]);
    const [call] = requests.calls;
    expect(call?.map((e) => [e.record.write_state, e.orders.length])).toEqual([
      ['writing', 0],
      ['complete', 1],
    ]);
    expect(await requests.getRequest(1)).toMatchObject({ write_state: 'complete', total_orders: 101 });
    expect(await ids(orders, 1)).toHaveLength(101);
    // The inline command is announced first: its orders were stored by the single call.
    expect(onOrdersWritten.mock.calls).toEqual([
      [{ requestId: 2, orders: 1 }],
      [{ requestId: 1, orders: 101 }],
    ]);
  });

  it('rewrites the record of a command whose orders were partly refused', async () => {
    const orders = new InMemoryOrderStore({
      rejectOrder: (o) => (o.command.target.id === 'a00002' ? 'mapping conflict' : undefined),
    });
    const { service, requests } = setup({ orders });
    const result = await service.submit({ commands: [toGroup()] }, alice);
    expect(result.commands[0]).toEqual({
      request_id: 1,
      orders: 4,
      unresolved: [],
      write_state: 'partial',
      write_errors: [{ id: '1-2', reason: 'mapping conflict' }],
    });
    expect(await requests.getRequest(1)).toMatchObject({
      write_state: 'partial',
      total_orders: 5,
      write_errors: [{ id: '1-2', reason: 'mapping conflict' }],
    });
  });

  it('writes the record again when its own item failed while its orders were stored', async () => {
    const { service, orders, requests } = setup();
    requests.failRecord.add(1);
    const result = await service.submit({ commands: [toAgent()] }, alice);
    expect(result.commands[0]).toMatchObject({ orders: 1, write_state: 'complete' });
    expect(await ids(orders, 1)).toEqual(['1-1']);
    expect(await requests.getRequest(1)).toMatchObject({ write_state: 'complete', total_orders: 1 });
  });

  it('does not stream a large command whose record could not be written', async () => {
    const { service, orders, requests } = setup({ groupSize: 150 });
    requests.failRecord.add(1);
    const result = await service.submit({ commands: [toGroup()] }, alice);
    expect(result.commands[0]).toMatchObject({
      orders: 0,
      write_state: 'failed',
      write_errors: [{ id: '*', reason: 'rejected: queue full' }],
    });
    expect(await ids(orders, 1)).toEqual([]);
  });

  it('reports a command whose request id holds someone else’s record, without touching that record', async () => {
    const { service, requests, onOrdersWritten } = setup();
    requests.foreign.add(1);
    const result = await service.submit({ commands: [toAgent(), toAgent()] }, alice);
    expect(result.commands[0]).toMatchObject({
      request_id: 1,
      orders: 0,
      write_state: 'failed',
      write_errors: [{ id: '*', reason: expect.stringContaining('allocated twice') }],
    });
    expect(result.commands[1]).toMatchObject({ request_id: 2, orders: 1, write_state: 'complete' });
    expect((await requests.getRequest(1))?.principal).toBe('someone-else');
    expect(requests.puts).toEqual([]);
    expect(onOrdersWritten.mock.calls).toEqual([[{ requestId: 2, orders: 1 }]]);
  });

  it('no answer and nothing stored: fails with the store’s error and releases the Idempotency-Key', async () => {
    const { service, orders, requests, onOrdersWritten } = setup();
    requests.mode = 'no-answer';
    const e = await rejection(
      service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k' }),
      ErrorCodes.STORE_UNAVAILABLE,
    );
    expect(e.retryAfterSec).toBe(1);
    expect(requests.released).toHaveLength(1);
    expect(orders.size).toBe(0);
    expect(await requests.getRequest(1)).toBeUndefined();
    expect(onOrdersWritten).not.toHaveBeenCalled();
  });

  it('no answer but stored: reads back what is there and answers it', async () => {
    const { service, requests, onOrdersWritten } = setup();
    requests.mode = 'applied-no-answer';
    const result = await service.submit({ commands: [toGroup(), toAgent()] }, alice);
    expect(result.commands.map((c) => [c.request_id, c.orders, c.write_state])).toEqual([
      [1, 5, 'complete'],
      [2, 1, 'complete'],
    ]);
    expect(requests.puts).toEqual([]);
    expect(onOrdersWritten).toHaveBeenCalledTimes(2);
  });
});

describe('request ids', () => {
  it('are allocated while the agents are looked up (a wasted id is fine, a second round trip is not)', async () => {
    const { agents } = setup();
    let releaseLookup!: () => void;
    const lookupGate = new Promise<void>((resolve) => (releaseLookup = resolve));
    const slowAgents = Object.create(agents) as InMemoryAgentDirectory;
    slowAgents.lookupAgents = async (list: readonly string[]): Promise<Map<string, AgentInfo>> => {
      await lookupGate;
      return agents.lookupAgents(list);
    };
    const allocator = new InProcessIdAllocator();
    let allocatedDuringLookup = false;
    const ids: RequestIdAllocator = {
      next: async () => {
        const id = await allocator.next();
        allocatedDuringLookup = true;
        return id;
      },
      nextBlock: (n) => allocator.nextBlock(n),
    };
    const { service } = setup({ deps: { agents: slowAgents, ids } });
    const pending = service.submit({ commands: [toAgent()] }, alice);
    for (let i = 0; i < 10 && !allocatedDuringLookup; i++) await Promise.resolve();
    expect(allocatedDuringLookup).toBe(true);
    releaseLookup();
    expect((await pending).commands[0]).toMatchObject({ request_id: 1, orders: 1 });
  });

  it('of a batch come from one nextBlock call when the allocator has it, in command order', async () => {
    const next = jest.fn(async () => 1);
    const nextBlock = jest.fn(async (n: number) => Array.from({ length: n }, (_, i) => 30 - 10 * i));
    const { service, orders } = setup({ deps: { ids: { next, nextBlock } } });
    const result = await service.submit({ commands: [toAgent(), toGroup(), toAgent()] }, alice);
    expect(nextBlock.mock.calls).toEqual([[3]]);
    expect(next).not.toHaveBeenCalled();
    expect(result.commands.map((c) => c.request_id)).toEqual([10, 20, 30]);
    const stored = await orders.listOrders({}, { size: 100 });
    expect(new Set(stored.items.map((s: { order: Order }) => s.order.command.request_id))).toEqual(
      new Set([10, 20, 30]),
    );
  });

  it('a block of the wrong size is an internal error, before anything is written', async () => {
    const { service, orders } = setup({
      deps: { ids: { next: async () => 1, nextBlock: async () => [5] } },
    });
    await rejection(service.submit({ commands: [toAgent(), toAgent()] }, alice), ErrorCodes.INTERNAL);
    expect(orders.size).toBe(0);
  });
});
