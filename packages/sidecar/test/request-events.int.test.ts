import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEventStream, type ServerSentEvent } from '@command-manager/express';
import { killLeftovers, runCli, startCli, startServe, type RunningCli } from './support/cli-process';
import { callApi, createFixture, eventually, submitRestart, type Fixture } from './support/fixture';
import { startStubManagementApi, type StubManagementApi } from './support/stub-management-api';

// Progress events across two sidecars on one orders index: submitted on A (which dispatches), followed on B
// (which does not dispatch), resumed on A after B's last event id, and `status --watch` on them.

const API = '/_plugins/_command_manager';
const MANAGEMENT_TOKEN = 'mgmt-token-5e1f7a3c9d';

let fx: Fixture;
let stub: StubManagementApi;
let a: RunningCli & { url: string };
let b: RunningCli & { url: string };

interface Progress {
  counts: { pending: number; sent: number; success: number; failure: number };
  done: boolean;
}

beforeAll(async () => {
  fx = await createFixture(__filename, { web: ['web-001', 'web-002', 'web-003'] });
  stub = await startStubManagementApi({ token: MANAGEMENT_TOKEN });
  const shared = { ...fx.env, CM_ORDERS_INDEX: `${fx.prefix}orders`, CM_EVENTS_INTERVAL_MS: '100' };
  a = await startServe({
    ...shared,
    CM_NODE_ID: 'sidecar-a',
    CM_MANAGEMENT_API_URL: stub.url,
    CM_MANAGEMENT_API_AUTH: 'bearer',
    CM_MANAGEMENT_API_TOKEN: MANAGEMENT_TOKEN,
  });
  b = await startServe({ ...shared, CM_NODE_ID: 'sidecar-b', CM_SCHEDULER_ENABLED: 'false' });
});

afterAll(async () => {
  await killLeftovers();
  await stub.close();
  await fx.cleanup();
});

