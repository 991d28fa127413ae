/**
 * Eligibility (`agent_status`, `exclude_agents`), dry runs and plan tokens over the in-memory twins: what a
 * dry run shows is what the send writes, and a changed target set is refused with what changed.
 */
import { ActionRegistry } from '../src/action-registry';
import { CommandService } from '../src/command-service';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import { InProcessIdAllocator } from '../src/in-process-id-allocator';
import { InMemoryAgentDirectory, InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { CommandRequest } from '../src/model';
import { decodePlanToken, maxPlanTokenLength } from '../src/plan-token';
import { command, ManualClock, principal } from './helpers/fixtures';

/** Limits small enough to reach: 3 excluded ids, 4 listed agents. */
const LIMITS = {
  maxBatchCommands: 10,
  maxFanOut: 100,
  maxResultsPerReport: 50,
  maxExcludeAgents: 3,
  maxTargetAgents: 4,
};

/** `web`: w1..w4 active, w5..w6 disconnected; `db`: db1. */
function setup() {
  const clock = new ManualClock();
  const orders = new InMemoryOrderStore({ clock });
  const stores = {
    orders,
    requests: new InMemoryRequestStore({ orders }),
    agents: new InMemoryAgentDirectory(),
  };
  for (let i = 1; i <= 6; i++) {
    stores.agents.addAgent({ id: `w${i}`, groups: ['web'], status: i <= 4 ? 'active' : 'disconnected' });
  }
  stores.agents.addAgent({ id: 'db1', groups: ['db'], status: 'active' });
  const registry = ActionRegistry.withDefaults();
  const ids = new InProcessIdAllocator();
  const service = new CommandService({
    ...stores,
    ids,
    registry,
    clock,
    limits: LIMITS,
    indexName: 'wazuh-commands',
  });
  return { service, ...stores };
}

/** The CommandManagerError `p` rejects with. */
const rejection = (p: Promise<unknown>): Promise<CommandManagerError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => {
      if (e instanceof CommandManagerError) return e;
      throw e;
    },
  );

const toGroup = (overrides: Partial<CommandRequest> = {}) =>
  command({ target: { type: 'group', id: 'web' }, ...overrides });
const me = principal();

describe('eligibility', () => {
  it('keeps only agents of the given statuses and leaves excluded ids out, counting both', async () => {
    const { service, orders } = setup();
    const body = { commands: [toGroup({ agent_status: ['active'], exclude_agents: ['w2', 'w5', 'db1'] })] };
    const result = await service.submit(body, me);
    // w1..w4 active, w5..w6 disconnected; w2 and w5 excluded (db1 is not a member).
    expect(result.commands[0]).toMatchObject({ orders: 3, excluded: 2, ineligible: 1 });
    const written = await orders.listOrders({ requestId: result.commands[0]?.request_id }, { size: 10 });
    expect(written.items.map((o) => o.order.command.target.id).sort()).toEqual(['w1', 'w3', 'w4']);
    const progress = await service.getRequest(result.commands[0]?.request_id as number);
    expect(progress.request).toMatchObject({ total_orders: 3, excluded: 2, ineligible: 1 });
  });

  it('counts an excluded or ineligible agent target instead of writing it', async () => {
    const { service } = setup();
    const result = await service.submit(
      {
        commands: [
          command({ target: { type: 'agent', id: 'w5' }, agent_status: ['active'] }),
          command({ target: { type: 'agent', id: 'w1' }, exclude_agents: ['w1'] }),
          command({ target: { type: 'agent', id: 'w2' }, agent_status: ['active'] }),
        ],
      },
      me,
    );
    expect(result.commands.map(({ orders, excluded, ineligible }) => [orders, excluded, ineligible])).toEqual(
      [
        [0, 0, 1],
        [0, 1, 0],
        [1, 0, 0],
      ],
    );
  });

  it('answers without the counts when the command has no eligibility keys (the usual shape)', async () => {
    const { service } = setup();
    const result = await service.submit({ commands: [toGroup()] }, me);
    expect(result.commands[0]).not.toHaveProperty('excluded');
    expect(result.commands[0]).not.toHaveProperty('ineligible');
    expect(result.commands[0]?.orders).toBe(6);
  });

  it('refuses eligibility on a server target and an exclusion list over its bound, writing nothing', async () => {
    const { service, requests } = setup();
    const server = command({
      target: { type: 'server', id: 'vulnerability-detector' },
      action: { name: 'update', args: {} },
      agent_status: ['active'],
    });
    const e1 = await rejection(service.submit({ commands: [server] }, me));
    expect(e1.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e1.details).toContainEqual({
      pointer: '/commands/0/agent_status',
      message: 'applies only to agent and group targets',
    });
    const e2 = await rejection(
      service.submit({ commands: [toGroup({ exclude_agents: ['a', 'b', 'c', 'd'] })] }, me),
    );
    expect(e2.details).toEqual([
      { pointer: '/commands/0/exclude_agents', message: 'must have at most 3 item(s)' },
    ]);
    const e3 = await rejection(service.submit({ commands: [toGroup({ agent_status: [] })] }, me));
    expect(e3.details[0]?.pointer).toBe('/commands/0/agent_status');
    expect(await requests.listRequests({}, { size: 10 })).toHaveLength(0);
  });

  it('names the left-out agents when nothing is eligible (422, nothing written)', async () => {
    const { service } = setup();
    const e = await rejection(service.submit({ commands: [toGroup({ agent_status: ['pending'] })] }, me));
    expect(e.code).toBe(ErrorCodes.NO_TARGET_RESOLVED);
    expect(e.details[0]?.message).toBe('every agent of group "web" is left out (0 excluded, 6 ineligible)');
  });
});

