import request from 'supertest';
import { InMemoryOrderStore, markSent } from '@command-manager/core';
import {
  BODY_LIMIT_BYTES,
  CONTENT_MANAGER_BODY,
  TOKENS,
  WAZUH_SERVER_BODY,
  basic,
  bearer,
  buildApp,
  groupCommand,
  inMemoryWorld,
} from './support/fixtures';

const P = '/_plugins/_command_manager';

async function world(options: Parameters<typeof inMemoryWorld>[0] = {}) {
  const w = inMemoryWorld(options);
  const { app, metrics, logger } = await buildApp(w.service);
  return { ...w, app, metrics, logger };
}

describe('POST /commands', () => {
  it('answers 201 with Wazuh’s keys plus per-command request id, order count and unresolved targets', async () => {
    const { app, orders } = await world({ agents: 3 });
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand('someone'), WAZUH_SERVER_BODY.commands[0]] });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({
      _index: 'wazuh-commands',
      result: 'CREATED',
      commands: [
        { request_id: 1, orders: 3, unresolved: [], write_state: 'complete' },
        { request_id: 2, orders: 1, unresolved: [], write_state: 'complete' },
      ],
      orders: [{ _id: '1-1' }, { _id: '1-2' }, { _id: '1-3' }, { _id: '2-1' }],
    });
    // A small answer goes out whole: sized, not chunked.
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(orders.size).toBe(4);
  });

  it('the exact body of Wazuh’s server is accepted; the principal is stored on the order', async () => {
    const { app, service } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send(WAZUH_SERVER_BODY);
    expect(res.status).toBe(201);
    expect(res.body.orders).toEqual([{ _id: '1-1' }]);
    const stored = await service.getOrder('1-1');
    expect(stored.order.command.user).toBe('Management API');
    expect(stored.order.command.action.name).toBe('fetch-config');
    expect(stored.order.scheduling.principal).toBe('wazuh-server');
  });

  it('the exact body of Wazuh’s content manager is accepted for the content-manager role', async () => {
    const { app, service } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('Content Manager'))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(CONTENT_MANAGER_BODY));
    expect(res.status).toBe(201);
    const stored = await service.getOrder(res.body.orders[0]._id);
    expect(stored.order.command.source).toBe('Content manager');
    expect(stored.order.command.target).toEqual({ id: 'vulnerability-detector', type: 'server' });
    expect(stored.order.scheduling.principal).toBe('Content Manager');
  });

  it('?summary=true leaves out the per-order ids', async () => {
    const { app } = await world({ agents: 4 });
    const res = await request(app)
      .post(`${P}/commands?summary=true`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      _index: 'wazuh-commands',
      result: 'CREATED',
      commands: [{ request_id: 1, orders: 4, unresolved: [], write_state: 'complete' }],
    });
  });

  it('?dry_run and Plan-Token: bad values are 400s naming the parameter, and nothing is written', async () => {
    const { app, orders } = await world({ agents: 4 });
    const post = (query: string, token?: string): request.Test => {
      const req = request(app).post(`${P}/commands${query}`).set('Authorization', basic('wazuh-server'));
      return (token === undefined ? req : req.set('Plan-Token', token)).send({ commands: [groupCommand()] });
    };
    const bad = await post('?dry_run=maybe&summary=no');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([
      { pointer: '/query/summary', message: 'must be true or false' },
      { pointer: '/query/dry_run', message: 'must be true or false' },
    ]);
    const badToken = await post('', 'not a token!');
    expect(badToken.status).toBe(400);
    expect(badToken.body.error.details).toEqual([
      { pointer: '/headers/plan-token', message: 'must be the plan_token of a dry run (base64url)' },
    ]);
    const dry = await post('?dry_run');
    expect(dry.status).toBe(200);
    expect(dry.body.commands).toEqual([
      { orders: 4, sample: ['agent:001', 'agent:002', 'agent:003', 'agent:004'], unresolved: [] },
    ]);
    expect((await orders.listOrders({}, { size: 10 })).items).toHaveLength(0);
    expect((await post('', dry.body.plan_token)).status).toBe(201);
  });

  it('an unknown query parameter (a misspelt ?dryRun) is a 400 and nothing is written; ?pretty is ignored', async () => {
    const { app, orders } = await world({ agents: 4 });
    const post = (query: string): request.Test =>
      request(app)
        .post(`${P}/commands${query}`)
        .set('Authorization', basic('wazuh-server'))
        .send({ commands: [groupCommand()] });
    const misspelt = await post('?dryRun=true&summary=true');
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.error.details).toEqual([
      {
        pointer: '/query/dryRun',
        message: 'unknown parameter (allowed: summary, dry_run, pretty, human, error_trace)',
      },
    ]);
    expect((await orders.listOrders({}, { size: 10 })).items).toHaveLength(0);
    const pretty = await post('?pretty');
    expect(pretty.status).toBe(201);
    expect(pretty.body.commands[0].orders).toBe(4);
  });

  it('streams a 20,000-order answer with every id in order', async () => {
    const { app, orders } = await world({ agents: 20_000 });
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(201);
    expect(res.body.commands[0].orders).toBe(20_000);
    expect(res.body.orders).toHaveLength(20_000);
    // Streamed in chunks, never built whole in memory.
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.orders[0]).toEqual({ _id: '1-1' });
    expect(res.body.orders[19_999]).toEqual({ _id: '1-20000' });
    expect(new Set(res.body.orders.map((o: { _id: string }) => o._id)).size).toBe(20_000);
    expect(orders.size).toBe(20_000);
  });

  it('400 names every bad field by JSON pointer and writes nothing', async () => {
    const { app, orders, requests } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .send({
        commands: [
          { ...groupCommand('admin'), timeout: 0 },
          { ...groupCommand('admin'), target: { type: 'planet', id: 'x' }, extra: 1 },
        ],
      });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    const pointers = res.body.error.details.map((d: { pointer: string }) => d.pointer);
    expect(pointers).toEqual(
      expect.arrayContaining(['/commands/0/timeout', '/commands/1/target/type', '/commands/1/extra']),
    );
    expect(orders.size).toBe(0);
    expect(await requests.getRequest(1)).toBeUndefined();
  });

  it('malformed JSON is 400 VALIDATION_FAILED with pointer ""', async () => {
    const { app, orders } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .set('Content-Type', 'application/json')
      .send('{"commands": [');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'VALIDATION_FAILED',
        message: expect.any(String),
        details: [{ pointer: '', message: expect.any(String) }],
      },
    });
    expect(orders.size).toBe(0);
  });

  it('an empty body is 400, never a 500', async () => {
    const { app } = await world();
    const res = await request(app).post(`${P}/commands`).set('Authorization', basic('admin'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('413 when the body is larger than the limit', async () => {
    const { app, orders } = await world();
    const big = { commands: [{ ...groupCommand('admin'), user: 'x'.repeat(BODY_LIMIT_BYTES + 1) }] };
    const res = await request(app).post(`${P}/commands`).set('Authorization', basic('admin')).send(big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(orders.size).toBe(0);
  });

  it('413 (BATCH_TOO_LARGE) when there are more commands than configured', async () => {
    const { app } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('admin'))
      .send({ commands: Array.from({ length: 101 }, () => groupCommand('admin')) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('BATCH_TOO_LARGE');
  });

  it('422 FANOUT_EXCEEDED when a group is larger than the maximum fan-out; nothing written', async () => {
    const { app, orders } = await world({ agents: 11, maxFanOut: 10 });
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('FANOUT_EXCEEDED');
    expect(res.body.error.details[0].pointer).toBe('/commands/0/target/id');
    expect(orders.size).toBe(0);
  });

  it('422 NO_TARGET_RESOLVED when no target resolves', async () => {
    const { app, orders } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [{ ...groupCommand(), target: { type: 'agent', id: 'no-such-agent' } }] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('NO_TARGET_RESOLVED');
    expect(orders.size).toBe(0);
  });

  it('Idempotency-Key: a retry returns the first answer and writes nothing twice; another body is 409', async () => {
    const { app, orders } = await world({ agents: 2 });
    const send = (body: object) =>
      request(app)
        .post(`${P}/commands`)
        .set('Authorization', basic('wazuh-server'))
        .set('Idempotency-Key', 'k-1')
        .send(body);
    const first = await send({ commands: [groupCommand()] });
    const again = await send({ commands: [groupCommand()] });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(orders.size).toBe(2);
    const other = await send({ commands: [groupCommand('another')] });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(orders.size).toBe(2);
  });

  it('a malformed Idempotency-Key is 400 naming the header', async () => {
    const { app } = await world();
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .set('Idempotency-Key', 'has space')
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { pointer: '/headers/idempotency-key', message: expect.any(String) },
    ]);
  });

  it('a partial write is reported as PARTIAL_WRITE, not 201', async () => {
    const failing = new InMemoryOrderStore({
      rejectOrder: (o) => (o.command.order_id === 2 ? 'mapping conflict' : undefined),
    });
    const { app } = await world({ agents: 3, orders: failing });
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('PARTIAL_WRITE');
    expect(failing.size).toBe(2);
  });
});

describe('authentication and roles', () => {
  const submit = (app: Parameters<typeof request>[0], auth: string | undefined, body: unknown) => {
    const r = request(app).post(`${P}/commands`);
    if (auth) r.set('Authorization', auth);
    return r.send(body as object);
  };

  it('401 without credentials, with a bad password, an unknown user, a bad token or an unknown scheme', async () => {
    const { app, orders } = await world();
    for (const auth of [
      undefined,
      basic('admin', 'wrong'),
      `Basic ${Buffer.from('nobody:x').toString('base64')}`,
      bearer('nope'),
      'Digest abc',
      'Basic !!!',
    ]) {
      const res = await submit(app, auth, { commands: [groupCommand('admin')] });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toMatch(/Basic/);
    }
    expect(orders.size).toBe(0);
  });

  it('a bearer token authenticates as its principal', async () => {
    const { app, service } = await world();
    const res = await submit(app, bearer(TOKENS.engine), {
      commands: [{ ...groupCommand('engine-token'), source: 'Engine' }],
    });
    expect(res.status).toBe(201);
    expect((await service.getOrder('1-1')).order.scheduling.principal).toBe('engine-token');
  });

  it('403 when the role lacks the operation: read-only and comms cannot submit, nothing written', async () => {
    const { app, orders } = await world();
    for (const auth of [basic('reader'), basic('comms'), bearer(TOKENS.comms)]) {
      const res = await submit(app, auth, { commands: [groupCommand('admin')] });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expect(orders.size).toBe(0);
  });

  it('403 for a forged user or source, and for an action the role may not send; nothing written', async () => {
    const { app, orders } = await world();
    // The engine may not act for another user, nor claim another source.
    const forgedUser = await submit(app, basic('engine'), {
      commands: [{ ...groupCommand('admin'), source: 'Engine' }],
    });
    expect(forgedUser.status).toBe(403);
    expect(forgedUser.body.error.details).toEqual([
      { pointer: '/commands/0/user', message: expect.any(String) },
    ]);
    const forgedSource = await submit(app, basic('engine'), { commands: [groupCommand('engine')] });
    expect(forgedSource.status).toBe(403);
    expect(forgedSource.body.error.details[0].pointer).toBe('/commands/0/source');
    // Only the content manager may send `update`.
    const update = await submit(app, basic('wazuh-server'), {
      commands: [{ ...CONTENT_MANAGER_BODY.commands[0], source: 'Users/Services' }],
    });
    expect(update.status).toBe(403);
    expect(update.body.error.details[0].pointer).toBe('/commands/0/action/name');
    // The content manager may not send agent actions.
    const restart = await submit(app, basic('Content Manager'), {
      commands: [{ ...groupCommand('Content Manager'), source: 'Content Manager' }],
    });
    expect(restart.status).toBe(403);
    expect(orders.size).toBe(0);
  });

  it('failed logins are logged without the secret and rate-limited per client IP (429 + Retry-After)', async () => {
    const w = inMemoryWorld();
    const { app, logger } = await buildApp(
      w.service,
      {},
      { rateLimit: { maxFailures: 3, windowMs: 60_000 } },
    );
    for (let i = 0; i < 3; i++)
      expect((await submit(app, basic('admin', 'bad-password-xyz'), {})).status).toBe(401);
    const blocked = await submit(app, basic('admin'), { commands: [groupCommand('admin')] });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('RATE_LIMITED');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const failures = logger.lines.filter((l) => l.message === 'authentication failed');
    expect(failures).toHaveLength(3);
    expect(JSON.stringify(logger.lines)).not.toContain('bad-password-xyz');
    expect(failures[0]?.meta).toMatchObject({ user: 'admin', scheme: 'basic' });
    expect(w.orders.size).toBe(0);
  });
});

describe('reads', () => {
  async function seeded() {
    const w = await world({ agents: 3 });
    const res = await request(w.app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    expect(res.status).toBe(201);
    return w;
  }

  it('GET /requests/:id: counts per status, progress, done, rollout', async () => {
    const { app } = await seeded();
    const res = await request(app).get(`${P}/requests/1`).set('Authorization', basic('reader'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      request: { request_id: 1, principal: 'wazuh-server', total_orders: 3, write_state: 'complete' },
      counts: { pending: 3, sent: 0, success: 0, failure: 0 },
      progress: 0,
      done: false,
      rollout: { stopped: false, errors: 0 },
    });
  });

  it('GET /requests/:id: 404 unknown, 400 malformed id', async () => {
    const { app } = await seeded();
    expect((await request(app).get(`${P}/requests/99`).set('Authorization', basic('reader'))).status).toBe(
      404,
    );
    const bad = await request(app).get(`${P}/requests/abc`).set('Authorization', basic('reader'));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([{ pointer: '/params/id', message: expect.any(String) }]);
  });

  it('GET /orders/:id returns the order without the store revision', async () => {
    const { app } = await seeded();
    const res = await request(app).get(`${P}/orders/1-2`).set('Authorization', basic('reader'));
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['id', 'order']);
    expect(res.body.id).toBe('1-2');
    expect(res.body.order.command).toMatchObject({ request_id: 1, order_id: 2, status: 'pending' });
    expect((await request(app).get(`${P}/orders/1-9`).set('Authorization', basic('reader'))).status).toBe(
      404,
    );
    expect((await request(app).get(`${P}/orders/x`).set('Authorization', basic('reader'))).status).toBe(400);
  });

  it('GET /orders filters and pages by cursor', async () => {
    const { app } = await seeded();
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await request(app)
        .get(`${P}/orders`)
        .query({
          request_id: '1',
          status: 'pending,sent',
          target_type: 'agent',
          action: 'restart',
          source: 'users/services',
          size: '2',
          ...(cursor ? { cursor } : {}),
        })
        .set('Authorization', basic('reader'));
      expect(res.status).toBe(200);
      ids.push(...res.body.orders.map((o: { id: string }) => o.id));
      cursor = res.body.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(ids.sort()).toEqual(['1-1', '1-2', '1-3']);
    expect(pages).toBeGreaterThanOrEqual(2);
    const none = await request(app)
      .get(`${P}/orders`)
      .query({ status: 'success' })
      .set('Authorization', basic('reader'));
    expect(none.body).toEqual({ orders: [] });
  });

  it('GET /orders names every bad query parameter', async () => {
    const { app } = await seeded();
    const res = await request(app)
      .get(
        `${P}/orders?status=done&target_type=planet&size=100000&from=yesterday&request_id=-1&bogus=1&size=2`,
      )
      .set('Authorization', basic('reader'));
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { pointer: string }) => d.pointer).sort()).toEqual(
      [
        '/query/bogus',
        '/query/from',
        '/query/request_id',
        '/query/size',
        '/query/status',
        '/query/target_type',
      ].sort(),
    );
  });

  it('reads need the read operation: the comms and engine roles get 403', async () => {
    const { app } = await seeded();
    expect((await request(app).get(`${P}/orders/1-1`).set('Authorization', basic('comms'))).status).toBe(403);
    expect((await request(app).get(`${P}/requests/1`).set('Authorization', basic('engine'))).status).toBe(
      403,
    );
  });
});

