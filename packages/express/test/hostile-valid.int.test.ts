/**
 * Valid but hostile input and failures at the edges, through the HTTP app over a real OpenSearch:
 * an Idempotency-Key whose first submission failed or whose writer died, result reports the index cannot
 * store, a lost requests index, and store error text that must never reach a caller.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import {
  ActionRegistry,
  CommandService,
  MAX_PAGE_CURSOR_LENGTH,
  markSent,
  type AgentDirectory,
  type Clock,
} from '@command-manager/core';
import {
  OpenSearchAgentDirectory,
  OpenSearchOrderStore,
  createOpenSearchClient,
  seedAgents,
} from '@command-manager/opensearch';
import { adminClientOptions } from '@command-manager/test-support';
import { basic, buildApp, groupCommand, type TestApp } from './support/fixtures';
import { P, openSearchWorld, postCommands } from './support/opensearch-world';

jest.setTimeout(120_000);

const world = openSearchWorld(__filename, { waitForWrites: true });
const { client, ordersIndex, agentsIndex, layout, orders, requests, ids, agents } = world;
/** Index statistics are read as an administrator: beyond the sidecar's role on a secured node. */
const admin = createOpenSearchClient({ ...adminClientOptions(), maxRetries: 1 });

/** A node nobody listens on: every call is refused at the TCP level (OpenSearch briefly unreachable). */
const deadClient = createOpenSearchClient({
  node: 'http://127.0.0.1:9',
  maxRetries: 0,
  requestTimeoutMs: 2000,
});

function service(agents: AgentDirectory, clock?: Clock): CommandService {
  return world.service({
    agents,
    limits: { idempotencyReservationTtlMs: 60_000 },
    ...(clock !== undefined && { clock }),
  });
}

let app: Awaited<ReturnType<typeof buildApp>>['app'];

beforeAll(async () => {
  await world.setUp(
    Array.from({ length: 5 }, (_, i) => ({ id: `a${i}`, groups: ['Test'], status: 'active' })),
  );
  ({ app } = await buildApp(service(agents)));
});

afterAll(() => world.tearDown(admin, deadClient));

function submit(target: TestApp['app'], body: object, key: string): request.Test {
  return postCommands(target, 'admin', body, { headers: { 'Idempotency-Key': key } });
}

describe('Idempotency-Key after a failed first try', () => {
  it('a 422 (empty group) releases the key: the retry once the group has agents is processed', async () => {
    const body = { commands: [groupCommand('admin', 'Later')] };
    const first = await submit(app, body, 'idem-422');
    expect(first.status).toBe(422);
    await seedAgents(client, [{ id: 'later-1', groups: ['Later'], status: 'active' }], {
      index: agentsIndex,
    });
    const retry = await submit(app, body, 'idem-422');
    expect(retry.status).toBe(201);
    expect(retry.body.commands[0].orders).toBe(1);
    // And the answer is now replayed.
    const replay = await submit(app, body, 'idem-422');
    expect(replay.status).toBe(201);
    expect(replay.body.commands[0].request_id).toBe(retry.body.commands[0].request_id);
  });

  it('a 503 (agents index unreachable) releases the key: the retry after Retry-After is processed', async () => {
    const { app: broken } = await buildApp(
      service(new OpenSearchAgentDirectory({ client: deadClient, agentsIndex })),
    );
    const body = { commands: [groupCommand('admin', 'Test')] };
    const first = await submit(broken, body, 'idem-503');
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toMatch(/^\d+$/);
    const retry = await submit(app, body, 'idem-503');
    expect(retry.status).toBe(201);
    expect(retry.body.commands[0].orders).toBe(5);
  });

  it('a reservation whose writer died expires: a retry after the TTL is processed, before it 409', async () => {
    // What a sidecar killed between reserving and answering leaves: a reservation without a response.
    const storeKey = createHash('sha256').update('admin').update('\n').update('idem-crash').digest('hex');
    const reservedAt = Date.now();
    expect(await requests.reserveIdempotency(storeKey, 'fingerprint-of-the-dead-writer')).toBeUndefined();
    const body = { commands: [groupCommand('admin', 'Test')] };
    const early = await submit(app, body, 'idem-crash');
    expect(early.status).toBe(409);
    const later = { now: () => new Date(reservedAt + 61_000) };
    const { app: afterTtl } = await buildApp(service(agents, later));
    const retry = await submit(afterTtl, body, 'idem-crash');
    expect(retry.status).toBe(201);
    expect(retry.body.commands[0].orders).toBe(5);
  });
});

describe('a lost requests index', () => {
  it('never reuses a request id: the next submission gets an id above every old one, and its orders exist', async () => {
    const body = { commands: [groupCommand('admin', 'Test')] };
    const old = await request(app).post(`${P}/commands`).set('Authorization', basic('admin')).send(body);
    expect(old.status).toBe(201);
    await client.indices.refresh({ index: ordersIndex });
    const aggs: Record<string, unknown> = {
      size: 0,
      aggs: { top: { max: { field: 'command.request_id' } } },
    };
    const highest = await client.search({ index: ordersIndex, body: aggs });
    const highestOld = (highest.body as unknown as { aggregations: { top: { value: number } } }).aggregations
      .top.value;
    await client.indices.delete({ index: layout.requests });

    const fresh = await request(app).post(`${P}/commands`).set('Authorization', basic('admin')).send(body);
    expect(fresh.status).toBe(201);
    const requestId = fresh.body.commands[0].request_id as number;
    expect(requestId).toBeGreaterThan(highestOld);
    expect(fresh.body.commands[0].write_state).toBe('complete');
    const stored = await orders.getOrders(Array.from({ length: 5 }, (_, i) => `${requestId}-${i + 1}`));
    expect(stored).toHaveLength(5);
    expect(stored.every((s) => s.order.command.request_id === requestId)).toBe(true);
  });
});