describe('a list of agents in one command', () => {
  const toAgents = (ids: string[], overrides: Partial<CommandRequest> = {}) =>
    command({ target: { type: 'agents', ids }, ...overrides });

  it('writes one request with one order per known agent, in the order listed, and names the unknown ids', async () => {
    const { service, orders, requests } = setup();
    const result = await service.submit({ commands: [toAgents(['w3', 'ghost', 'db1', 'w1'])] }, me);
    expect(result.commands).toHaveLength(1);
    expect(result.commands[0]).toMatchObject({
      orders: 3,
      unresolved: ['agent:ghost'],
      write_state: 'complete',
    });
    const id = result.commands[0]?.request_id as number;
    const written = await orders.listOrders({ requestId: id }, { size: 10 });
    expect(
      written.items
        .map((o) => [o.order.command.order_id, o.order.command.target, o.order.agent.groups])
        .sort((a, b) => (a[0] as number) - (b[0] as number)),
    ).toEqual([
      [1, { type: 'agent', id: 'w3' }, ['web']],
      [2, { type: 'agent', id: 'db1' }, ['db']],
      [3, { type: 'agent', id: 'w1' }, ['web']],
    ]);
    const records = await requests.listRequests({}, { size: 10 });
    expect(records.map((r) => r.command.target)).toEqual([
      { type: 'agents', ids: ['w3', 'ghost', 'db1', 'w1'] },
    ]);
  });

  it('applies eligibility to the list and counts what it leaves out', async () => {
    const { service } = setup();
    const result = await service.submit(
      {
        commands: [
          toAgents(['w1', 'w2', 'w5', 'ghost'], { agent_status: ['active'], exclude_agents: ['w2'] }),
        ],
      },
      me,
    );
    expect(result.commands[0]).toMatchObject({
      orders: 1,
      unresolved: ['agent:ghost'],
      excluded: 1,
      ineligible: 1,
    });
  });

  it('refuses a list over its bound, repeated ids, and an id next to ids, naming the field', async () => {
    const { service } = setup();
    const e1 = await rejection(service.submit({ commands: [toAgents(['a', 'b', 'c', 'd', 'e'])] }, me));
    expect(e1.details).toEqual([
      { pointer: '/commands/0/target/ids', message: 'must have at most 4 item(s)' },
    ]);
    const e2 = await rejection(service.submit({ commands: [toAgents(['w1', 'w1'])] }, me));
    expect(e2.details.map((d) => d.pointer)).toContain('/commands/0/target/ids');
    const e3 = await rejection(
      service.submit({ commands: [command({ target: { type: 'agents', id: 'w1' } as never })] }, me),
    );
    expect(e3.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e3.details).toEqual([
      { pointer: '/commands/0/target/id', message: 'is not allowed here' },
      { pointer: '/commands/0/target/ids', message: 'is required' },
    ]);
  });

  it('refuses a list of only unknown agents with NO_TARGET_RESOLVED, writing nothing', async () => {
    const { service } = setup();
    const e = await rejection(service.submit({ commands: [toAgents(['x', 'y'])] }, me));
    expect(e.code).toBe(ErrorCodes.NO_TARGET_RESOLVED);
    expect(e.details).toEqual([
      { pointer: '/commands/0/target/ids', message: 'none of the 2 agents is known' },
    ]);
  });
});

