/**
 * The membership poller on the in-memory twins: which members count as joiners, the lock, the window, and
 * the order ids they get.
 */
import {
  InMemoryAgentDirectory,
  InMemoryLiveMembershipStore,
  InMemoryLockStore,
  InMemoryOrderStore,
  InMemoryRequestStore,
  InProcessIdAllocator,
} from '@command-manager/core';
import type { CommandRequest, Principal } from '@command-manager/core';
import { MEMBERSHIP_LOCK, MembershipPoller } from '@command-manager/scheduler';
import { ManualClock } from '@command-manager/test-support';
import { command } from './support/fixtures';
import { submissionService } from './support/submission-service';

const admin: Principal = { name: 'admin', roles: ['admin'], canDelegate: true, sources: '*', actions: '*' };

function world(maxOrdersPerRequest?: number) {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00.000Z'));
  const orders = new InMemoryOrderStore({ clock });
  const requests = new InMemoryRequestStore({ orders });
  const agents = new InMemoryAgentDirectory([
    { id: 'a1', groups: ['web'], status: 'active' },
    { id: 'a2', groups: ['web'], status: 'active' },
  ]);
  const locks = new InMemoryLockStore();
  const live = new InMemoryLiveMembershipStore({ requests, orders });
  const written: number[] = [];
  const poller = new MembershipPoller({
    owner: 'me',
    live,
    orders,
    agents,
    locks,
    clock,
    onOrdersWritten: (n) => written.push(n),
    ...(maxOrdersPerRequest !== undefined && { options: { maxOrdersPerRequest } }),
  });
  const service = submissionService({ orders, requests, ids: new InProcessIdAllocator(), agents, clock });
  const submit = async (overrides: Partial<CommandRequest> = {}): Promise<number> => {
    const c = command({
      target: { type: 'group', id: 'web' },
      timeout: 60,
      membership: 'live',
      ...overrides,
    });
    const answer = await service.submit({ commands: [c] }, admin);
    return answer.commands[0]?.request_id ?? 0;
  };
  const targets = async (requestId: number): Promise<Array<[string, number]>> => {
    const page = await orders.listOrders({ requestId }, { size: 100 });
    return page.items
      .map((o): [string, number] => [o.order.command.target.id, o.order.command.order_id])
      .sort((x, y) => x[1] - y[1]);
  };
  return { clock, agents, locks, poller, submit, targets, written, requests };
}

describe('membership poller', () => {
  it('gives each joiner one order with the next id, and nothing to members that have one', async () => {
    const w = world();
    const id = await w.submit({ delivery_window_s: 600 });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 1, joined: 0 });
    w.agents.addAgent({ id: 'a3', groups: ['web', 'db'], status: 'active' });
    w.agents.addAgent({ id: 'other', groups: ['db'], status: 'active' });
    w.clock.advance(10_000);
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 1, joined: 1 });
    w.agents.addAgent({ id: 'a4', groups: ['web'], status: 'active' });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 1, joined: 1 });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 1, joined: 0 });
    expect(await w.targets(id)).toEqual([
      ['a1', 1],
      ['a2', 2],
      ['a3', 3],
      ['a4', 4],
    ]);
    expect(w.written).toEqual([1, 1]);
  });

  it('follows the command’s eligibility, and stops when the window ends (default: the timeout)', async () => {
    const w = world();
    const id = await w.submit({ agent_status: ['active'], exclude_agents: ['x1'] });
    w.agents.addAgent({ id: 'x1', groups: ['web'], status: 'active' });
    w.agents.addAgent({ id: 'gone', groups: ['web'], status: 'disconnected' });
    expect((await w.poller.poll()).joined).toBe(0);
    w.clock.advance(60_000);
    w.agents.addAgent({ id: 'a5', groups: ['web'], status: 'active' });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 0, joined: 0 });
    expect((await w.targets(id)).map(([t]) => t)).toEqual(['a1', 'a2']);
  });

  it('does nothing while another sidecar holds the membership lock', async () => {
    const w = world();
    await w.submit();
    w.agents.addAgent({ id: 'a3', groups: ['web'], status: 'active' });
    expect(await w.locks.acquire(MEMBERSHIP_LOCK, 'other', 60_000, w.clock.now())).toBe(true);
    expect(await w.poller.poll()).toEqual({ ran: false, requests: 0, joined: 0 });
    await w.locks.release(MEMBERSHIP_LOCK, 'other');
    expect((await w.poller.poll()).joined).toBe(1);
  });

  it('a live request grows only up to its most orders', async () => {
    const w = world(3);
    const id = await w.submit();
    w.agents.addAgents(['a3', 'a4', 'a5'].map((a) => ({ id: a, groups: ['web'], status: 'active' })));
    expect((await w.poller.poll()).joined).toBe(1);
    expect((await w.poller.poll()).joined).toBe(0);
    expect((await w.targets(id)).map(([t]) => t)).toEqual(['a1', 'a2', 'a3']);
  });

  it('waits until every first order of the request shows, so that none of its agents passes for a joiner', async () => {
    const w = world();
    const id = await w.submit();
    const record = await w.requests.getRequest(id);
    if (!record) throw new Error('no record');
    // One first order not visible yet (its write still landing): the request is left for a later round.
    await w.requests.putRequest({ ...record, total_orders: 3 });
    w.agents.addAgent({ id: 'a3', groups: ['web'], status: 'active' });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 1, joined: 0 });
    await w.requests.putRequest({ ...record, write_state: 'failed' });
    expect((await w.poller.poll()).joined).toBe(0);
    await w.requests.putRequest(record);
    expect((await w.poller.poll()).joined).toBe(1);
  });

  it('snapshot commands are never followed', async () => {
    const w = world();
    const id = await w.submit({ membership: 'snapshot' });
    w.agents.addAgent({ id: 'a3', groups: ['web'], status: 'active' });
    expect(await w.poller.poll()).toEqual({ ran: true, requests: 0, joined: 0 });
    expect(await w.targets(id)).toHaveLength(2);
  });
});
