/**
 * Dry runs, plan tokens, eligibility and agents-list targets over HTTP against a real OpenSearch: the
 * dry run's count is the number of orders the send writes (also for a group large enough to be streamed),
 * a group that gained an agent since the dry run is refused with 412 naming it, and what eligibility and
 * unknown ids leave out is counted in the answer.
 */
import { seedAgents } from '@command-manager/opensearch';
import { buildApp } from './support/fixtures';
import { openSearchWorld, postCommands } from './support/opensearch-world';

jest.setTimeout(120_000);

const world = openSearchWorld(__filename, { waitForWrites: true });
const { client, prefix, ordersIndex, agentsIndex, layout } = world;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

/** 150 members of `Big` (more than one round trip carries inline: the orders are streamed), 40 disconnected. */
const BIG = 150;
const id = (i: number): string => `a${String(i).padStart(4, '0')}`;

const restart = (target: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  source: 'Users/Services',
  user: 'wazuh-server',
  target,
  action: { name: 'restart', args: {} },
  timeout: 60,
  ...extra,
});

async function ordersOf(requestId?: number): Promise<number> {
  await client.indices.refresh({ index: `${prefix}*` });
  const query = requestId === undefined ? { match_all: {} } : { term: { 'command.request_id': requestId } };
  const res = await client.count({ index: ordersIndex, body: { query } });
  return (res.body as { count: number }).count;
}

async function records(): Promise<number> {
  await client.indices.refresh({ index: `${prefix}*` });
  const r = await client.count({ index: layout.requests, body: { query: { term: { kind: 'request' } } } });
  return (r.body as { count: number }).count;
}

beforeAll(async () => {
  await world.setUp([
    ...Array.from({ length: BIG }, (_, i) => ({
      id: id(i),
      groups: ['Big'],
      status: i < BIG - 40 ? 'active' : 'disconnected',
    })),
    { id: 's1', groups: ['Small'], status: 'active' },
    { id: 's2', groups: ['Small'], status: 'active' },
  ]);
  ({ app } = await buildApp(world.service({ limits: { maxTargetAgents: 50, maxExcludeAgents: 50 } })));
});

afterAll(() => world.tearDown());

const post = (body: object, options: Parameters<typeof postCommands>[3] = {}) =>
  postCommands(app, 'wazuh-server', body, options);

it('a dry run writes nothing, and its count is the orders the send with its Plan-Token writes', async () => {
  const body = { commands: [restart({ type: 'group', id: 'Big' }, { exclude_agents: [id(0), id(1)] })] };
  const dry = await post(body, { query: '?dry_run=true' });
  expect(dry.status).toBe(200);
  expect(dry.body.commands).toEqual([
    {
      orders: BIG - 2,
      sample: Array.from({ length: 10 }, (_, i) => `agent:${id(i + 2)}`),
      unresolved: [],
      excluded: 2,
      ineligible: 0,
    },
  ]);
  expect(await ordersOf()).toBe(0);
  expect(await records()).toBe(0);

  const sent = await post(body, { headers: { 'Plan-Token': dry.body.plan_token } });
  expect(sent.status).toBe(201);
  expect(sent.body.commands[0]).toMatchObject({
    orders: BIG - 2,
    excluded: 2,
    ineligible: 0,
    write_state: 'complete',
  });
  expect(await ordersOf(sent.body.commands[0].request_id)).toBe(dry.body.commands[0].orders);
});

it('412 once an agent joined the group after the dry run, naming it; nothing written', async () => {
  const body = { commands: [restart({ type: 'group', id: 'Small' })] };
  const dry = await post(body, { query: '?dry_run=true' });
  expect(dry.body.commands[0].orders).toBe(2);
  await seedAgents(client, [{ id: 's3', groups: ['Small'], status: 'active' }], { index: agentsIndex });
  const before = { orders: await ordersOf(), records: await records() };

  const res = await post(body, { headers: { 'Plan-Token': dry.body.plan_token } });
  expect(res.status).toBe(412);
  expect(res.body.error).toMatchObject({
    code: 'PLAN_CHANGED',
    details: [
      {
        pointer: '/commands/0/target',
        message: 'planned 2 order(s), now 3: 1 target(s) added, 0 removed; added: agent:s3',
      },
    ],
  });
  expect({ orders: await ordersOf(), records: await records() }).toEqual(before);

  const again = await post(body, { query: '?dry_run=true' });
  const sent = await post(body, { headers: { 'Plan-Token': again.body.plan_token } });
  expect(sent.status).toBe(201);
  expect(await ordersOf(sent.body.commands[0].request_id)).toBe(3);
});

it('an agents-list target makes one request with an order per known agent and names the unknown ids', async () => {
  const res = await post({ commands: [restart({ type: 'agents', ids: ['s1', 'nobody', id(5), 'ghost'] })] });
  expect(res.status).toBe(201);
  expect(res.body.commands).toHaveLength(1);
  expect(res.body.commands[0]).toMatchObject({ orders: 2, unresolved: ['agent:nobody', 'agent:ghost'] });
  const requestId = res.body.commands[0].request_id as number;
  await client.indices.refresh({ index: ordersIndex });
  const found = await client.search({
    index: ordersIndex,
    body: { query: { term: { 'command.request_id': requestId } }, sort: [{ 'command.order_id': 'asc' }] },
  });
  const hits = (
    found.body as { hits: { hits: Array<{ _id: string; _source: { command: { target: unknown } } }> } }
  ).hits.hits;
  expect(hits.map((h) => [h._id, h._source.command.target])).toEqual([
    [`${requestId}-1`, { type: 'agent', id: 's1' }],
    [`${requestId}-2`, { type: 'agent', id: id(5) }],
  ]);

  const tooMany = await post({
    commands: [restart({ type: 'agents', ids: Array.from({ length: 51 }, (_, i) => id(i)) })],
  });
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.error.details).toEqual([
    { pointer: '/commands/0/target/ids', message: 'must have at most 50 item(s)' },
  ]);
});

it('eligibility: only active agents, minus the excluded ones, with both counted in the answer', async () => {
  const res = await post({
    commands: [
      restart(
        { type: 'group', id: 'Big' },
        { agent_status: ['active'], exclude_agents: [id(3), id(BIG - 1), 's1'] },
      ),
    ],
  });
  expect(res.status).toBe(201);
  // 110 active, 40 disconnected; a0003 (active) and a0149 (disconnected) excluded; s1 is not a member.
  expect(res.body.commands[0]).toMatchObject({ orders: 109, excluded: 2, ineligible: 39 });
  expect(await ordersOf(res.body.commands[0].request_id)).toBe(109);
});