describe('dry run and plan token', () => {
  it('writes nothing and shows the orders the send then writes', async () => {
    const { service, orders, requests } = setup();
    const body = {
      commands: [toGroup({ exclude_agents: ['w6'] }), command({ target: { type: 'agent', id: 'nobody' } })],
    };
    const plan = await service.planSubmission(body, me);
    expect(plan.commands).toEqual([
      {
        orders: 5,
        sample: ['agent:w1', 'agent:w2', 'agent:w3', 'agent:w4', 'agent:w5'],
        unresolved: [],
        excluded: 1,
        ineligible: 0,
      },
      { orders: 0, sample: [], unresolved: ['agent:nobody'] },
    ]);
    expect(await requests.listRequests({}, { size: 10 })).toHaveLength(0);
    expect((await orders.listOrders({}, { size: 10 })).items).toHaveLength(0);

    const sent = await service.submit(body, me, { planToken: plan.plan_token });
    expect(sent.commands.map((c) => c.orders)).toEqual(plan.commands.map((c) => c.orders));
  });

  it('refuses the send with PLAN_CHANGED naming the added agent once the group grew, writing nothing', async () => {
    const { service, agents, requests } = setup();
    const body = { commands: [toGroup()] };
    const plan = await service.planSubmission(body, me);
    agents.addAgent({ id: 'w7', groups: ['web'], status: 'active' });
    const e = await rejection(service.submit(body, me, { planToken: plan.plan_token }));
    expect(e.code).toBe(ErrorCodes.PLAN_CHANGED);
    expect(e.details).toEqual([
      {
        pointer: '/commands/0/target',
        message: 'planned 6 order(s), now 7: 1 target(s) added, 0 removed; added: agent:w7',
      },
    ]);
    expect(await requests.listRequests({}, { size: 10 })).toHaveLength(0);
    // A new dry run gives a token the send accepts.
    const again = await service.planSubmission(body, me);
    expect((await service.submit(body, me, { planToken: again.plan_token })).commands[0]?.orders).toBe(7);
  });

  it('a retry with the Idempotency-Key of a written send answers it, even after the targets changed', async () => {
    const { service, agents } = setup();
    const body = { commands: [toGroup()] };
    const plan = await service.planSubmission(body, me);
    const options = { planToken: plan.plan_token, idempotencyKey: 'k1' };
    const first = await service.submit(body, me, options);
    agents.addAgent({ id: 'w7', groups: ['web'], status: 'active' });
    expect(await service.submit(body, me, options)).toEqual(first);
    // A new key is a new send: held to the plan, refused, and its key released for a retry.
    const e = await rejection(service.submit(body, me, { ...options, idempotencyKey: 'k2' }));
    expect(e.code).toBe(ErrorCodes.PLAN_CHANGED);
    const again = await service.planSubmission(body, me);
    const sent = await service.submit(body, me, { planToken: again.plan_token, idempotencyKey: 'k2' });
    expect(sent.commands[0]?.orders).toBe(7);
  });

  it('counts a removed agent, and refuses a token made for another body or caller', async () => {
    const { service, agents } = setup();
    const body = { commands: [toGroup()] };
    const plan = await service.planSubmission(body, me);
    agents.addAgent({ id: 'w3', groups: ['db'], status: 'active' });
    const e = await rejection(service.submit(body, me, { planToken: plan.plan_token }));
    expect(e.details[0]?.message).toBe('planned 6 order(s), now 5: 0 target(s) added, 1 removed');

    const other = await service.planSubmission({ commands: [toGroup({ timeout: 61 })] }, me);
    const e2 = await rejection(service.submit(body, me, { planToken: other.plan_token }));
    expect(e2.code).toBe(ErrorCodes.PLAN_CHANGED);
    expect(e2.details).toEqual([
      { pointer: '/headers/plan-token', message: 'was made for another body or another caller' },
    ]);
    const fresh = await service.planSubmission(body, me);
    const e3 = await rejection(
      service.submit(body, principal({ name: 'bob', canDelegate: true }), { planToken: fresh.plan_token }),
    );
    expect(e3.code).toBe(ErrorCodes.PLAN_CHANGED);
  });

  it('refuses a malformed token or one of another command count by the header, before resolving', async () => {
    const { service } = setup();
    const body = { commands: [toGroup()] };
    const e = await rejection(service.submit(body, me, { planToken: 'not a token' }));
    expect(e.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e.details[0]?.pointer).toBe('/headers/plan-token');
    const two = await service.planSubmission({ commands: [toGroup(), toGroup()] }, me);
    const e2 = await rejection(service.submit(body, me, { planToken: two.plan_token }));
    expect(e2.code).toBe(ErrorCodes.VALIDATION_FAILED);
  });

  it('refuses in a dry run what the send would refuse', async () => {
    const { service } = setup();
    const e = await rejection(
      service.planSubmission({ commands: [toGroup({ agent_status: ['pending'] })] }, me),
    );
    expect(e.code).toBe(ErrorCodes.NO_TARGET_RESOLVED);
  });

  it('keeps tokens bounded: 44 bytes a command', async () => {
    const { service } = setup();
    const plan = await service.planSubmission({ commands: Array.from({ length: 10 }, () => toGroup()) }, me);
    expect(plan.plan_token.length).toBeLessThanOrEqual(maxPlanTokenLength(10));
    expect(decodePlanToken(plan.plan_token, 10).map((s) => s.count)).toEqual(new Array(10).fill(6));
    expect(maxPlanTokenLength(100)).toBeLessThan(6000);
  });
});
