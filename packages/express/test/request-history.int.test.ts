/**
 * Request history through the HTTP app over a real OpenSearch: `GET /requests` (filters, status, paging by
 * cursor, bounds, garbled cursors) and the failure breakdown of `GET /requests/:id`.
 */
import request from 'supertest';
import { MAX_PAGE_CURSOR_LENGTH, encodeRequestCursor } from '@command-manager/core';
import { basic, buildApp, groupCommand, type TestUser } from './support/fixtures';
import { P, openSearchWorld, postCommands } from './support/opensearch-world';

jest.setTimeout(120_000);

const world = openSearchWorld(__filename, { waitForWrites: true });
const { client, ordersIndex, layout } = world;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

async function submit(as: TestUser, command: Record<string, unknown>): Promise<number> {
  const res = await postCommands(app, as, { commands: [command] }, { query: '?summary=true' });
  expect(res.status).toBe(201);
  return res.body.commands[0].request_id as number;
}

function list(query: string): request.Test {
  return request(app).get(`${P}/requests${query}`).set('Authorization', basic('reader'));
}

const requestIds = (body: { requests: Array<{ request: { request_id: number } }> }): number[] =>
  body.requests.map((r) => r.request.request_id);

let restartGroup: number;
let engineRestart: number;
let contentUpdate: number;

beforeAll(async () => {
  await world.setUp(
    Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, groups: ['Test'], status: 'active' })),
  );
  ({ app } = await buildApp(world.service()));
  restartGroup = await submit('wazuh-server', groupCommand());
  engineRestart = await submit('engine', {
    source: 'Engine',
    target: { type: 'agent', id: 'a1' },
    action: { name: 'restart' },
    timeout: 60,
  });
  contentUpdate = await submit('Content Manager', {
    source: 'Content Manager',
    target: { type: 'server', id: 'vulnerability-detector' },
    action: { name: 'update', args: { index: 'content-index', offset: '7' } },
    timeout: 60,
  });
  // Results of the group restart: four failures of three codes (one twice), one success, one still sent.
  const report = (n: number, status: string, code: number, message: string) => ({
    id: `${restartGroup}-${n}`,
    status,
    result: { code, message },
  });
  for (let n = 1; n <= 6; n++) {
    await client.update({
      index: ordersIndex,
      id: `${restartGroup}-${n}`,
      body: { doc: { command: { status: 'sent' } } },
      refresh: 'wait_for',
    });
  }
  const res = await request(app)
    .post(`${P}/results`)
    .set('Authorization', basic('comms'))
    .send({
      results: [
        report(1, 'failure', 4, 'agent could not restart: busy'),
        report(2, 'failure', 4, 'agent could not restart: locked'),
        report(3, 'failure', 7, 'module missing'),
        report(4, 'success', 0, 'ok'),
        report(5, 'failure', 9, 'timeout in agent'),
      ],
    });
  expect(res.body.applied).toBe(5);
  await client.indices.refresh({ index: [ordersIndex, layout.requests] });
});

afterAll(() => world.tearDown());

describe('GET /requests', () => {
  it('lists request records newest first, each with its counts', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(requestIds(res.body)).toEqual([contentUpdate, engineRestart, restartGroup]);
    expect(res.body.requests[2]).toMatchObject({
      request: { request_id: restartGroup, principal: 'wazuh-server', total_orders: 6 },
      counts: { pending: 0, sent: 1, success: 1, failure: 4 },
      done: false,
    });
    expect(res.body.requests[0].counts).toEqual({ pending: 1, sent: 0, success: 0, failure: 0 });
    expect(res.body.cursor).toBeUndefined();
  });

  it('filters combine: source, user (defaulted to the caller), action, status, from/to', async () => {
    expect(requestIds((await list('?source=engine')).body)).toEqual([engineRestart]);
    expect(requestIds((await list('?user=engine&action=restart')).body)).toEqual([engineRestart]);
    expect(requestIds((await list('?user=engine&action=update')).body)).toEqual([]);
    expect(requestIds((await list('?source=Content%20Manager&user=Content%20Manager')).body)).toEqual([
      contentUpdate,
    ]);
    expect(requestIds((await list('?status=failure')).body)).toEqual([restartGroup]);
    expect(requestIds((await list('?status=pending,sent')).body)).toEqual([
      contentUpdate,
      engineRestart,
      restartGroup,
    ]);
    expect(requestIds((await list('?status=pending&action=restart')).body)).toEqual([engineRestart]);
    expect(requestIds((await list('?to=2000-01-01T00:00:00Z')).body)).toEqual([]);
    expect(requestIds((await list('?from=2000-01-01T00:00:00Z')).body)).toHaveLength(3);
  });

  it('pages by cursor without repeating or skipping', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await list(`?size=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...requestIds(res.body));
      cursor = res.body.cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([contentUpdate, engineRestart, restartGroup]);
  });

  it('bounds the page size and refuses unknown parameters by name', async () => {
    const big = await list('?size=100000');
    expect(big.status).toBe(400);
    expect(big.body.error.details).toEqual([
      { pointer: '/query/size', message: 'must be an integer in 1..100' },
    ]);
    const unknown = await list('?state=done');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details[0].pointer).toBe('/query/state');
    const status = await list('?status=done');
    expect(status.body.error.details[0].pointer).toBe('/query/status');
  });

  it.each([
    ['not base64url', '!!!'],
    ['base64 of text', Buffer.from('hello').toString('base64url')],
    ['strings where numbers go', Buffer.from('["2025-01-01","x"]').toString('base64url')],
    ['negative numbers', Buffer.from('[-1,-2]').toString('base64url')],
    ['too many values', Buffer.from('[1,2,3]').toString('base64url')],
    ['unsafe integers', Buffer.from('[1e300,1]').toString('base64url')],
    ['longer than the bound', 'A'.repeat(MAX_PAGE_CURSOR_LENGTH + 1)],
  ])('a garbled cursor (%s) is a 400 naming /query/cursor, never OpenSearch text', async (_name, cursor) => {
    const res = await list(`?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: expect.not.stringMatching(/search_after|opensearch|exception/i),
      details: [{ pointer: '/query/cursor', message: 'must be a cursor from a previous page' }],
    });
  });

  it('a well-formed cursor of any position is served (no OpenSearch error either)', async () => {
    const res = await list(
      `?cursor=${encodeRequestCursor({ createdAtMs: 8.64e15, requestId: 2 ** 53 - 1 })}`,
    );
    expect(res.status).toBe(200);
    expect(requestIds(res.body)).toEqual([contentUpdate, engineRestart, restartGroup]);
  });

  it('needs the read operation', async () => {
    const res = await request(app).get(`${P}/requests`).set('Authorization', basic('comms'));
    expect(res.status).toBe(403);
  });
});

describe('GET /requests/:id failure breakdown', () => {
  it('counts failures per result.code, most frequent first, with one sample message each', async () => {
    const res = await request(app).get(`${P}/requests/${restartGroup}`).set('Authorization', basic('reader'));
    expect(res.status).toBe(200);
    expect(res.body.failures).toEqual({
      codes: [
        { code: 4, count: 2, message: 'agent could not restart: busy' },
        { code: 7, count: 1, message: 'module missing' },
        { code: 9, count: 1, message: 'timeout in agent' },
      ],
      other: 0,
    });
  });

  it('a request without failures has an empty breakdown', async () => {
    const res = await request(app)
      .get(`${P}/requests/${engineRestart}`)
      .set('Authorization', basic('reader'));
    expect(res.body.failures).toEqual({ codes: [], other: 0 });
  });
});
