import type { Order, StoredOrder } from '@command-manager/core';
import { ManagementApiClient } from '@command-manager/scheduler';
import { startManagementApi } from '../src';
import type { AcceptedOrder, ManagementApiHandle, ManagementApiOptions } from '../src';

/** A stored order as the scheduler would deliver it. */
function stored(
  requestId: number,
  orderId: number,
  target: { type: 'agent' | 'server' | 'group'; id: string },
): StoredOrder {
  const order: Order = {
    '@timestamp': new Date().toISOString(),
    delivery_timestamp: '2100-01-01T00:00:00.000Z',
    agent: { groups: [] },
    command: {
      source: 'Users/Services',
      user: 'wazuh',
      target,
      action: { name: 'restart', args: {} },
      timeout: 3600,
      status: 'pending',
      request_id: requestId,
      order_id: orderId,
    },
    scheduling: { principal: 'wazuh', attempts: 0, next_attempt_at: new Date().toISOString() },
  };
  return { id: `${requestId}-${orderId}`, rev: '1', order };
}

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function start(
  options: ManagementApiOptions = {},
): Promise<{ api: ManagementApiHandle; forwarded: AcceptedOrder[] }> {
  const forwarded: AcceptedOrder[] = [];
  const api = await startManagementApi({ forward: (orders) => void forwarded.push(...orders), ...options });
  open.push(api);
  return { api, forwarded };
}

function client(
  url: string,
  auth?: ConstructorParameters<typeof ManagementApiClient>[0]['auth'],
): ManagementApiClient {
  const c = new ManagementApiClient({ managementApiUrl: url, ...(auth ? { auth } : {}) });
  open.push(c);
  return c;
}

interface WazuhAnswer {
  data?: {
    token?: string;
    affected_items?: string[];
    failed_items?: Array<{ error: { code: number; message: string }; id: string[] }>;
  };
  error?: number;
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: WazuhAnswer }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as WazuhAnswer };
}

