import { ActionRegistry } from '../src/action-registry';
import { CommandService } from '../src/command-service';
import type { CommandServiceDeps } from '../src/command-service';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import type { ErrorCode } from '../src/errors';
import { InProcessIdAllocator } from '../src/in-process-id-allocator';
import { markSent, newOrder, withLease } from '../src/lifecycle';
import { InMemoryAgentDirectory, InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { Order } from '../src/model';
import { ResultCodes } from '../src/model';
import type {
  ConditionalWrite,
  OrderStore,
  SaveOrdersOptions,
  SaveOrdersResult,
  WriteOutcome,
} from '../src/ports';
import { command, ManualClock, principal } from './helpers/fixtures';

/** A request store that records which idempotency reservations were released. */
class ReleasingRequestStore extends InMemoryRequestStore {
  released: string[] = [];
  override async releaseIdempotency(key: string): Promise<void> {
    this.released.push(key);
    await super.releaseIdempotency(key);
  }
}

/** Members of a group whose orders are streamed after its record (more than one round trip carries inline). */
const STREAMED_GROUP = 101;

function setup(overrides: Partial<CommandServiceDeps> & { groupSize?: number } = {}) {
  const clock = new ManualClock();
  const orders = new InMemoryOrderStore({ clock });
  const requests = new InMemoryRequestStore({ orders: overrides.orders ?? orders });
  const agents = new InMemoryAgentDirectory();
  for (let i = 1; i <= (overrides.groupSize ?? 5); i++) {
    agents.addAgent({ id: `a${String(i).padStart(5, '0')}`, groups: ['web'], status: 'active' });
  }
  agents.addAgent({ id: 'db1', groups: ['db'], status: 'active' });
  const ids = new InProcessIdAllocator();
  const onOrdersWritten = jest.fn();
  const deps: CommandServiceDeps = {
    orders,
    requests,
    ids,
    agents,
    registry: ActionRegistry.withDefaults(),
    clock,
    limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 50 },
    indexName: 'wazuh-commands',
    onOrdersWritten,
    ...overrides,
  };
  return {
    service: new CommandService(deps),
    clock,
    orders: deps.orders,
    memOrders: orders,
    requests: deps.requests,
    agents,
    ids,
    onOrdersWritten,
  };
}

async function rejection(p: Promise<unknown>, code?: ErrorCode): Promise<CommandManagerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CommandManagerError) {
      if (code) expect(e.code).toBe(code);
      return e;
    }
    throw e;
  }
  throw new Error('expected a rejection');
}

const toGroup = (id = 'web') => command({ target: { type: 'group', id } });
const toAgent = (id = 'db1') => command({ target: { type: 'agent', id } });
const alice = principal();

async function allOrders(store: OrderStore, requestId: number): Promise<Order[]> {
  return (await store.listOrders({ requestId }, { size: 10_000 })).items.map((s) => s.order);
}

/** Marks an order sent (as the scheduler would). */
async function send(store: OrderStore, id: string): Promise<void> {
  const s = await store.getOrder(id);
  const [res] = await store.writeConditional([{ id, rev: s!.rev, order: markSent(s!.order, new Date()) }]);
  expect(res?.ok).toBe(true);
}

