import { FakeCommandManager } from '@command-manager-examples/support';
import { startCommsApi } from '../src';
import type { CommsApiHandle, CommsApiOptions, QueuedOrder } from '../src';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function start(options: CommsApiOptions = {}): Promise<CommsApiHandle> {
  const comms = await startCommsApi(options);
  open.push(comms);
  return comms;
}

function order(id: string, agent: string, deadline = '2100-01-01T00:00:00.000Z'): QueuedOrder {
  return {
    document_id: id,
    target: { type: 'agent', id: agent },
    action: { name: 'restart', args: {} },
    deadline,
  };
}

interface Answer {
  status: number;
  body: { orders?: QueuedOrder[]; details?: string[]; [key: string]: unknown };
}

async function getJson(url: string): Promise<Answer> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

function ids(answer: Answer): string[] | undefined {
  return answer.body.orders?.map((o) => o.document_id);
}

describe('reference Comms API', () => {
  it('holds a long poll until an order for that agent arrives', async () => {
    const comms = await start();
    const polling = getJson(`${comms.url}/commands?agent_id=agent-000001&wait_ms=60000`);
    while (comms.stats().held < 1) await new Promise((resolve) => setImmediate(resolve));
    // Another agent's order does not answer this poll.
    comms.enqueue([order('1-2', 'agent-000002')]);
    comms.enqueue([order('1-1', 'agent-000001')]);
    const answer = await polling;
    expect(answer.status).toBe(200);
    expect(ids(answer)).toEqual(['1-1']);
    expect(comms.stats()).toMatchObject({ delivered: 1, queued: 1 });
  });

  it('returns queued orders at once, at most maxOrdersPerPoll, oldest first, skipping expired ones', async () => {
    const comms = await start({ maxOrdersPerPoll: 2 });
    comms.enqueue([
      order('1-1', 'a', '2000-01-01T00:00:00.000Z'),
      order('1-2', 'a'),
      order('1-3', 'a'),
      order('1-4', 'a'),
    ]);
    const first = await getJson(`${comms.url}/commands?agent_id=a`);
    const second = await getJson(`${comms.url}/commands?agent_id=a`);
    const third = await getJson(`${comms.url}/commands?agent_id=a&wait_ms=0`);
    expect(ids(first)).toEqual(['1-2', '1-3']);
    expect(ids(second)).toEqual(['1-4']);
    expect(third.body.orders).toEqual([]);
    expect((await getJson(`${comms.url}/commands`)).status).toBe(400);
  });

  it('takes orders from the Management API over HTTP, with its token', async () => {
    const comms = await start({ internalToken: 'internal' });
    const denied = await postJson(`${comms.url}/internal/orders`, { orders: [order('1-1', 'a')] });
    expect(denied.status).toBe(401);
    const ok = await postJson(
      `${comms.url}/internal/orders`,
      { orders: [order('1-1', 'a')] },
      { authorization: 'Bearer internal' },
    );
    expect(ok).toEqual({ status: 202, body: { queued: 1 } });
    expect(
      (await postJson(`${comms.url}/internal/orders`, { orders: [{}] }, { authorization: 'Bearer internal' }))
        .status,
    ).toBe(400);
    expect((await getJson(`${comms.url}/commands?agent_id=a`)).body.orders).toHaveLength(1);
  });

  it('forwards results in bulk with the bearer token, retrying when the command manager answers 503', async () => {
    const cm = await FakeCommandManager.start([503]);
    open.push(cm);
    const comms = await start({ commandManager: { url: cm.url, token: 'comms-token' }, retryDelayMs: 10 });
    const results = [
      { id: '1-1', status: 'success', result: { code: 0, message: 'done' } },
      { id: '1-2', status: 'failure', result: { code: 1, message: 'failed', data: { why: 'disk' } } },
    ];
    expect(await postJson(`${comms.url}/results`, { results })).toEqual({
      status: 202,
      body: { accepted: 2 },
    });
    await cm.waitForResults(2);
    await comms.flushResults(); // the call in flight has been answered
    expect(cm.calls).toHaveLength(1);
    expect(cm.calls[0]).toEqual({ authorization: 'Bearer comms-token', results });
    expect(comms.stats()).toMatchObject({ received: 2, forwarded: 2, applied: 2, pending: 0, dropped: 0 });
  });

  it('refuses malformed results, naming each bad field, and forwards none of them', async () => {
    const cm = await FakeCommandManager.start();
    open.push(cm);
    const comms = await start({ commandManager: { url: cm.url, username: 'comms', password: 'pw' } });
    const answer = await postJson(`${comms.url}/results`, {
      results: [
        { id: '1-1', status: 'success', result: { code: 0, message: 'ok' } },
        { id: '', status: 'done', result: { code: 1.5 } },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.details).toEqual([
      '/results/1/id: must be a non-empty string',
      '/results/1/status: must be "success" or "failure"',
      '/results/1/result/code: must be an integer',
      '/results/1/result/message: must be a string',
    ]);
    // A single result (not wrapped) is accepted too; it goes with Basic credentials.
    expect(
      (
        await postJson(`${comms.url}/results`, {
          id: '1-3',
          status: 'success',
          result: { code: 0, message: 'ok' },
        })
      ).status,
    ).toBe(202);
    await comms.flushResults();
    expect(cm.received.map((r) => r.id)).toEqual(['1-3']);
    expect(cm.calls[0]?.authorization).toBe(`Basic ${Buffer.from('comms:pw').toString('base64')}`);
  });

  it('answers held polls with no orders when it closes', async () => {
    const comms = await startCommsApi();
    const polling = getJson(`${comms.url}/commands?agent_id=a&wait_ms=60000`);
    while (comms.stats().held < 1) await new Promise((resolve) => setImmediate(resolve));
    const closed = comms.close();
    const answer = await polling;
    await closed;
    expect(answer).toEqual({ status: 200, body: { orders: [] } });
    expect(comms.stats().held).toBe(0);
  });
});
