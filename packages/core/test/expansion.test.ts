import { CommandManagerError, ErrorCodes } from '../src/errors';
import { expandCommand, expandOrders, planExpansion } from '../src/expansion';
import { InProcessIdAllocator } from '../src/in-process-id-allocator';
import { InMemoryAgentDirectory } from '../src/memory';
import type { Order } from '../src/model';
import type { AgentDirectory, AgentInfo, GroupQuery } from '../src/ports';
import { command, T0 } from './helpers/fixtures';

async function collect(orders: AsyncIterable<Order>): Promise<Order[]> {
  const out: Order[] = [];
  for await (const o of orders) out.push(o);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<CommandManagerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CommandManagerError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** Records how the directory is used, to show that expansion pages lazily and batches lookups. */
class SpyDirectory implements AgentDirectory {
  pagesServed = 0;
  lookups: string[][] = [];
  counts: string[] = [];
  constructor(private readonly inner: AgentDirectory) {}
  async *groupMembers(group: string, query?: GroupQuery): AsyncIterable<AgentInfo[]> {
    for await (const page of this.inner.groupMembers(group, query)) {
      this.pagesServed++;
      yield page;
    }
  }
  countGroupMembers(group: string, query?: GroupQuery): Promise<number> {
    this.counts.push(group);
    return this.inner.countGroupMembers(group, query);
  }
  lookupAgents(ids: readonly string[]): Promise<Map<string, AgentInfo>> {
    this.lookups.push([...ids]);
    return this.inner.lookupAgents(ids);
  }
}

function directory(): InMemoryAgentDirectory {
  const d = new InMemoryAgentDirectory();
  for (const id of ['005', '001', '004', '002', '003'])
    d.addAgent({ id, groups: ['web', `g${id}`], status: 'active' });
  d.addAgent({ id: '100', groups: ['db'], status: 'disconnected' });
  return d;
}

const base = { requestId: 12, principal: 'svc', now: T0 };

describe('planExpansion', () => {
  it('counts groups, looks every agent of the submission up in one batch, and reports unknown agents', async () => {
    const spy = new SpyDirectory(directory());
    const plans = await planExpansion(
      [
        command({ target: { type: 'agent', id: '001' } }),
        command({ target: { type: 'agent', id: 'nope' } }),
        command({ target: { type: 'agent', id: '001' } }),
        command({ target: { type: 'group', id: 'web' } }),
        command({ target: { type: 'group', id: 'empty' } }),
        command({
          target: { type: 'server', id: 'vulnerability-detector' },
          action: { name: 'refresh', args: {} },
        }),
      ],
      { agents: spy, maxFanOut: 10 },
    );
    expect(spy.lookups).toEqual([['001', 'nope']]);
    expect(spy.counts.sort()).toEqual(['empty', 'web']);
    expect(plans.map((p) => [p.count, p.unresolved])).toEqual([
      [1, []],
      [0, ['agent:nope']],
      [1, []],
      [5, []],
      [0, ['group:empty']],
      [1, []],
    ]);
    expect(plans[0]?.agents).toEqual([{ id: '001', groups: ['web', 'g001'], status: 'active' }]);
    expect(spy.pagesServed).toBe(0);
  });

  it('fails with FANOUT_EXCEEDED naming every command over the limit, before streaming anything', async () => {
    const spy = new SpyDirectory(directory());
    const e = await rejection(
      planExpansion(
        [
          command({ target: { type: 'group', id: 'web' } }),
          command({ target: { type: 'group', id: 'db' } }),
          command({ target: { type: 'group', id: 'web' } }),
        ],
        { agents: spy, maxFanOut: 4 },
      ),
    );
    expect(e.code).toBe(ErrorCodes.FANOUT_EXCEEDED);
    expect(e.details).toEqual([
      {
        pointer: '/commands/0/target/id',
        message: 'group "web" has 5 agents, more than the maximum fan-out of 4',
      },
      {
        pointer: '/commands/2/target/id',
        message: 'group "web" has 5 agents, more than the maximum fan-out of 4',
      },
    ]);
    expect(spy.pagesServed).toBe(0);
  });

  it('a group exactly at the limit is fine', async () => {
    const [plan] = await planExpansion([command({ target: { type: 'group', id: 'web' } })], {
      agents: directory(),
      maxFanOut: 5,
    });
    expect(plan?.count).toBe(5);
  });
});

describe('expandOrders', () => {
  it('a group becomes one pending order per member, ids 1..N in agent id order, target the agent', async () => {
    const agents = directory();
    const cmd = command({
      target: { type: 'group', id: 'web' },
      action: { name: 'restart', args: {}, version: '5' },
    });
    const [plan] = await planExpansion([cmd], { agents, maxFanOut: 100 });
    const orders = await collect(expandOrders(plan!, { ...base, agents, groupQuery: { pageSize: 2 } }));
    expect(orders.map((o) => [o.command.order_id, o.command.target, o.agent.groups])).toEqual([
      [1, { type: 'agent', id: '001' }, ['web', 'g001']],
      [2, { type: 'agent', id: '002' }, ['web', 'g002']],
      [3, { type: 'agent', id: '003' }, ['web', 'g003']],
      [4, { type: 'agent', id: '004' }, ['web', 'g004']],
      [5, { type: 'agent', id: '005' }, ['web', 'g005']],
    ]);
    for (const o of orders) {
      expect(o.command).toMatchObject({
        status: 'pending',
        request_id: 12,
        action: cmd.action,
        user: 'alice',
        source: 'Users/Services',
        timeout: 60,
      });
      expect(o.scheduling.principal).toBe('svc');
      expect(o['@timestamp']).toBe(T0.toISOString());
    }
  });

  it('streams: it reads the next page of members only when the consumer asks for more orders', async () => {
    const spy = new SpyDirectory(directory());
    const [plan] = await planExpansion([command({ target: { type: 'group', id: 'web' } })], {
      agents: spy,
      maxFanOut: 100,
    });
    const it = expandOrders(plan!, { ...base, agents: spy, groupQuery: { pageSize: 2 } })[
      Symbol.asyncIterator
    ]();
    await it.next();
    expect(spy.pagesServed).toBe(1);
    await it.next();
    expect(spy.pagesServed).toBe(1);
    await it.next();
    expect(spy.pagesServed).toBe(2);
    await it.return?.(undefined);
  });

  it('an agent target becomes one order with the agent groups; a server target one order with none', async () => {
    const agents = directory();
    const plans = await planExpansion(
      [
        command({ target: { type: 'agent', id: '100' } }),
        command({ target: { type: 'server', id: 'vulnerability-detector' } }),
      ],
      // The bound is on the whole submission: two orders.
      { agents, maxFanOut: 2 },
    );
    const [a, s] = await Promise.all(plans.map((p) => collect(expandOrders(p, { ...base, agents }))));
    expect(a?.map((o) => [o.command.order_id, o.command.target, o.agent.groups])).toEqual([
      [1, { type: 'agent', id: '100' }, ['db']],
    ]);
    expect(s?.map((o) => [o.command.order_id, o.command.target, o.agent.groups])).toEqual([
      [1, { type: 'server', id: 'vulnerability-detector' }, []],
    ]);
  });

  it('an unknown agent expands to nothing', async () => {
    const agents = directory();
    const [plan] = await planExpansion([command({ target: { type: 'agent', id: 'ghost' } })], {
      agents,
      maxFanOut: 1,
    });
    expect(await collect(expandOrders(plan!, { ...base, agents }))).toEqual([]);
  });

  it('fails with FANOUT_EXCEEDED if the group grew past the limit after it was counted', async () => {
    const agents = directory();
    const [plan] = await planExpansion([command({ target: { type: 'group', id: 'web' } })], {
      agents,
      maxFanOut: 5,
    });
    agents.addAgent({ id: '006', groups: ['web'] });
    const seen: Order[] = [];
    const e = await rejection(
      (async () => {
        for await (const o of expandOrders(plan!, { ...base, agents, maxFanOut: 5 })) seen.push(o);
      })(),
    );
    expect(e.code).toBe(ErrorCodes.FANOUT_EXCEEDED);
    expect(seen).toHaveLength(5);
  });
});

describe('expandCommand', () => {
  it('plans and streams one command', async () => {
    const orders = await collect(
      expandCommand(command({ target: { type: 'group', id: 'web' } }), {
        ...base,
        agents: directory(),
        maxFanOut: 10,
      }),
    );
    expect(orders.map((o) => o.command.order_id)).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([[{ type: 'group' as const, id: 'nobody' }], [{ type: 'agent' as const, id: 'ghost' }]])(
    'a target %j that resolves to nothing is NO_TARGET_RESOLVED before any order',
    async (target) => {
      const e = await rejection(
        collect(expandCommand(command({ target }), { ...base, agents: directory(), maxFanOut: 10 })),
      );
      expect(e.code).toBe(ErrorCodes.NO_TARGET_RESOLVED);
      expect(e.details[0]?.pointer).toBe('/target/id');
    },
  );

  it('over the fan-out is FANOUT_EXCEEDED', async () => {
    const e = await rejection(
      collect(
        expandCommand(command({ target: { type: 'group', id: 'web' } }), {
          ...base,
          agents: directory(),
          maxFanOut: 2,
        }),
      ),
    );
    expect(e.code).toBe(ErrorCodes.FANOUT_EXCEEDED);
  });
});

describe('InProcessIdAllocator', () => {
  it('hands out strictly increasing ids from its start, also when asked concurrently', async () => {
    const ids = new InProcessIdAllocator();
    expect(await ids.next()).toBe(1);
    expect(await ids.next()).toBe(2);
    const many = await Promise.all(Array.from({ length: 100 }, () => ids.next()));
    expect(new Set(many).size).toBe(100);
    expect(Math.min(...many)).toBe(3);
    expect(await new InProcessIdAllocator(1000).next()).toBe(1000);
  });

  it('refuses a start that is not a non-negative safe integer', () => {
    expect(() => new InProcessIdAllocator(-1)).toThrow(RangeError);
    expect(() => new InProcessIdAllocator(1.5)).toThrow(RangeError);
  });
  it('nextBlock hands out n increasing ids, disjoint from next, and refuses n < 1', async () => {
    const ids = new InProcessIdAllocator(5);
    expect(await ids.next()).toBe(5);
    expect(await ids.nextBlock(3)).toEqual([6, 7, 8]);
    expect(await ids.next()).toBe(9);
    await expect(ids.nextBlock(0)).rejects.toMatchObject({ code: ErrorCodes.VALIDATION_FAILED });
  });
});