describe('submit', () => {
  it('keeps rerun_of in the request record as the link to its parent, and out of the orders', async () => {
    const { service, orders, requests } = setup();
    await service.submit({ commands: [toGroup()] }, alice);
    await service.submit({ commands: [{ ...toAgent('a00002'), rerun_of: 1 }] }, alice);
    expect((await requests.getRequest(2))?.command.rerun_of).toBe(1);
    expect((await requests.getRequest(1))?.command.rerun_of).toBeUndefined();
    const [order] = await allOrders(orders, 2);
    expect(order?.command).not.toHaveProperty('rerun_of');
  });

  it('expands a group into one order per agent with deterministic ids, and records the request', async () => {
    const { service, orders, requests, onOrdersWritten } = setup();
    const result = await service.submit({ commands: [toGroup()] }, alice);
    expect(result).toEqual({
      index: 'wazuh-commands',
      commands: [{ request_id: 1, orders: 5, unresolved: [], write_state: 'complete' }],
    });
    const stored = await orders.listOrders({ requestId: 1 }, { size: 100 });
    expect(stored.items.map((s) => s.id)).toEqual(['1-1', '1-2', '1-3', '1-4', '1-5']);
    expect(stored.items.map((s) => s.order.command.target.id)).toEqual([
      'a00001',
      'a00002',
      'a00003',
      'a00004',
      'a00005',
    ]);
    expect(
      stored.items.every(
        (s) => s.order.scheduling.principal === 'alice' && s.order.command.status === 'pending',
      ),
    ).toBe(true);
    expect(await requests.getRequest(1)).toMatchObject({
      request_id: 1,
      principal: 'alice',
      total_orders: 5,
      write_state: 'complete',
      unresolved: [],
      command: toGroup(),
    });
    expect(onOrdersWritten.mock.calls).toEqual([[{ requestId: 1, orders: 5 }]]);
  });

  it('gives every command of a batch its own request id, order ids restarting at 1', async () => {
    const { service, orders } = setup();
    const result = await service.submit(
      {
        commands: [
          toAgent(),
          toGroup(),
          command({
            target: { type: 'server', id: 'vulnerability-detector' },
            action: { name: 'refresh', args: {} },
          }),
        ],
      },
      alice,
    );
    expect(result.commands.map((c) => [c.request_id, c.orders])).toEqual([
      [1, 1],
      [2, 5],
      [3, 1],
    ]);
    expect((await allOrders(orders, 1)).map((o) => o.agent.groups)).toEqual([['db']]);
    expect((await allOrders(orders, 3)).map((o) => o.command.target)).toEqual([
      { type: 'server', id: 'vulnerability-detector' },
    ]);
  });

  it('reports a command that resolves to nothing (record with 0 orders) and writes the others', async () => {
    const { service, orders, requests, onOrdersWritten } = setup();
    const result = await service.submit(
      { commands: [toGroup(), toAgent('ghost'), toGroup('nobody'), toAgent()] },
      alice,
    );
    expect(result.commands).toEqual([
      { request_id: 1, orders: 5, unresolved: [], write_state: 'complete' },
      { request_id: 2, orders: 0, unresolved: ['agent:ghost'], write_state: 'complete' },
      { request_id: 3, orders: 0, unresolved: ['group:nobody'], write_state: 'complete' },
      { request_id: 4, orders: 1, unresolved: [], write_state: 'complete' },
    ]);
    expect(await requests.getRequest(2)).toMatchObject({
      total_orders: 0,
      unresolved: ['agent:ghost'],
      write_state: 'complete',
      command: toAgent('ghost'),
    });
    expect(await requests.getRequest(3)).toMatchObject({ total_orders: 0, unresolved: ['group:nobody'] });
    expect(await allOrders(orders, 2)).toEqual([]);
    expect((await allOrders(orders, 4)).map((o) => o.command.target.id)).toEqual(['db1']);
    expect(onOrdersWritten.mock.calls).toEqual([
      [{ requestId: 1, orders: 5 }],
      [{ requestId: 4, orders: 1 }],
    ]);
  });

  it('stores source in its canonical form', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [{ ...toAgent(), source: 'Content Manager' }] }, alice);
    expect((await allOrders(orders, 1))[0]?.command.source).toBe('Content manager');
  });

  describe('writes nothing when', () => {
    async function expectNothingWritten(s: ReturnType<typeof setup>): Promise<void> {
      expect(s.memOrders.size).toBe(0);
      expect(await s.requests.getRequest(1)).toBeUndefined();
      expect(s.onOrdersWritten).not.toHaveBeenCalled();
    }

    it('any command is invalid (all errors listed)', async () => {
      const s = setup();
      const e = await rejection(
        s.service.submit(
          { commands: [toGroup(), { ...toAgent(), timeout: 0 }, { ...toAgent(), user: '' }] },
          alice,
        ),
        ErrorCodes.VALIDATION_FAILED,
      );
      expect(e.details.map((d) => d.pointer)).toEqual(['/commands/1/timeout', '/commands/2/user']);
      await expectNothingWritten(s);
    });

    it('the principal may not use a source, an action or another user (each field named)', async () => {
      const s = setup();
      const limited = principal({ sources: ['Engine'], actions: ['fetch-config'] });
      const e = await rejection(
        s.service.submit(
          {
            commands: [
              toGroup(),
              { ...toAgent(), user: 'bob', source: 'Engine', action: { name: 'fetch-config', args: {} } },
            ],
          },
          limited,
        ),
        ErrorCodes.FORBIDDEN,
      );
      expect(e.details.map((d) => d.pointer)).toEqual([
        '/commands/0/source',
        '/commands/0/action/name',
        '/commands/1/user',
      ]);
      await expectNothingWritten(s);
    });

    it('a group exceeds the maximum fan-out (checked for every command before any write)', async () => {
      const s = setup({ limits: { maxBatchCommands: 10, maxFanOut: 4, maxResultsPerReport: 10 } });
      const e = await rejection(
        s.service.submit({ commands: [toAgent(), toGroup()] }, alice),
        ErrorCodes.FANOUT_EXCEEDED,
      );
      expect(e.details).toEqual([
        { pointer: '/commands/1/target/id', message: expect.stringContaining('5 agents') },
      ]);
      await expectNothingWritten(s);
      // The ids were allocated while the fan-out was checked: they are skipped, never reused.
      expect(await s.requests.getRequest(2)).toBeUndefined();
      const next = await s.service.submit({ commands: [toAgent()] }, alice);
      expect(next.commands[0]?.request_id).toBe(3);
    });

    it('no command resolves to any destination (unknown agents, empty groups)', async () => {
      const s = setup();
      const e = await rejection(
        s.service.submit({ commands: [toAgent('ghost'), toGroup('nobody')] }, alice),
        ErrorCodes.NO_TARGET_RESOLVED,
      );
      expect(e.details).toEqual([
        { pointer: '/commands/0/target/id', message: 'unknown agent "ghost"' },
        { pointer: '/commands/1/target/id', message: 'group "nobody" has no agents' },
      ]);
      await expectNothingWritten(s);
      expect(await s.requests.getRequest(2)).toBeUndefined();
    });

    it('the action is unknown', async () => {
      const s = setup();
      await rejection(
        s.service.submit({ commands: [{ ...toAgent(), action: { name: 'wipe', args: {} } }] }, alice),
        ErrorCodes.UNKNOWN_ACTION,
      );
      await expectNothingWritten(s);
    });
  });

  it('a delegating principal may set user to someone else', async () => {
    const { service } = setup();
    const mgmt = principal({ name: 'wazuh-server', canDelegate: true });
    const res = await service.submit({ commands: [{ ...toAgent(), user: 'bob' }] }, mgmt);
    expect(res.commands[0]?.write_state).toBe('complete');
  });

  it('records a partial write with the orders that failed, and a failed one when none was stored', async () => {
    const orders = new InMemoryOrderStore({
      rejectOrder: (o) => (o.command.target.id === 'a00003' ? 'mapping conflict' : undefined),
    });
    const { service, requests } = setup({ orders });
    const res = await service.submit({ commands: [toGroup()] }, alice);
    expect(res.commands[0]).toEqual({
      request_id: 1,
      orders: 4,
      unresolved: [],
      write_state: 'partial',
      write_errors: [{ id: '1-3', reason: 'mapping conflict' }],
    });
    expect(await requests.getRequest(1)).toMatchObject({
      write_state: 'partial',
      total_orders: 5,
      write_errors: [{ id: '1-3', reason: 'mapping conflict' }],
    });

    const none = setup({ orders: new InMemoryOrderStore({ rejectOrder: () => 'disk full' }) });
    const res2 = await none.service.submit({ commands: [toAgent()] }, alice);
    expect(res2.commands[0]?.write_state).toBe('failed');
    expect(none.onOrdersWritten).not.toHaveBeenCalled();
  });

  it("keeps a store adapter's INTERNAL text (OpenSearch's own words) out of the write errors callers read", async () => {
    const inner = new InMemoryOrderStore();
    const failing = Object.create(inner) as OrderStore;
    failing.saveOrders = async (): Promise<SaveOrdersResult> => {
      throw new CommandManagerError(
        ErrorCodes.INTERNAL,
        'OpenSearch bulk create orders failed (400 illegal_argument_exception: secret-ish document text)',
      );
    };
    // A group too large to be written with its record in one round trip: its orders stream.
    const { service, requests } = setup({
      orders: failing,
      groupSize: STREAMED_GROUP,
      limits: { maxBatchCommands: 10, maxFanOut: 1000, maxResultsPerReport: 50 },
    });
    const res = await service.submit({ commands: [toGroup()] }, alice);
    expect(res.commands[0]?.write_errors).toEqual([{ id: '*', reason: 'internal error (see the log)' }]);
    expect(JSON.stringify(await requests.getRequest(1))).not.toContain('secret-ish');
  });

  it('records a store failure in the middle of the stream instead of losing the request id', async () => {
    const inner = new InMemoryOrderStore({ batchSize: 2 });
    const flaky = Object.create(inner) as OrderStore;
    flaky.saveOrders = async (src, options?: SaveOrdersOptions): Promise<SaveOrdersResult> => {
      let n = 0;
      // Stores the first four orders, drops the next three, fails on the eighth.
      async function* firstFour() {
        for await (const o of src as AsyncIterable<Order>) {
          if (++n > 7) throw new Error('connection reset');
          if (n <= 4) yield o;
        }
      }
      return inner.saveOrders(firstFour(), options);
    };
    const { service, requests } = setup({
      orders: flaky,
      groupSize: STREAMED_GROUP,
      limits: { maxBatchCommands: 10, maxFanOut: 1000, maxResultsPerReport: 50 },
    });
    const res = await service.submit({ commands: [toGroup()] }, alice);
    expect(res.commands[0]).toMatchObject({
      request_id: 1,
      orders: 4,
      write_state: 'partial',
      write_errors: [{ id: '*', reason: 'connection reset' }],
    });
    // Eight orders were produced (the eighth reached the store's stream as it failed), four stored.
    expect(await requests.getRequest(1)).toMatchObject({ write_state: 'partial', total_orders: 8 });
  });

  describe('idempotency', () => {
    it('a retry with the same key and body returns the first answer and writes nothing more', async () => {
      const { service, memOrders } = setup();
      const body = { commands: [toGroup()] };
      const first = await service.submit(body, alice, { idempotencyKey: 'k1' });
      const reordered = { commands: [Object.fromEntries(Object.entries(toGroup()).reverse())] };
      expect(await service.submit(reordered, alice, { idempotencyKey: 'k1' })).toEqual(first);
      expect(memOrders.size).toBe(5);
    });

    it('the same key with another body is IDEMPOTENCY_KEY_REUSED; another principal has its own keys', async () => {
      const { service, memOrders } = setup();
      await service.submit({ commands: [toGroup()] }, alice, { idempotencyKey: 'k1' });
      await rejection(
        service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k1' }),
        ErrorCodes.IDEMPOTENCY_KEY_REUSED,
      );
      const bob = principal({ name: 'bob' });
      const res = await service.submit({ commands: [{ ...toAgent(), user: 'bob' }] }, bob, {
        idempotencyKey: 'k1',
      });
      expect(res.commands[0]?.request_id).toBe(2);
      expect(memOrders.size).toBe(6);
    });

    it('a retry while the first submission is still writing is IDEMPOTENCY_IN_PROGRESS', async () => {
      const inner = new InMemoryOrderStore();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = Object.create(inner) as OrderStore;
      slow.saveOrders = async (src, options) => {
        await gate;
        return inner.saveOrders(src, options);
      };
      const { service } = setup({ orders: slow });
      const first = service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k' });
      const e = await rejection(
        service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k' }),
        ErrorCodes.IDEMPOTENCY_IN_PROGRESS,
      );
      expect(e.retryAfterSec).toBe(1);
      release();
      expect((await first).commands[0]?.write_state).toBe('complete');
    });

    it('a malformed Plan-Token is refused before the Idempotency-Key is reserved', async () => {
      const reserved: string[] = [];
      class RecordingRequestStore extends InMemoryRequestStore {
        override async reserveIdempotency(
          ...args: Parameters<InMemoryRequestStore['reserveIdempotency']>
        ): ReturnType<InMemoryRequestStore['reserveIdempotency']> {
          reserved.push(args[0]);
          return super.reserveIdempotency(...args);
        }
      }
      const s = setup({ requests: new RecordingRequestStore({ orders: new InMemoryOrderStore() }) });
      const e = await rejection(
        s.service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k', planToken: 'not-a-plan' }),
        ErrorCodes.VALIDATION_FAILED,
      );
      expect(e.details.map((d) => d.pointer)).toEqual(['/headers/plan-token']);
      expect(reserved).toEqual([]);
      expect(
        (await s.service.submit({ commands: [toAgent()] }, alice, { idempotencyKey: 'k' })).commands,
      ).toHaveLength(1);
      expect(reserved).toHaveLength(1);
    });

    it('a submission that failed before writing releases its key (when the store can), so a retry is processed', async () => {
      const requests = new ReleasingRequestStore({ orders: new InMemoryOrderStore() });
      const s = setup({ requests, limits: { maxBatchCommands: 10, maxFanOut: 4, maxResultsPerReport: 10 } });
      await rejection(
        s.service.submit({ commands: [toGroup()] }, alice, { idempotencyKey: 'k' }),
        ErrorCodes.FANOUT_EXCEEDED,
      );
      expect(requests.released).toHaveLength(1);
      await rejection(
        s.service.submit({ commands: [toGroup()] }, alice, { idempotencyKey: 'k' }),
        ErrorCodes.FANOUT_EXCEEDED,
      );
    });
  });
});

