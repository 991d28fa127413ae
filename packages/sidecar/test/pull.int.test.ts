import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { promtoolCheckMetrics, promtoolMissing } from '@command-manager/test-support';
import { killLeftovers, runCli, startCli, startServe } from './support/cli-process';
import { callApi, createFixture, eventually, submitRestart, type Fixture } from './support/fixture';

// `command-manager serve` with `scheduler.delivery` = pull, as a real process against OPENSEARCH_URL: a
// server claims orders over HTTP, acknowledges them, and the orders' lifecycle rules still hold.

const API = '/_plugins/_command_manager';
let fx: Fixture;
let serverToken: string;
let usersFile: string;

beforeAll(async () => {
  fx = await createFixture(__filename, { web: ['agent-001', 'agent-002', 'agent-003'] });
  // A users file with the built-in `wazuh-server` role beside the fixture's admin and comms.
  serverToken = generateApiToken();
  usersFile = path.join(fx.tmp, 'users-pull.json');
  writeFileSync(
    usersFile,
    JSON.stringify({
      tokens: [
        { name: 'admin', token_sha256: hashApiToken(fx.adminToken), roles: ['admin'] },
        { name: 'comms', token_sha256: hashApiToken(fx.commsToken), roles: ['comms'] },
        { name: 'server-1', token_sha256: hashApiToken(serverToken), roles: ['wazuh-server'] },
      ],
    }),
    { mode: 0o600 },
  );
});

afterEach(async () => {
  await killLeftovers();
});

afterAll(async () => {
  await fx.cleanup();
});

interface ClaimBody {
  orders: Array<{ id: string; order: { command: { status: string; target: { id: string } } } }>;
  lease_expires_at?: string;
}
interface AckBody {
  results: Array<{ id: string; outcome: string; status?: string }>;
  applied: number;
}

function pullEnv(index: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...fx.env,
    CM_USERS_FILE: usersFile,
    CM_ORDERS_INDEX: `${fx.prefix}${index}`,
    CM_DELIVERY: 'pull',
    ...extra,
  };
}

async function submit(url: string, target: { type: string; id: string }, extra = {}): Promise<number> {
  const res = await submitRestart(url, fx.adminToken, target, extra);
  expect(res.status).toBe(201);
  return res.body.commands[0]?.request_id ?? 0;
}