describe('results and cancel', () => {
  async function sent() {
    const w = await world({ agents: 3 });
    await request(w.app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    // The scheduler's part: mark 1-1 and 1-2 sent.
    const now = new Date();
    const claimed = await w.orders.claimDue({ owner: 't', leaseMs: 60_000, limit: 2, now });
    await w.orders.writeConditional(
      claimed.map((s) => ({ id: s.id, rev: s.rev, order: markSent(s.order, now) })),
    );
    return w;
  }
  const result = (id: string, status = 'success') => ({
    id,
    status,
    result: { code: 0, message: 'ok', data: { x: 1 } },
  });

  it('bulk results: applied (a pending order may be on its way), conflict with the current status, unknown', async () => {
    const { app, service } = await sent();
    const res = await request(app)
      .post(`${P}/results`)
      .set('Authorization', basic('comms'))
      .send({ results: [result('1-1'), result('1-3'), result('1-1', 'failure'), result('9-9')] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { id: '1-1', outcome: 'applied', status: 'success' },
        { id: '1-3', outcome: 'applied', status: 'success' },
        { id: '1-1', outcome: 'conflict', status: 'success', message: expect.any(String) },
        { id: '9-9', outcome: 'unknown', message: expect.any(String) },
      ],
      applied: 2,
      conflict: 1,
      unknown: 1,
      invalid: 0,
    });
    expect((await service.getOrder('1-1')).order.command.status).toBe('success');
    const late = await request(app)
      .post(`${P}/results`)
      .set('Authorization', basic('comms'))
      .send({ results: [result('1-1', 'failure')] });
    expect(late.body.results[0]).toMatchObject({ outcome: 'conflict', status: 'success' });
  });

  it('single result: 200 applied, 409 already terminal, 404 unknown, 400 invalid', async () => {
    const { app } = await sent();
    const one = (id: string, body: unknown) =>
      request(app)
        .post(`${P}/orders/${id}/result`)
        .set('Authorization', bearer(TOKENS.comms))
        .send(body as object);
    const ok = await one('1-2', { status: 'failure', result: { code: 1, message: 'agent said no' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: '1-2', outcome: 'applied', status: 'failure' });
    const again = await one('1-2', { status: 'success', result: { code: 0, message: 'late' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_TRANSITION');
    expect(again.body.error.details).toEqual([{ pointer: '/status', message: 'the order is failure' }]);
    expect((await one('7-1', { status: 'success', result: { code: 0, message: 'x' } })).status).toBe(404);
    const invalid = await one('1-1', { status: 'done', result: {} });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((d: { pointer: string }) => d.pointer)).toEqual(
      expect.arrayContaining(['/status', '/result/code', '/result/message']),
    );
    expect(
      (await one('1-1', { id: '1-3', status: 'success', result: { code: 0, message: 'x' } })).status,
    ).toBe(400);
  });

  it('only the results operation may report: management-api gets 403', async () => {
    const { app } = await sent();
    const res = await request(app)
      .post(`${P}/results`)
      .set('Authorization', basic('wazuh-server'))
      .send({ results: [result('1-1')] });
    expect(res.status).toBe(403);
  });

  it('cancel fails the pending orders with a cancelled result and says how many', async () => {
    const { app, service } = await sent();
    const res = await request(app).post(`${P}/requests/1/cancel`).set('Authorization', basic('wazuh-server'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ request_id: 1, cancelled: 1, in_flight: 0 });
    const order = (await service.getOrder('1-3')).order;
    expect(order.command.status).toBe('failure');
    expect(order.command.result?.message).toMatch(/cancel/);
    expect(
      (await request(app).post(`${P}/requests/42/cancel`).set('Authorization', basic('wazuh-server'))).status,
    ).toBe(404);
    expect(
      (await request(app).post(`${P}/requests/1/cancel`).set('Authorization', basic('reader'))).status,
    ).toBe(403);
  });
});

describe('operations endpoints', () => {
  it('/health needs no authentication', async () => {
    const { app } = await world();
    const res = await request(app).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/ready answers 200 when ready, 503 naming the failed checks when not, 503 when the check throws', async () => {
    const w = inMemoryWorld();
    const ready = await buildApp(w.service);
    expect((await request(ready.app).get('/ready')).body).toEqual({
      ready: true,
      checks: { opensearch: true, templates: true },
    });
    const notReady = await buildApp(w.service, {
      readiness: async () => ({ ready: false, checks: { opensearch: true, templates: false } }),
    });
    const res = await request(notReady.app).get('/ready');
    expect(res.status).toBe(503);
    expect(res.body.error.details).toEqual([{ pointer: '/checks/templates', message: 'failed' }]);
    const throwing = await buildApp(w.service, { readiness: () => Promise.reject(new Error('boom')) });
    expect((await request(throwing.app).get('/ready')).status).toBe(503);
  });

  it('/metrics: requests by route and status, orders written, latency histogram; needs the metrics operation', async () => {
    const { app } = await world({ agents: 2 });
    await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('wazuh-server'))
      .send({ commands: [groupCommand()] });
    await request(app).get(`${P}/orders/1-77`).set('Authorization', basic('reader'));
    expect((await request(app).get('/metrics').set('Authorization', basic('reader'))).status).toBe(403);
    const res = await request(app).get('/metrics').set('Authorization', basic('admin'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toContain(
      'http_requests_total{method="POST",route="/_plugins/_command_manager/commands",status="201"} 1',
    );
    expect(res.text).toContain(
      'http_requests_total{method="GET",route="/_plugins/_command_manager/orders/:id",status="404"} 1',
    );
    expect(res.text).toContain('command_manager_orders_written_total 2');
    expect(res.text).toMatch(/http_request_duration_seconds_bucket\{le="[^"]+",method="POST"/);
  });

  it('/metrics can be public; two apps never share a registry', async () => {
    const w = inMemoryWorld();
    const a = await buildApp(w.service, { publicMetrics: true });
    const b = await buildApp(w.service, { publicMetrics: true });
    await request(a.app).get('/health');
    const metricsB = await request(b.app).get('/metrics');
    expect(metricsB.status).toBe(200);
    expect(metricsB.text).not.toContain('route="/health"');
    expect((await request(a.app).get('/metrics')).text).toContain('route="/health"');
  });
});