describe('getRequest', () => {
  it('reports counts, progress, done and rollout', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [{ ...toGroup(), max_concurrency: 2, max_errors: '20%' }] }, alice);
    let p = await service.getRequest(1);
    expect(p.counts).toEqual({ pending: 5, sent: 0, success: 0, failure: 0 });
    expect(p.progress).toBe(0);
    expect(p.done).toBe(false);
    expect(p.rollout).toEqual({ stopped: false, max_concurrency: 2, max_errors: '20%', errors: 0 });

    await send(orders, '1-1');
    await send(orders, '1-2');
    await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'success', result: { code: 0, message: 'ok' } },
          { id: '1-2', status: 'failure', result: { code: 1, message: 'no' } },
        ],
      },
      alice,
    );
    await service.cancel(1, alice);
    p = await service.getRequest(1);
    expect(p.counts).toEqual({ pending: 0, sent: 0, success: 1, failure: 4 });
    expect(p.progress).toBe(1);
    expect(p.done).toBe(true);
    expect(p.rollout.errors).toBe(4);
  });

  it("is not done while a complete request's orders are not all counted yet (a search behind the writes)", async () => {
    class LaggingStore extends InMemoryOrderStore {
      lag = true;
      override async countByStatus(filter: Parameters<InMemoryOrderStore['countByStatus']>[0]) {
        return this.lag ? { pending: 0, sent: 0, success: 0, failure: 0 } : super.countByStatus(filter);
      }
    }
    const lagging = new LaggingStore();
    const { service } = setup({ orders: lagging });
    await service.submit({ commands: [toGroup()] }, alice);
    expect((await service.getRequest(1)).done).toBe(false);
    lagging.lag = false;
    const p = await service.getRequest(1);
    expect(p.counts.pending).toBe(5);
    expect(p.done).toBe(false);
  });

  it('an unknown request is NOT_FOUND', async () => {
    await rejection(setup().service.getRequest(99), ErrorCodes.NOT_FOUND);
  });
});