describe('reference Management API', () => {
  it('accepts or refuses each order, as the scheduler client reads it, and forwards only accepted ones', async () => {
    const { api, forwarded } = await start({ isKnownAgent: (id) => id !== 'agent-999999' });
    const verdicts = await client(api.url).deliver([
      stored(7, 1, { type: 'agent', id: 'agent-000001' }),
      stored(7, 2, { type: 'agent', id: 'agent-999999' }),
      stored(8, 1, { type: 'server', id: 'vulnerability-detector' }),
    ]);

    expect(Object.fromEntries(verdicts)).toEqual({
      '7-1': { kind: 'accepted' },
      '7-2': { kind: 'rejected', reason: 'Agent does not exist' },
      '8-1': { kind: 'accepted' },
    });
    expect(forwarded.map((o) => [o.document_id, o.target.id, o.action.name])).toEqual([
      ['7-1', 'agent-000001', 'restart'],
      ['8-1', 'vulnerability-detector', 'restart'],
    ]);
    expect(api.received).toEqual(['7-1', '8-1']);
    expect(api.rejected).toEqual([{ id: '7-2', code: 1701, message: 'Agent does not exist' }]);
  });

  it('answers in the Wazuh shape, grouping refusals by error, and names bad orders', async () => {
    const { api } = await start();
    const good = {
      document_id: '1-1',
      target: { type: 'agent', id: 'a' },
      action: { name: 'restart', args: {} },
      timeout: 60,
    };
    const answer = await post(`${api.url}/accept_commands`, {
      orders: [
        good,
        { ...good, document_id: '1-2', target: { type: 'group', id: 'default' } },
        { ...good, document_id: '1-3', timeout: -1 },
        { ...good, document_id: '1-4', target: { type: 'group', id: 'other' } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      data: { affected_items: ['1-1'], total_affected_items: 1, total_failed_items: 3 },
      error: 2,
    });
    const failed = answer.body.data?.failed_items ?? [];
    expect(failed.map((f) => [f.error.code, f.id])).toEqual([
      [1001, ['1-2', '1-4']],
      [1000, ['1-3']],
    ]);
    expect(failed[1]?.error.message).toContain('timeout');

    expect((await post(`${api.url}/accept_commands`, { commands: [] })).status).toBe(400);
  });

  it('acknowledges a re-delivered order again without forwarding it twice', async () => {
    const { api, forwarded } = await start();
    const c = client(api.url);
    const order = stored(3, 1, { type: 'agent', id: 'agent-000003' });
    await c.deliver([order]);
    const again = await c.deliver([order]);
    expect(again.get('3-1')).toEqual({ kind: 'accepted' });
    expect(forwarded).toHaveLength(1);
    expect(api.received).toEqual(['3-1']);
  });

  it("supports Wazuh's JWT flow and refuses calls without valid credentials", async () => {
    let nowMs = Date.parse('2030-01-01T00:00:00Z');
    const { api } = await start({
      credentials: { username: 'wazuh', password: 'pw' },
      tokenTtlMs: 900_000,
      now: () => new Date(nowMs),
    });
    const ok = await client(api.url, { type: 'jwt', username: 'wazuh', password: 'pw' }).deliver([
      stored(1, 1, { type: 'agent', id: 'a' }),
    ]);
    expect(ok.get('1-1')).toEqual({ kind: 'accepted' });

    const bad = await client(api.url, { type: 'jwt', username: 'wazuh', password: 'wrong' }).deliver([
      stored(1, 2, { type: 'agent', id: 'a' }),
    ]);
    // A refused credential halts dispatch (the orders stay pending), it does not fail the orders.
    expect(bad.get('1-2')).toMatchObject({ kind: 'halted' });
    expect((await post(`${api.url}/accept_commands`, { orders: [] })).status).toBe(401);

    const basic = Buffer.from('wazuh:pw').toString('base64');
    const login = await post(`${api.url}/security/user/authenticate`, undefined, {
      authorization: `Basic ${basic}`,
    });
    const token = login.body.data?.token ?? '';
    expect(token.split('.')).toHaveLength(3);
    expect(
      (await post(`${api.url}/accept_commands`, { orders: [] }, { authorization: `Bearer ${token}` })).status,
    ).toBe(200);
    nowMs += 900_001; // the token has expired
    expect(
      (await post(`${api.url}/accept_commands`, { orders: [] }, { authorization: `Bearer ${token}` })).status,
    ).toBe(401);
    expect(
      (await post(`${api.url}/accept_commands`, { orders: [] }, { authorization: `Basic ${basic}` })).status,
    ).toBe(200);
  });

  it('accepts a static bearer token', async () => {
    const { api } = await start({ bearerTokens: ['s3cret'] });
    const verdicts = await client(api.url, { type: 'bearer', token: 's3cret' }).deliver([
      stored(1, 1, { type: 'agent', id: 'a' }),
    ]);
    expect(verdicts.get('1-1')).toEqual({ kind: 'accepted' });
    const wrong = await client(api.url, { type: 'bearer', token: 'nope' }).deliver([
      stored(1, 2, { type: 'agent', id: 'a' }),
    ]);
    expect(wrong.get('1-2')).toMatchObject({ kind: 'halted' });
  });

  it('injects 503 with Retry-After, which the scheduler retries, and refuses a share of orders', async () => {
    const failing = await start({ failShare: 1 });
    const verdicts = await client(failing.api.url).deliver([stored(1, 1, { type: 'agent', id: 'a' })]);
    expect(verdicts.get('1-1')).toMatchObject({ kind: 'retry', retryAfterMs: 1000 });
    expect(failing.forwarded).toHaveLength(0);

    const refusing = await start({ rejectShare: 1 });
    const refused = await client(refusing.api.url).deliver([stored(1, 1, { type: 'agent', id: 'a' })]);
    expect(refused.get('1-1')).toEqual({ kind: 'rejected', reason: 'Refused (injected failure)' });
  });

  it('answers 503 and forwards nothing when the Comms API is down, so the batch is delivered again', async () => {
    const { api } = await start({
      forward: () => {
        throw new Error('down');
      },
    });
    const verdicts = await client(api.url).deliver([stored(1, 1, { type: 'agent', id: 'a' })]);
    expect(verdicts.get('1-1')).toMatchObject({ kind: 'retry' });
    expect(api.received).toEqual([]);
  });
});
