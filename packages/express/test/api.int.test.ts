/**
 * The HTTP API against a real OpenSearch: createApp + CommandService + the OpenSearch adapter, driven with
 * supertest. Indices live under a per-file prefix and are deleted afterwards.
 */
import request from 'supertest';
import fc from 'fast-check';
import { ActionRegistry, CommandService, markSent, type CommandManagerApi } from '@command-manager/core';
import {
  OpenSearchAgentDirectory,
  OpenSearchOrderStore,
  OpenSearchRequestIdAllocator,
  OpenSearchRequestStore,
  createOpenSearchClient,
} from '@command-manager/opensearch';
import {
  CONTENT_MANAGER_BODY,
  CONTENT_MANAGER_BODY_AS_SENT,
  TOKENS,
  WAZUH_SERVER_BODY,
  basic,
  bearer,
  buildApp,
  groupCommand,
} from './support/fixtures';
import { P, openSearchWorld } from './support/opensearch-world';

jest.setTimeout(120_000);

const GROUP_SIZE = 2500;
const world = openSearchWorld(__filename, { waitForWrites: true });
const { client, prefix, ordersIndex, agentsIndex, layout, orders } = world;
let api: CommandManagerApi;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

async function orderCount(): Promise<number> {
  await client.indices.refresh({ index: ordersIndex });
  const res = await client.count({ index: ordersIndex });
  return (res.body as { count: number }).count;
}

beforeAll(async () => {
  const agents = Array.from({ length: GROUP_SIZE }, (_, i) => ({
    id: `a${String(i).padStart(5, '0')}`,
    groups: ['Test'],
    status: 'active',
  }));
  agents.push({ id: 'd5b250c4-dfa1-4d94-827f-9f99fbbedc6f', groups: ['default'], status: 'active' });
  await world.setUp(agents);
  api = world.service();
  ({ app } = await buildApp(api, {
    readiness: async () => {
      const ping = await client.cluster.health().then(
        () => true,
        () => false,
      );
      const template = await client.indices.existsIndexTemplate({ name: layout.templates.orders }).then(
        (r) => r.body === true,
        () => false,
      );
      return { ready: ping && template, checks: { opensearch: ping, templates: template } };
    },
  }));
});

afterAll(() => world.tearDown());