describe('getOrder and listOrders', () => {
  it('reads one order or says NOT_FOUND; lists with filters and pages', async () => {
    const { service } = setup();
    await service.submit({ commands: [toGroup(), toAgent()] }, alice);
    expect((await service.getOrder('1-2')).order.command.order_id).toBe(2);
    await rejection(service.getOrder('1-9'), ErrorCodes.NOT_FOUND);
    const page = await service.listOrders({ requestId: 1 }, { size: 3 });
    expect(page.items).toHaveLength(3);
    const next = await service.listOrders({ requestId: 1 }, { size: 3, cursor: page.cursor! });
    expect(next.items.map((s) => s.id)).toEqual(['1-4', '1-5']);
    expect((await service.listOrders({ targetId: 'db1' }, { size: 10 })).items.map((s) => s.id)).toEqual([
      '2-1',
    ]);
  });

  it.each([0, -1, 1.5, 10_001])('a page size of %d is VALIDATION_FAILED', async (size) => {
    await rejection(setup().service.listOrders({}, { size }), ErrorCodes.VALIDATION_FAILED);
  });
});

describe('reportResults', () => {
  const ok = { code: 0, message: 'ok' };

  it('applies a result to a sent order', async () => {
    const { service, orders, clock } = setup();
    await service.submit({ commands: [toAgent()] }, alice);
    await send(orders, '1-1');
    clock.advance(1000);
    expect(
      await service.reportResults({ id: '1-1', status: 'success', result: { ...ok, data: { x: 1 } } }, alice),
    ).toEqual([{ id: '1-1', outcome: 'applied', status: 'success' }]);
    const o = (await orders.getOrder('1-1'))!.order;
    expect(o.command.status).toBe('success');
    expect(o.command.result).toEqual({ ...ok, data: { x: 1 } });
    expect(o.scheduling.completed_at).toBe(clock.now().toISOString());
  });

  it('applies a result to a pending order that is being delivered (leased) through sent', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [toAgent()] }, alice);
    const s = (await orders.getOrder('1-1'))!;
    await orders.writeConditional([
      { id: s.id, rev: s.rev, order: withLease(s.order, 'sidecar-1', new Date(Date.now() + 60_000)) },
    ]);
    expect(await service.reportResults({ id: '1-1', status: 'failure', result: ok }, alice)).toEqual([
      { id: '1-1', outcome: 'applied', status: 'failure' },
    ]);
    expect((await orders.getOrder('1-1'))!.order.scheduling.sent_at).not.toBeNull();
  });

  it('reports late, duplicate and unknown results without applying them', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [toGroup()] }, alice);
    await send(orders, '1-1');
    await service.reportResults({ id: '1-1', status: 'success', result: ok }, alice);
    const before = await orders.getOrder('1-2');
    const out = await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'failure', result: ok },
          { id: '9-9', status: 'success', result: ok },
          { id: 'abc', status: 'success', result: ok },
        ],
      },
      alice,
    );
    expect(out).toEqual([
      {
        id: '1-1',
        outcome: 'conflict',
        status: 'success',
        message: expect.stringContaining('late or duplicate'),
      },
      { id: '9-9', outcome: 'unknown', message: 'no such order' },
      { id: 'abc', outcome: 'unknown', message: expect.any(String) },
    ]);
    expect(await orders.getOrder('1-2')).toEqual(before);
    expect((await orders.getOrder('1-1'))!.order.command.status).toBe('success');
  });

  it('the first of two reports for one order in a call wins', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [toAgent()] }, alice);
    await send(orders, '1-1');
    const out = await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'success', result: ok },
          { id: '1-1', status: 'failure', result: ok },
        ],
      },
      alice,
    );
    expect(out.map((o) => o.outcome)).toEqual(['applied', 'conflict']);
    expect((await orders.getOrder('1-1'))!.order.command.status).toBe('success');
  });

  it('re-reads and retries when another writer changed the order in between', async () => {
    const inner = new InMemoryOrderStore();
    const racing = Object.create(inner) as OrderStore;
    let raced = false;
    racing.writeConditional = async (writes: readonly ConditionalWrite[]): Promise<WriteOutcome[]> => {
      if (!raced) {
        raced = true;
        // The scheduler renews its lease just before our write lands: our revision is stale.
        const s = (await inner.getOrder('1-1'))!;
        await inner.writeConditional([
          {
            id: s.id,
            rev: s.rev,
            order: { ...s.order, scheduling: { ...s.order.scheduling, last_error: 'x' } },
          },
        ]);
      }
      return inner.writeConditional(writes);
    };
    const { service } = setup({ orders: racing });
    await service.submit({ commands: [toAgent()] }, alice);
    await send(inner, '1-1');
    expect(await service.reportResults({ id: '1-1', status: 'success', result: ok }, alice)).toEqual([
      { id: '1-1', outcome: 'applied', status: 'success' },
    ]);
    expect(raced).toBe(true);
    expect((await inner.getOrder('1-1'))!.order.scheduling.last_error).toBe('x');
  });

  /** An order store whose conditional writes of `failing` ids are refused by the store (not a race). */
  function refusing(failing: ReadonlySet<string>): { inner: InMemoryOrderStore; store: OrderStore } {
    const inner = new InMemoryOrderStore();
    const store = Object.create(inner) as OrderStore;
    store.writeConditional = async (writes: readonly ConditionalWrite[]): Promise<WriteOutcome[]> => {
      const passing = writes.filter((w) => !failing.has(w.id));
      const done = new Map((await inner.writeConditional(passing)).map((o) => [o.id, o]));
      return writes.map(
        (w) =>
          done.get(w.id) ?? {
            id: w.id,
            ok: false,
            reason: 'error',
            message: 'illegal_argument_exception (status 400)',
          },
      );
    };
    return { inner, store };
  }

  it('answers per item when some writes are refused and others applied (no 503 for the call)', async () => {
    const { inner, store } = refusing(new Set(['1-2']));
    const { service } = setup({ orders: store });
    await service.submit({ commands: [toGroup()] }, alice);
    for (const id of ['1-1', '1-2', '1-3']) await send(inner, id);
    const out = await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'success', result: ok },
          { id: '1-2', status: 'success', result: ok },
          { id: '1-3', status: 'failure', result: ok },
          { id: '1-2', status: 'failure', result: ok },
        ],
      },
      alice,
    );
    expect(out).toEqual([
      { id: '1-1', outcome: 'applied', status: 'success' },
      { id: '1-2', outcome: 'error', message: 'illegal_argument_exception (status 400)' },
      { id: '1-3', outcome: 'applied', status: 'failure' },
      { id: '1-2', outcome: 'error', message: 'illegal_argument_exception (status 400)' },
    ]);
    expect((await inner.getOrder('1-2'))!.order.command.status).toBe('sent');
  });

  it('fails the call with STORE_UNAVAILABLE only when nothing of it was applied', async () => {
    const { inner, store } = refusing(new Set(['1-1']));
    const { service } = setup({ orders: store });
    await service.submit({ commands: [toAgent()] }, alice);
    await send(inner, '1-1');
    await rejection(
      service.reportResults({ id: '1-1', status: 'success', result: ok }, alice),
      ErrorCodes.STORE_UNAVAILABLE,
    );
  });

  it('refuses per item what the index cannot store, and records who reported the others', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [toGroup()] }, alice);
    for (const id of ['1-1', '1-2', '1-3']) await send(orders, id);
    const out = await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'success', result: { ...ok, data: { a: { b: 'é'.repeat(8200) } } } },
          { id: '1-2', status: 'success', result: { code: -(2 ** 31) - 1, message: 'x' } },
          { id: '1-3', status: 'success', result: { ...ok, data: { a: ['x'.repeat(16_000)] } } },
        ],
      },
      principal({ name: 'comms-api' }),
    );
    expect(out).toEqual([
      {
        id: '1-1',
        outcome: 'invalid',
        code: 'RESULT_NOT_STORABLE',
        message: expect.stringContaining('result.data.a.b'),
      },
      {
        id: '1-2',
        outcome: 'invalid',
        code: 'RESULT_NOT_STORABLE',
        message: expect.stringContaining('result.code'),
      },
      { id: '1-3', outcome: 'applied', status: 'success' },
    ]);
    expect((await orders.getOrder('1-3'))!.order.scheduling.reported_by).toBe('comms-api');
    expect((await orders.getOrder('1-1'))!.order.command.status).toBe('sent');
  });

  it('refuses a result whose data is over maxResultDataBytes as a whole, each leaf being within bounds', async () => {
    // Five leaves of 15,000 bytes: each within the 16 KiB leaf bound, 75 KB in all.
    const data = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, 'x'.repeat(15_000)]));
    const report = (id: string) => ({ id, status: 'success', result: { ...ok, data } });
    const byDefault = setup();
    await byDefault.service.submit({ commands: [toAgent()] }, alice);
    await send(byDefault.orders, '1-1');
    expect(await byDefault.service.reportResults(report('1-1'), alice)).toEqual([
      {
        id: '1-1',
        outcome: 'invalid',
        code: 'RESULT_NOT_STORABLE',
        message: expect.stringMatching(
          /^result\.data is \d+ bytes as JSON; a result may carry at most 65536$/,
        ),
      },
    ]);
    expect((await byDefault.orders.getOrder('1-1'))!.order.command.status).toBe('sent');

    const raised = setup({
      limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 10, maxResultDataBytes: 100_000 },
    });
    await raised.service.submit({ commands: [toAgent()] }, alice);
    await send(raised.orders, '1-1');
    expect(await raised.service.reportResults(report('1-1'), alice)).toEqual([
      { id: '1-1', outcome: 'applied', status: 'success' },
    ]);
    expect((await raised.orders.getOrder('1-1'))!.order.command.result?.data).toEqual(data);
  });

  it('applies result data of exactly maxResultDataBytes and refuses one byte more', async () => {
    // {"a":"…","b":"…","c":"…","d":"…","e":"…"}: 36 bytes of JSON around five values.
    const dataOf = (total: number): Record<string, string> => {
      const each = Math.floor((total - 36) / 5);
      const lengths = [each, each, each, each, total - 36 - 4 * each];
      return Object.fromEntries(
        ['a', 'b', 'c', 'd', 'e'].map((k, i) => [k, 'x'.repeat(lengths[i] as number)]),
      );
    };
    expect(JSON.stringify(dataOf(65_536))).toHaveLength(65_536);
    expect(JSON.stringify(dataOf(65_537))).toHaveLength(65_537);
    const { service, orders } = setup();
    await service.submit({ commands: [toGroup()] }, alice);
    for (const id of ['1-1', '1-2']) await send(orders, id);
    const out = await service.reportResults(
      {
        results: [
          { id: '1-1', status: 'success', result: { ...ok, data: dataOf(65_536) } },
          { id: '1-2', status: 'success', result: { ...ok, data: dataOf(65_537) } },
        ],
      },
      alice,
    );
    expect(out.map((o) => o.outcome)).toEqual(['applied', 'invalid']);
  });

  it('rejects an invalid body as a whole (nothing applied)', async () => {
    const { service, orders } = setup();
    await service.submit({ commands: [toAgent()] }, alice);
    await send(orders, '1-1');
    const e = await rejection(
      service.reportResults(
        {
          results: [
            { id: '1-1', status: 'success', result: ok },
            { id: '1-1', status: 'done', result: ok },
          ],
        },
        alice,
      ),
      ErrorCodes.VALIDATION_FAILED,
    );
    expect(e.details.map((d) => d.pointer)).toEqual(['/results/1/status']);
    expect((await orders.getOrder('1-1'))!.order.command.status).toBe('sent');
  });

  it('more reports than configured is BATCH_TOO_LARGE', async () => {
    const { service } = setup({ limits: { maxBatchCommands: 1, maxFanOut: 1, maxResultsPerReport: 1 } });
    await rejection(
      service.reportResults(
        {
          results: [
            { id: '1-1', status: 'success', result: ok },
            { id: '1-2', status: 'success', result: ok },
          ],
        },
        alice,
      ),
      ErrorCodes.BATCH_TOO_LARGE,
    );
  });
});