describe("OpenSearch's error text never reaches a caller", () => {
  const forged = (sort: unknown): string => Buffer.from(JSON.stringify(sort), 'utf8').toString('base64url');

  it.each([
    ['strings where numbers are sorted', forged(['x', 'y'])],
    ['a fraction', forged([1.5, 2])],
    ['a number beyond the safe integers', `${Buffer.from('[9007199254740993,1]').toString('base64url')}`],
    ['not base64 JSON', '%%%not-a-cursor'],
    ['longer than the bound', 'A'.repeat(MAX_PAGE_CURSOR_LENGTH + 1)],
  ])('a forged cursor (%s) on GET /orders answers 400 VALIDATION_FAILED', async (_name, cursor) => {
    const res = await request(app)
      .get(`${P}/orders`)
      .query({ size: 5, cursor })
      .set('Authorization', basic('admin'));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 400 });
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(res.body)).not.toMatch(/exception|opensearch|parse|search_after/i);
  });
});

describe('result reports the index cannot store', () => {
  /** A fresh request of 5 orders, all `sent` (as if delivered), with the store's own conditional writes. */
  async function sentRequest(): Promise<number> {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .send({ commands: [groupCommand('admin', 'Test')] });
    expect(res.status).toBe(201);
    const requestId = res.body.commands[0].request_id as number;
    const stored = await orders.getOrders(Array.from({ length: 5 }, (_, i) => `${requestId}-${i + 1}`));
    const outcomes = await orders.writeConditional(
      stored.map((s) => ({ id: s.id, rev: s.rev, order: markSent(s.order, new Date()) })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    return requestId;
  }

  const ok = { code: 0, message: 'done' };

  it('refuses an oversized data leaf and an out-of-range code per item, and applies the others', async () => {
    const r = await sentRequest();
    const res = await request(app)
      .post(`${P}/results`)
      .set('Authorization', basic('comms'))
      .send({
        results: [
          { id: `${r}-1`, status: 'success', result: ok },
          { id: `${r}-2`, status: 'success', result: { ...ok, data: { log: 'x'.repeat(40_000) } } },
          { id: `${r}-3`, status: 'failure', result: { code: 2 ** 31, message: 'big code' } },
          {
            id: `${r}-4`,
            status: 'success',
            result: { ...ok, data: { nested: { small: 'y'.repeat(1000) } } },
          },
        ],
      });
    expect(res.status).toBe(200);
    expect(res.body.results.map((o: { outcome: string }) => o.outcome)).toEqual([
      'applied',
      'invalid',
      'invalid',
      'applied',
    ]);
    expect(res.body.results[1].message).toMatch(/result\.data\.log/);
    expect(res.body.results[2].message).toMatch(/result\.code/);
    const [o1, o2, o3] = await orders.getOrders([`${r}-1`, `${r}-2`, `${r}-3`]);
    expect(o1?.order.command.status).toBe('success');
    expect(o2?.order.command.status).toBe('sent');
    expect(o3?.order.command.status).toBe('sent');
    // The principal that reported the result is on the order.
    expect(o1?.order.scheduling.reported_by).toBe('comms');
  });

  it('a single oversized report is refused with RESULT_NOT_STORABLE, not a 503', async () => {
    const r = await sentRequest();
    const res = await request(app)
      .post(`${P}/orders/${r}-1/result`)
      .set('Authorization', basic('comms'))
      .send({ status: 'success', result: { ...ok, data: { log: 'z'.repeat(33_000) } } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('RESULT_NOT_STORABLE');
  });

  it('a results call forces no refresh of the orders index', async () => {
    const r = await sentRequest();
    // The sidecar's store forces a refresh per transition (`writeRefresh: true`); results must not.
    const eager = new OpenSearchOrderStore({ client, ordersIndex, replicas: 0, writeRefresh: true });
    const eagerService = new CommandService({
      orders: eager,
      requests,
      ids,
      agents,
      registry: ActionRegistry.withDefaults(),
      limits: { maxBatchCommands: 100, maxFanOut: 10_000, maxResultsPerReport: 1000 },
      indexName: ordersIndex,
    });
    const { app: eagerApp } = await buildApp(eagerService);
    const refreshes = async (): Promise<number> => {
      const stats = await admin.indices.stats({ index: ordersIndex, metric: 'refresh' });
      const body = stats.body as unknown as { _all: { primaries: { refresh: { total: number } } } };
      return body._all.primaries.refresh.total;
    };
    await client.indices.putSettings({ index: ordersIndex, body: { index: { refresh_interval: '-1' } } });
    try {
      const before = await refreshes();
      const res = await request(eagerApp)
        .post(`${P}/results`)
        .set('Authorization', basic('comms'))
        .send({ results: [1, 2, 3].map((n) => ({ id: `${r}-${n}`, status: 'success', result: ok })) });
      expect(res.status).toBe(200);
      expect(res.body.applied).toBe(3);
      expect((await refreshes()) - before).toBe(0);
    } finally {
      await client.indices.putSettings({
        index: ordersIndex,
        body: { index: { refresh_interval: null } } as Record<string, unknown>,
      });
    }
  });
});