/** Waits until the sidecar at `url` holds one long-poll waiter (its metrics say so). */
function oneWaiter(url: string): Promise<string> {
  return eventually(
    () =>
      fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${fx.adminToken}` } }).then((r) =>
        r.text(),
      ),
    (text) => /scheduler_pull_waiters 1\b/.test(text),
    10_000,
  );
}

describe('pull delivery (scheduler.delivery = pull)', () => {
  it('a server long-polls, is answered when an order is submitted, acks it, and reports its result', async () => {
    const serve = await startServe(pullEnv('flow', { CM_POLL_INTERVAL_MS: '30000' }));
    expect(serve.stderr()).not.toContain('scheduler.managementApiUrl is not set');

    // Nothing due: the long-poll waits; the submission on this sidecar wakes it (the poll interval is 30 s).
    const claim = callApi<ClaimBody>(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'server-1',
      size: 10,
      lease_ms: 30_000,
      wait_ms: 20_000,
    });
    await oneWaiter(serve.url);
    const submittedAt = performance.now();
    const requestId = await submit(serve.url, { type: 'group', id: 'web' });
    // The submission is stored (and the waiting claim woken) before its answer: measured from the answer, the
    // claim's own answer trails it by the claim-by-id round trip alone. The poll interval (30 s) rules out a
    // claim answered by its periodic search.
    const submitAnsweredAt = performance.now();
    const answer = await claim;
    const answeredAt = performance.now();
    expect(answer.status).toBe(200);
    expect(answer.body.orders.map((o) => o.id).sort()).toEqual(
      [1, 2, 3].map((i) => `${requestId}-${i}`).sort(),
    );
    expect(answeredAt - submitAnsweredAt).toBeLessThan(1000);
    process.stdout.write(
      `long-poll answered ${(answeredAt - submittedAt).toFixed(0)} ms after the submit call started, ` +
        `${(answeredAt - submitAnsweredAt).toFixed(0)} ms after its answer\n`,
    );

    const ids = answer.body.orders.map((o) => o.id);
    const ack = await callApi<AckBody>(serve.url, serverToken, 'POST', `${API}/orders/_ack`, {
      consumer: 'server-1',
      orders: ids,
    });
    expect(ack.status).toBe(200);
    expect(ack.body.applied).toBe(3);
    const report = await callApi<{ applied: number }>(serve.url, fx.commsToken, 'POST', `${API}/results`, {
      results: ids.map((id) => ({ id, status: 'success', result: { code: 0, message: 'ok' } })),
    });
    expect(report.body.applied).toBe(3);
    // Results are written without a forced refresh: progress (a search) shows them within a refresh interval.
    let progress = { body: { counts: { success: 0 }, done: false } };
    for (let i = 0; i < 50 && !progress.body.done; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      progress = await callApi<{ counts: { success: number }; done: boolean }>(
        serve.url,
        serverToken,
        'GET',
        `${API}/requests/${requestId}`,
      );
    }
    expect(progress.body).toMatchObject({ counts: { success: 3 }, done: true });

    const metrics = await (
      await fetch(`${serve.url}/metrics`, { headers: { authorization: `Bearer ${fx.adminToken}` } })
    ).text();
    expect(metrics).toMatch(/scheduler_pull_acks_total\{outcome="applied"\} 3/);
    expect(metrics).toMatch(/scheduler_pull_orders_claimed_total 3/);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(metrics).toContain(
      'command_manager_requests_submitted_total{source="Users/Services",action="restart",target_type="group"} 1',
    );
    // Prometheus's own linter finds nothing to say about the real process's scrape.
    if (promtoolMissing() === undefined) expect(await promtoolCheckMetrics(metrics)).toEqual([]);

    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('validates every input with the error body, bounds waiters, and checks the role', async () => {
    const serve = await startServe(pullEnv('bounds', { CM_MAX_CLAIM_WAITERS: '1' }));
    const bad = await callApi<{ error: { code: string; details: Array<{ pointer: string }> } }>(
      serve.url,
      serverToken,
      'POST',
      `${API}/orders/_claim`,
      { consumer: 'bad id!', size: 0, lease_ms: 10, wait_ms: 60_001, target: { type: 'agent' }, extra: 1 },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.details.map((d) => d.pointer).sort()).toEqual(
      ['/consumer', '/extra', '/lease_ms', '/size', '/target/id', '/wait_ms'].sort(),
    );
    const tooMany = await callApi<{ error: { code: string } }>(
      serve.url,
      serverToken,
      'POST',
      `${API}/orders/_ack`,
      {
        consumer: 'server-1',
        orders: Array.from({ length: 1001 }, (_, i) => `1-${i + 1}`),
      },
    );
    expect(tooMany.status).toBe(400);
    const longId = await callApi(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'x'.repeat(129),
    });
    expect(longId.status).toBe(400);

    // The comms role may not claim.
    const forbidden = await callApi(serve.url, fx.commsToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'comms',
    });
    expect(forbidden.status).toBe(403);

    // One waiter allowed: the second long-poll is refused with 503 and Retry-After.
    const first = callApi<ClaimBody>(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'server-1',
      wait_ms: 3000,
    });
    await oneWaiter(serve.url);
    const second = await fetch(`${serve.url}${API}/orders/_claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serverToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ consumer: 'server-2', wait_ms: 3000 }),
    });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_WAITERS');
    expect((await first).body.orders).toEqual([]);
  });

  it('cancel still applies: a pending order is cancelled, a claimed one is in flight and left to its ack; the CLI claims and acks', async () => {
    const serve = await startServe(pullEnv('cancel'));
    const requestId = await submit(serve.url, { type: 'agent', id: 'agent-001' });
    const claimed = await callApi<ClaimBody>(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'server-1',
      target: { type: 'agent', id: 'agent-001' },
      // A just-written order is searchable after the next refresh (1 s at most): a consumer waits for it.
      wait_ms: 5000,
    });
    expect(claimed.body.orders.map((o) => o.id)).toEqual([`${requestId}-1`]);
    // The claimed order is leased to its consumer: in flight, so cancel leaves it to the consumer's ack.
    const cancelClaimed = await callApi<{ cancelled: number; in_flight: number }>(
      serve.url,
      fx.adminToken,
      'POST',
      `${API}/requests/${requestId}/cancel`,
    );
    expect(cancelClaimed.body).toMatchObject({ cancelled: 0, in_flight: 1 });
    const ack = await callApi<AckBody>(serve.url, serverToken, 'POST', `${API}/orders/_ack`, {
      consumer: 'server-1',
      orders: [`${requestId}-1`],
    });
    expect(ack.body.results).toEqual([expect.objectContaining({ outcome: 'applied' })]);

    // A pending order that nobody claimed is cancelled, and no consumer receives it afterwards.
    const cancelledId = await submit(serve.url, { type: 'agent', id: 'agent-002' });
    const cancelPending = await callApi<{ cancelled: number; in_flight: number }>(
      serve.url,
      fx.adminToken,
      'POST',
      `${API}/requests/${cancelledId}/cancel`,
    );
    expect(cancelPending.body).toMatchObject({ cancelled: 1, in_flight: 0 });
    const none = await callApi<ClaimBody>(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
      consumer: 'server-1',
      target: { type: 'agent', id: 'agent-002' },
      wait_ms: 1500,
    });
    expect(none.body.orders).toEqual([]);

    // The operator's CLI: claims (long-polling) and acks.
    const next = await submit(serve.url, { type: 'agent', id: 'agent-002' });
    const cli = await runCli(
      [
        'claim',
        '--consumer',
        'operator',
        '--wait-ms',
        '5000',
        '--ack',
        '--url',
        serve.url,
        '--token',
        serverToken,
      ],
      {},
    );
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`${next}-1\tagent:agent-002\trestart`);
    expect(cli.stdout).toContain('applied');
    const order = await callApi<{ order: { command: { status: string } } }>(
      serve.url,
      serverToken,
      'GET',
      `${API}/orders/${next}-1`,
    );
    expect(order.body.order.command.status).toBe('sent');
  });

  it('a claim answers an order whose args are exactly scheduler.deliveryMaxBytes (= limits.maxArgsBytes)', async () => {
    const bound = 4096;
    // `{"blob":"x…x"}`: 11 bytes of JSON around the string.
    const args = { blob: 'x'.repeat(bound - 11) };
    expect(Buffer.byteLength(JSON.stringify(args))).toBe(bound);
    const serve = await startServe(
      pullEnv('argsbound', {
        CM_ACTIONS_PERMISSIVE: 'true',
        CM_MAX_ARGS_BYTES: String(bound),
        CM_DISPATCH_MAX_BYTES: String(bound),
      }),
    );
    const requestId = await submit(
      serve.url,
      { type: 'agent', id: 'agent-002' },
      { action: { name: 'custom-blob', args } },
    );
    const claimed = await callApi<ClaimBody & { orders: Array<{ order: { command: { action: unknown } } }> }>(
      serve.url,
      serverToken,
      'POST',
      `${API}/orders/_claim`,
      { consumer: 'server-1', target: { type: 'agent', id: 'agent-002' }, wait_ms: 5000 },
    );
    expect(claimed.status).toBe(200);
    expect(claimed.body.orders.map((o) => o.id)).toEqual([`${requestId}-1`]);
    expect(claimed.body.orders[0]?.order.command.action).toEqual({ name: 'custom-blob', args });
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('a push sidecar answers the pull routes 404, naming the setting', async () => {
    const serve = await startServe({ ...pullEnv('push'), CM_DELIVERY: 'push' });
    const res = await callApi<{ error: { code: string; message: string } }>(
      serve.url,
      serverToken,
      'POST',
      `${API}/orders/_claim`,
      { consumer: 'server-1' },
    );
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('scheduler.delivery');
  });

  it('a consumer killed mid-batch loses nothing: its orders go to the next consumer after the lease', async () => {
    const serve = await startServe(pullEnv('killed'));
    const requestId = await submit(serve.url, { type: 'group', id: 'web' });
    // A CLI consumer claims the batch and is killed before it acks (it never gets to). It waits for the orders
    // (`--wait-ms`): a claim searches, and the submission's orders are searchable only after a refresh.
    const doomed = startCli(
      [
        'claim',
        '--consumer',
        'doomed',
        '--lease-ms',
        '1000',
        '--wait-ms',
        '10000',
        '--url',
        serve.url,
        '--token',
        serverToken,
      ],
      {},
    );
    await doomed.waitFor(/not acked/, 'stdout');
    doomed.signal('SIGKILL');
    await doomed.exited;
    const taken = await eventually(
      () =>
        callApi<ClaimBody>(serve.url, serverToken, 'POST', `${API}/orders/_claim`, {
          consumer: 'server-1',
          wait_ms: 2000,
        }),
      (r) => r.body.orders.length === 3,
      15_000,
    );
    expect(taken.body.orders.map((o) => o.id).sort()).toEqual(
      [1, 2, 3].map((i) => `${requestId}-${i}`).sort(),
    );
    const ack = await callApi<AckBody>(serve.url, serverToken, 'POST', `${API}/orders/_ack`, {
      consumer: 'server-1',
      orders: taken.body.orders.map((o) => o.id),
    });
    expect(ack.body.applied).toBe(3);
  });
});