describe('cancel', () => {
  it('fails every pending order of the request (paging through them), leaving sent ones and other requests alone', async () => {
    const s = setup({
      groupSize: 1203,
      limits: { maxBatchCommands: 10, maxFanOut: 2000, maxResultsPerReport: 10 },
    });
    await s.service.submit({ commands: [toGroup(), toAgent()] }, alice);
    await send(s.orders, '1-7');
    const res = await s.service.cancel(1, alice);
    expect(res).toEqual({ request_id: 1, cancelled: 1202, in_flight: 0 });
    const counts = await s.orders.countByStatus({ requestId: 1 });
    expect(counts).toEqual({ pending: 0, sent: 1, success: 0, failure: 1202 });
    const o = (await s.orders.getOrder('1-1'))!.order;
    expect(o.command.result).toEqual({ code: ResultCodes.CANCELLED, message: 'cancelled by alice' });
    expect(o.scheduling.completed_at).toBe(s.clock.now().toISOString());
    expect((await s.orders.countByStatus({ requestId: 2 })).pending).toBe(1);
    expect(await s.service.cancel(1, alice)).toEqual({ request_id: 1, cancelled: 0, in_flight: 0 });
  });

  it("is NOT_FOUND for an unknown request and FORBIDDEN for another principal's, delegating or not, unless granted cancel-any", async () => {
    const { service } = setup();
    await service.submit({ commands: [toAgent()] }, alice);
    await rejection(service.cancel(42, alice), ErrorCodes.NOT_FOUND);
    await rejection(service.cancel(1, principal({ name: 'mallory' })), ErrorCodes.FORBIDDEN);
    await rejection(
      service.cancel(1, principal({ name: 'wazuh-server', canDelegate: true })),
      ErrorCodes.FORBIDDEN,
    );
    expect(await service.cancel(1, principal({ name: 'operator', canCancelAny: true }))).toEqual({
      request_id: 1,
      cancelled: 1,
      in_flight: 0,
    });
  });
});