describe('HTTP API over OpenSearch', () => {
  it('/ready is 200 when OpenSearch answers and the templates are in place', async () => {
    const res = await request(app).get('/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true, checks: { opensearch: true, templates: true } });
  });

  it('malformed bodies (fast-check) all get a 4xx and write nothing', async () => {
    const before = await orderCount();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify({ commands: [v] })),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
          fc.string(),
          fc
            .constantFrom('timeout', 'user', 'source', 'target')
            .map((k) => JSON.stringify({ commands: [{ ...groupCommand('admin'), [k]: null }] })),
        ),
        async (raw) => {
          const res = await request(app)
            .post(`${P}/commands`)
            .set('Authorization', basic('admin'))
            .set('Content-Type', 'application/json')
            .send(raw);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect(await orderCount()).toBe(before);
  });

  it('accepts the exact body Wazuh’s server sends and stores the authenticated principal', async () => {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send(WAZUH_SERVER_BODY);
    expect(res.status).toBe(201);
    expect(res.body._index).toBe(ordersIndex);
    expect(res.body.result).toBe('CREATED');
    const id = res.body.orders[0]._id as string;
    const order = await request(app).get(`${P}/orders/${id}`).set('Authorization', basic('reader'));
    expect(order.status).toBe(200);
    expect(order.body.order.command).toMatchObject({
      user: 'Management API',
      source: 'Users/Services',
      status: 'pending',
    });
    expect(order.body.order.scheduling.principal).toBe('wazuh-server');
    const raw = await client.get({ index: ordersIndex, id });
    expect((raw.body._source as { command: { action: { name: string } } }).command.action.name).toBe(
      'fetch-config',
    );
  });

  it('accepts the exact body Wazuh’s content manager sends', async () => {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('Content Manager'))
      .send(CONTENT_MANAGER_BODY);
    expect(res.status).toBe(201);
    expect(res.body.commands[0]).toMatchObject({ orders: 1, unresolved: [], write_state: 'complete' });
  });

  it('accepts the content manager’s body as it builds it, without user (the caller is stored)', async () => {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('Content Manager'))
      .send(CONTENT_MANAGER_BODY_AS_SENT);
    expect(res.status).toBe(201);
    const order = await request(app)
      .get(`${P}/orders/${res.body.orders[0]._id as string}`)
      .set('Authorization', basic('reader'));
    expect(order.body.order.command).toMatchObject({ user: 'Content Manager', source: 'Content manager' });
  });

  it('a group submission streams every order id; the request reports progress; idempotent retry writes nothing twice', async () => {
    const before = await orderCount();
    const send = () =>
      request(app)
        .post(`${P}/commands`)
        .set('Authorization', basic('wazuh-server'))
        .set('Idempotency-Key', `group-${prefix}`)
        .send({ commands: [groupCommand()] });
    const res = await send();
    expect(res.status).toBe(201);
    const requestId = res.body.commands[0].request_id as number;
    expect(res.body.orders).toHaveLength(GROUP_SIZE);
    expect(res.body.orders[GROUP_SIZE - 1]).toEqual({ _id: `${requestId}-${GROUP_SIZE}` });
    const again = await send();
    expect(again.status).toBe(201);
    expect(again.body).toEqual(res.body);
    expect(await orderCount()).toBe(before + GROUP_SIZE);

    const progress = await request(app)
      .get(`${P}/requests/${requestId}`)
      .set('Authorization', basic('reader'));
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({
      counts: { pending: GROUP_SIZE, sent: 0, success: 0, failure: 0 },
      progress: 0,
      done: false,
      request: { total_orders: GROUP_SIZE, write_state: 'complete', principal: 'wazuh-server' },
    });

    // Cursor paging over the request's orders.
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await request(app)
        .get(`${P}/orders`)
        .query({ request_id: String(requestId), size: '100', ...(cursor ? { cursor } : {}) })
        .set('Authorization', basic('reader'));
      expect(page.body.error).toBeUndefined();
      for (const o of page.body.orders as Array<{ id: string }>) seen.add(o.id);
      cursor = page.body.cursor;
    } while (cursor);
    expect(seen.size).toBe(GROUP_SIZE);

    const cancel = await request(app)
      .post(`${P}/requests/${requestId}/cancel`)
      .set('Authorization', basic('wazuh-server'));
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ request_id: requestId, cancelled: GROUP_SIZE, in_flight: 0 });
    const after = await request(app).get(`${P}/requests/${requestId}`).set('Authorization', basic('reader'));
    expect(after.body).toMatchObject({
      counts: { pending: 0, failure: GROUP_SIZE },
      progress: 1,
      done: true,
    });
  });

  it('forged user or source is 403 and writes nothing', async () => {
    const before = await orderCount();
    const forged = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', bearer(TOKENS.engine))
      .send({ commands: [{ ...groupCommand('Management API'), source: 'Users/Services' }] });
    expect(forged.status).toBe(403);
    expect(forged.body.error.details.map((d: { pointer: string }) => d.pointer).sort()).toEqual([
      '/commands/0/source',
      '/commands/0/user',
    ]);
    expect(await orderCount()).toBe(before);
  });

  it('a batch with an unknown agent: 201, that command reported with 0 orders, the others written', async () => {
    const before = await orderCount();
    const known = WAZUH_SERVER_BODY.commands[0];
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [{ ...known, target: { type: 'agent', id: 'ghost' } }, known] });
    expect(res.status).toBe(201);
    const [unknown, written] = res.body.commands;
    expect(unknown).toMatchObject({ orders: 0, unresolved: ['agent:ghost'], write_state: 'complete' });
    expect(written).toMatchObject({ orders: 1, unresolved: [], write_state: 'complete' });
    expect(res.body.orders).toEqual([{ _id: `${written.request_id}-1` }]);
    expect(await orderCount()).toBe(before + 1);
    const progress = await request(app)
      .get(`${P}/requests/${unknown.request_id}`)
      .set('Authorization', basic('reader'));
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({
      counts: { pending: 0, sent: 0, success: 0, failure: 0 },
      done: true,
      request: { total_orders: 0, unresolved: ['agent:ghost'], write_state: 'complete' },
    });
  });

  it('422 for an over-limit fan-out or an unknown agent; nothing written', async () => {
    const before = await orderCount();
    const small = await buildApp(
      world.service({ limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 10 } }),
    );
    const fanout = await request(small.app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(fanout.status).toBe(422);
    expect(fanout.body.error.code).toBe('FANOUT_EXCEEDED');
    const unknown = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [{ ...groupCommand(), target: { type: 'agent', id: 'ghost' } }] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.code).toBe('NO_TARGET_RESOLVED');
    expect(await orderCount()).toBe(before);
  });

  it('results from the Comms API: applied once, then conflict with the current status', async () => {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send(WAZUH_SERVER_BODY);
    const id = res.body.orders[0]._id as string;
    // The scheduler's part: claim and mark sent, through the same store.
    const now = new Date();
    const stored = await orders.getOrder(id);
    if (!stored) throw new Error('order not stored');
    const [w] = await orders.writeConditional([{ id, rev: stored.rev, order: markSent(stored.order, now) }]);
    expect(w?.ok).toBe(true);
    const report = {
      results: [{ id, status: 'success', result: { code: 0, message: 'done', data: { took: 3 } } }],
    };
    const first = await request(app)
      .post(`${P}/results`)
      .set('Authorization', bearer(TOKENS.comms))
      .send(report);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      applied: 1,
      results: [{ id, outcome: 'applied', status: 'success' }],
    });
    const single = await request(app)
      .post(`${P}/orders/${id}/result`)
      .set('Authorization', bearer(TOKENS.comms))
      .send({ status: 'failure', result: { code: 1, message: 'late' } });
    expect(single.status).toBe(409);
    expect(single.body.error.details).toEqual([{ pointer: '/status', message: 'the order is success' }]);
  });

  it('503 with Retry-After when OpenSearch cannot be reached; no stack in the body', async () => {
    const dead = createOpenSearchClient({
      node: 'http://127.0.0.1:1',
      maxRetries: 0,
      requestTimeoutMs: 2000,
    });
    try {
      const down = await buildApp(
        new CommandService({
          orders: new OpenSearchOrderStore({ client: dead, ordersIndex }),
          requests: new OpenSearchRequestStore({ client: dead, ordersIndex }),
          ids: new OpenSearchRequestIdAllocator({ client: dead, ordersIndex }),
          agents: new OpenSearchAgentDirectory({ client: dead, agentsIndex }),
          registry: ActionRegistry.withDefaults(),
          limits: { maxBatchCommands: 10, maxFanOut: 100, maxResultsPerReport: 10 },
          indexName: ordersIndex,
        }),
      );
      const submit = await request(down.app)
        .post(`${P}/commands`)
        .set('Authorization', basic('wazuh-server'))
        .send(WAZUH_SERVER_BODY);
      expect(submit.status).toBe(503);
      expect(submit.body.error.code).toBe('STORE_UNAVAILABLE');
      expect(Number(submit.headers['retry-after'])).toBeGreaterThan(0);
      expect(submit.text).not.toMatch(/\n\s+at /);
      const read = await request(down.app).get(`${P}/orders/1-1`).set('Authorization', basic('reader'));
      expect(read.status).toBe(503);
    } finally {
      await dead.close();
    }
  });
});