/** Opens a request's event stream with the admin token; `next` is undefined once the stream closed. */
async function events(
  baseUrl: string,
  requestId: number,
  lastEventId?: string,
): Promise<{ status: number; next(): Promise<ServerSentEvent | undefined>; close(): void }> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}${API}/requests/${requestId}/events`, {
    headers: {
      authorization: `Bearer ${fx.adminToken}`,
      ...(lastEventId !== undefined && { 'last-event-id': lastEventId }),
    },
    signal: abort.signal,
  });
  if (!res.body) throw new Error('no body');
  const parsed = parseEventStream(res.body);
  return {
    status: res.status,
    next: async () => {
      try {
        const r = await parsed.next();
        return r.done ? undefined : r.value;
      } catch (e) {
        if (abort.signal.aborted) return undefined;
        throw e;
      }
    },
    close: () => abort.abort(),
  };
}

async function submitSent(): Promise<number> {
  const submitted = await submitRestart(a.url, fx.adminToken, { type: 'group', id: 'web' });
  expect(submitted.status).toBe(201);
  const requestId = submitted.body.commands[0]?.request_id ?? 0;
  await eventually(
    () => callApi<Progress>(a.url, fx.adminToken, 'GET', `${API}/requests/${requestId}`),
    (res) => res.status === 200 && res.body.counts.sent === 3,
  );
  return requestId;
}

async function report(requestId: number, orders: number[]): Promise<void> {
  const res = await callApi<{ applied: number }>(a.url, fx.commsToken, 'POST', `${API}/results`, {
    results: orders.map((n) => ({
      id: `${requestId}-${n}`,
      status: 'success',
      result: { code: 0, message: 'ok', data: {} },
    })),
  });
  expect(res.body.applied).toBe(orders.length);
}

describe('progress events across sidecars', () => {
  it('a request submitted on A is followed on B: the GET body, each change, the end, then the close', async () => {
    const requestId = await submitSent();
    const stream = await events(b.url, requestId);
    expect(stream.status).toBe(200);
    const first = await stream.next();
    const onB = await callApi<Progress>(b.url, fx.adminToken, 'GET', `${API}/requests/${requestId}`);
    expect(first).toEqual({ id: '1', event: 'progress', data: JSON.stringify(onB.body) });

    await report(requestId, [1]);
    const second = await stream.next();
    expect(second?.id).toBe('2');
    expect(second?.event).toBe('progress');
    expect((JSON.parse(second?.data ?? '') as Progress).counts).toMatchObject({ sent: 2, success: 1 });

    await report(requestId, [2, 3]);
    // Changes closer together than the reading interval may come as one event: read up to the end.
    let last = await stream.next();
    while (last?.event === 'progress') last = await stream.next();
    expect(last?.event).toBe('end');
    expect(Number(last?.id)).toBeGreaterThan(2);
    const final = await callApi<Progress>(a.url, fx.adminToken, 'GET', `${API}/requests/${requestId}`);
    expect(final.body.done).toBe(true);
    expect(last?.data).toBe(JSON.stringify(final.body));
    expect(await stream.next()).toBeUndefined();
  });

  it('a stream left on B resumes on A after its last event id, with the current state at once', async () => {
    const requestId = await submitSent();
    const onB = await events(b.url, requestId);
    const seen = await onB.next();
    expect(seen?.id).toBe('1');
    onB.close();
    await report(requestId, [1]);
    const onA = await events(a.url, requestId, seen?.id);
    const resumed = await onA.next();
    expect(resumed).toMatchObject({ id: '2', event: 'progress' });
    // The report may reach the counts a reading later: ids keep increasing until it shows.
    let current = resumed;
    let previousId = 2;
    while ((JSON.parse(current?.data ?? '{}') as Progress).counts.success !== 1) {
      current = await onA.next();
      expect(Number(current?.id)).toBe(++previousId);
    }
    expect((JSON.parse(current?.data ?? '') as Progress).counts).toMatchObject({ sent: 2, success: 1 });
    onA.close();
    await report(requestId, [2, 3]);
  });

  it('status --watch on B follows the events to the end and exits 0', async () => {
    const requestId = await submitSent();
    const watch = startCli(['status', String(requestId), '--watch'], {
      CM_API_URL: b.url,
      CM_API_TOKEN: fx.adminToken,
    });
    await watch.waitFor(/sent 3 success 0 failure 0\n/, 'stdout');
    await report(requestId, [1, 2, 3]);
    expect(await watch.exited).toBe(0);
    const lines = watch.stdout().trim().split('\n');
    expect(lines[lines.length - 1]).toContain('pending 0 sent 0 success 3 failure 0 done');
  });

  it('status --watch polls a server that answers the event stream 404', async () => {
    // A server without event streams: GET /requests/:id answers a finished request after two readings.
    let readings = 0;
    const old = http.createServer((req, res) => {
      if (req.url?.endsWith('/events')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such route', details: [] } }));
        return;
      }
      readings++;
      const done = readings >= 2;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          request: { request_id: 9, total_orders: 1, created_at: new Date().toISOString() },
          counts: { pending: done ? 0 : 1, sent: 0, success: done ? 1 : 0, failure: 0 },
          progress: done ? 1 : 0,
          done,
          rollout: { stopped: false },
        }),
      );
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(old.address() as AddressInfo).port}`;
      const result = await runCli([
        'status',
        '9',
        '--watch',
        '--interval-ms',
        '20',
        '--url',
        url,
        '--token',
        'x',
      ]);
      expect(result.code).toBe(0);
      expect(readings).toBe(2);
      expect(result.stdout.trim().split('\n')).toHaveLength(2);
    } finally {
      await new Promise<void>((resolve) => old.close(() => resolve()));
    }
  });

  it('a stopping sidecar ends its open streams (no end event) and exits', async () => {
    const requestId = await submitSent();
    const stream = await events(b.url, requestId);
    expect((await stream.next())?.event).toBe('progress');
    b.signal('SIGTERM');
    expect(await stream.next()).toBeUndefined();
    expect(await b.exited).toBe(0);
  });
});