describe('interrupted writes', () => {
  it('marks a request whose writer stopped beating as partial, and leaves live or finished ones alone', async () => {
    const t = setup({
      limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 50, staleWriteMs: 60_000 },
    });
    const done = await t.service.submit({ commands: [toGroup()] }, alice);
    const finished = done.commands[0]!.request_id;
    // A writer that died after writing its record and some orders (as a killed process leaves them).
    const now = t.clock.now().toISOString();
    await t.requests.createRequest({
      request_id: 900,
      created_at: now,
      updated_at: now,
      principal: alice.name,
      command: toGroup(),
      total_orders: 5,
      unresolved: [],
      write_state: 'writing',
      rollout_stopped_at: null,
    });
    await t.orders.saveOrders([
      newOrder({
        command: toGroup(),
        requestId: 900,
        orderId: 1,
        target: { type: 'agent', id: 'a00001' },
        groups: ['web'],
        principal: alice.name,
        now: t.clock.now(),
      }),
    ]);

    t.clock.advance(30_000);
    expect(await t.service.markStaleWrites()).toBe(0);
    expect((await t.requests.getRequest(900))?.write_state).toBe('writing');

    t.clock.advance(31_000);
    expect(await t.service.markStaleWrites()).toBe(1);
    const marked = await t.requests.getRequest(900);
    expect(marked?.write_state).toBe('partial');
    expect(marked?.write_errors?.[0]?.reason).toMatch(/writer stopped/);
    expect((await t.requests.getRequest(finished))?.write_state).toBe('complete');
    expect(await t.service.markStaleWrites()).toBe(0);
  });

  it('a record nobody wrote orders for is marked failed', async () => {
    const t = setup();
    const now = t.clock.now().toISOString();
    await t.requests.createRequest({
      request_id: 901,
      created_at: now,
      principal: alice.name,
      command: toGroup(),
      total_orders: 5,
      unresolved: [],
      write_state: 'writing',
      rollout_stopped_at: null,
    });
    t.clock.advance(61_000);
    expect(await t.service.markStaleWrites()).toBe(1);
    expect((await t.requests.getRequest(901))?.write_state).toBe('failed');
  });
});
