import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PARTITIONS, type Order } from '@command-manager/core';
import { OpenSearchPartitionLeaseStore, seedAgents } from '@command-manager/opensearch';
import { killLeftovers, runCli, startServe } from './support/cli-process';
import { createFixture, eventually, submitRestart, type Fixture } from './support/fixture';
import { startStubManagementApi, type StubManagementApi } from './support/stub-management-api';

// `command-manager serve` as a real process (started from the sources with ts-node), against OPENSEARCH_URL.

const API = '/_plugins/_command_manager';
let fx: Fixture;
const stubs: StubManagementApi[] = [];

beforeAll(async () => {
  fx = await createFixture(__filename, { web: ['agent-001', 'agent-002', 'agent-003'] });
});

afterEach(async () => {
  await killLeftovers();
  for (const s of stubs.splice(0)) await s.close();
});

afterAll(async () => {
  await fx.cleanup();
});

async function ordersOf(index: string): Promise<Order[]> {
  await fx.client.indices.refresh({ index });
  const res = await fx.client.search({ index, body: { size: 100, query: { match_all: {} } } });
  return (res.body.hits.hits as Array<{ _source: Order }>).map((h) => h._source);
}

async function submitToGroup(url: string): Promise<number> {
  const res = await submitRestart(url, fx.adminToken, { type: 'group', id: 'web' });
  expect(res.status).toBe(201);
  expect(res.body.commands[0]?.orders).toBe(3);
  return res.body.commands[0]?.request_id ?? 0;
}

/** A sidecar dispatching to a stub Management API that holds every call unanswered (deliveries stay in flight). */
async function serveWithHeldStub(
  index: string,
  env: Record<string, string> = {},
): Promise<{ stub: StubManagementApi; serve: Awaited<ReturnType<typeof startServe>> }> {
  const stub = await startStubManagementApi({ hold: true });
  stubs.push(stub);
  const serve = await startServe({
    ...fx.env,
    CM_ORDERS_INDEX: index,
    CM_MANAGEMENT_API_URL: stub.url,
    ...env,
  });
  return { stub, serve };
}

describe('command-manager serve', () => {
  it('starts, answers /health and /ready, refuses unauthenticated calls, and stops with exit 0 on SIGTERM', async () => {
    const serve = await startServe({ ...fx.env, CM_ORDERS_INDEX: `${fx.prefix}health` });

    const health = await fetch(`${serve.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${serve.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { opensearch: true, templates: true } });
    expect((await fetch(`${serve.url}${API}/orders`)).status).toBe(401);

    // The orders index and its templates were set up.
    expect((await fx.client.indices.exists({ index: `${fx.prefix}health` })).body).toBe(true);
    // Without a Management API URL the scheduler does not run, and the log says so.
    expect(serve.stderr()).toContain('scheduler.managementApiUrl is not set');

    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toContain('command manager stopped');
  });

  it('holds scheduler.concurrency calls to the Management API in flight, above its 16 default connections too', async () => {
    const ids = Array.from({ length: 24 }, (_, i) => `wide-${String(i + 1).padStart(3, '0')}`);
    await seedAgents(
      fx.client,
      ids.map((id) => ({ id, groups: ['wide'] })),
      {
        index: fx.agentsIndex,
        refresh: 'wait_for',
      },
    );
    // Every call is held unanswered: the calls in flight at once are the calls the stub received.
    const { stub, serve } = await serveWithHeldStub(`${fx.prefix}concurrency`, {
      CM_MANAGEMENT_API_AUTH: 'none',
      CM_DISPATCH_BATCH_SIZE: '1',
      CM_DISPATCH_CONCURRENCY: '20',
      // No call times out (and is retried) while the test waits: the calls counted are calls in flight.
      CM_DISPATCH_TIMEOUT_MS: '120000',
    });
    const res = await submitRestart(serve.url, fx.adminToken, { type: 'group', id: 'wide' });
    expect(res.status).toBe(201);
    let timer: NodeJS.Timeout | undefined;
    const reached = await Promise.race([
      stub.waitForCalls(20).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 20_000))),
    ]);
    clearTimeout(timer);
    expect({ reached, inFlight: stub.authorizations.length }).toEqual({ reached: true, inFlight: 20 });
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('walks groups within opensearch.maxResponseBytes: an agent larger than the bound alone is refused, nothing written', async () => {
    // 3,000 group names of ~30 bytes: one agent document of about 90 KB, over the smallest bound (64 KiB).
    const groups = ['huge', ...Array.from({ length: 3000 }, (_, i) => `a-rather-long-group-name-${i}`)];
    await seedAgents(fx.client, [{ id: 'agent-huge', groups }], { index: fx.agentsIndex });
    const orders = `${fx.prefix}bounded`;
    const serve = await startServe({
      ...fx.env,
      CM_ORDERS_INDEX: orders,
      OPENSEARCH_MAX_RESPONSE_BYTES: '65536',
      // Result data may take at most half of one answer.
      CM_MAX_RESULT_DATA_BYTES: '32768',
      CM_AGENTS_SEARCH_SIZE: '2',
    });
    const refused = await submitRestart(serve.url, fx.adminToken, { type: 'group', id: 'huge' });
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.body)).toContain('larger than 65536 bytes');
    expect(await ordersOf(orders)).toEqual([]);
    // Agents of an ordinary size go through the same bound, read two at a time.
    await submitToGroup(serve.url);
    expect((await ordersOf(orders)).map((o) => o.command.target.id).sort()).toEqual([
      'agent-001',
      'agent-002',
      'agent-003',
    ]);
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('delivers a command whose args are exactly limits.maxArgsBytes = scheduler.deliveryMaxBytes; one byte more is refused', async () => {
    const bound = 4096;
    // `{"blob":"x…x"}`: 11 bytes of JSON around the string.
    const args = (bytes: number): Record<string, unknown> => ({ blob: 'x'.repeat(bytes - 11) });
    expect(Buffer.byteLength(JSON.stringify(args(bound)))).toBe(bound);
    const stub = await startStubManagementApi();
    stubs.push(stub);
    const index = `${fx.prefix}argsbound`;
    const serve = await startServe({
      ...fx.env,
      CM_ORDERS_INDEX: index,
      CM_MANAGEMENT_API_URL: stub.url,
      CM_MANAGEMENT_API_AUTH: 'none',
      CM_ACTIONS_PERMISSIVE: 'true',
      CM_MAX_ARGS_BYTES: String(bound),
      CM_DISPATCH_MAX_BYTES: String(bound),
    });
    const command = (bytes: number): Record<string, unknown> => ({
      action: { name: 'custom-blob', args: args(bytes) },
    });
    const over = await submitRestart(
      serve.url,
      fx.adminToken,
      { type: 'agent', id: 'agent-001' },
      command(bound + 1),
    );
    expect(over.status).toBe(413);
    const res = await submitRestart(
      serve.url,
      fx.adminToken,
      { type: 'agent', id: 'agent-001' },
      command(bound),
    );
    expect(res.status).toBe(201);
    const requestId = res.body.commands[0]?.request_id;
    await stub.waitForCalls(1);
    const [delivered] = await eventually(
      async () => (await ordersOf(index)).filter((o) => o.command.request_id === requestId),
      (orders) => orders.length === 1 && orders[0]?.command.status !== 'pending',
      20_000,
    );
    expect(delivered?.command.status).toBe('sent');
    expect(delivered?.command.action.args).toEqual(args(bound));
    expect(stub.received).toEqual([`${requestId}-1`]);
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('refuses, before writing, args with a leaf the index cannot hold, whatever limits.maxArgsBytes allows', async () => {
    const index = `${fx.prefix}argsleaf`;
    const serve = await startServe({
      ...fx.env,
      CM_ORDERS_INDEX: index,
      CM_ACTIONS_PERMISSIVE: 'true',
      CM_MAX_ARGS_BYTES: String(256 * 1024),
    });
    // One string of 40,000 bytes: within the args bound, over Lucene's 32,766-byte term (args are a
    // flat_object, every leaf a term), which would make OpenSearch refuse the order.
    const refused = await submitRestart(
      serve.url,
      fx.adminToken,
      { type: 'agent', id: 'agent-001' },
      { action: { name: 'custom-blob', args: { note: 'ok', nested: { blob: 'x'.repeat(40_000) } } } },
    );
    expect(refused.status).toBe(413);
    expect(JSON.stringify(refused.body)).toContain('/commands/0/action/args/nested/blob');
    const largest = await submitRestart(
      serve.url,
      fx.adminToken,
      { type: 'agent', id: 'agent-001' },
      {
        action: {
          name: 'custom-blob',
          args: { nested: { blob: 'x'.repeat(16_384 - 'nested.blob'.length) } },
        },
      },
    );
    expect(largest.status).toBe(201);
    expect((await ordersOf(index)).map((o) => o.command.action.args)).toEqual([
      { nested: { blob: 'x'.repeat(16_384 - 'nested.blob'.length) } },
    ]);
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('exits 4 on a bad configuration, naming every bad key, and starts nothing', async () => {
    const file = path.join(fx.tmp, 'bad-config.json');
    writeFileSync(file, JSON.stringify({ http: { prot: 1 }, bogus: true, scheduler: { batchSize: 0 } }));
    const result = await runCli(['serve', '--config', file], {
      ...fx.env,
      CM_ORDERS_INDEX: `${fx.prefix}bad`,
      CM_HTTP_PORT: 'eighty',
      CM_LOG_LEVEL: 'loud',
    });
    expect(result.code).toBe(4);
    for (const key of ['bogus', 'http.prot', 'http.port', 'log.level', 'scheduler.batchSize']) {
      expect(result.stderr).toContain(key);
    }
    expect(result.stderr).toContain('CM_HTTP_PORT');
    expect(result.stderr).not.toContain('listening on');
    expect((await fx.client.indices.exists({ index: `${fx.prefix}bad` })).body).toBe(false);
  });

  it('exits 4 when credentials that go together are incomplete, naming each missing one', async () => {
    const result = await runCli(['serve'], {
      ...fx.env,
      CM_ORDERS_INDEX: `${fx.prefix}bad`,
      CM_MANAGEMENT_API_AUTH: 'wazuh-jwt',
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('scheduler.auth.username');
    expect(result.stderr).toContain('scheduler.auth.password');
  });

  it('exits 4 when http.tls.clientCaFile is set without a listener certificate, naming the keys', async () => {
    const result = await runCli(['serve'], {
      ...fx.env,
      CM_ORDERS_INDEX: `${fx.prefix}badtls`,
      CM_TLS_CLIENT_CA_FILE: path.join(fx.tmp, 'client-ca.pem'),
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('http.tls.certFile');
    expect(result.stderr).toContain('http.tls.clientCaFile');
    expect(result.stderr).not.toContain('listening on');
  });

  it('exits 4 on a bad users file, naming the bad entries', async () => {
    const usersFile = path.join(fx.tmp, 'bad-users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({ tokens: [{ name: 'x', token_sha256: 'nope', roles: ['emperor'] }] }),
    );
    const result = await runCli(['serve'], {
      ...fx.env,
      CM_ORDERS_INDEX: `${fx.prefix}badusers`,
      CM_USERS_FILE: usersFile,
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('/tokens/0/token_sha256');
    expect(result.stderr).toContain('/tokens/0/roles/0');
    expect(result.stderr).not.toContain('listening on');
  });

  it('on SIGTERM stops taking work, aborts a delivery still in flight, releases its partitions, and exits 0', async () => {
    const index = `${fx.prefix}sigterm`;
    const { stub, serve } = await serveWithHeldStub(index, {
      CM_NODE_ID: 'sigterm-node',
      CM_SHUTDOWN_TIMEOUT_MS: '500',
    });
    await submitToGroup(serve.url);

    // The delivery is in flight (the stub holds it); this node holds the partitions.
    await stub.waitForCalls(1);
    const leases = new OpenSearchPartitionLeaseStore({ client: fx.client, ordersIndex: index });
    const held = await leases.readLeases(DEFAULT_PARTITIONS);
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((l) => l.owner === 'sigterm-node')).toBe(true);
    const inFlight = await ordersOf(index);
    expect(inFlight).toHaveLength(3);
    for (const o of inFlight) expect(o.command.status).toBe('pending');

    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.stderr()).toContain(
      'shutdown timeout: aborting in-flight deliveries (their orders stay pending)',
    );

    // Still pending, and every partition released, so another sidecar takes them at once, not a lease
    // period later.
    const after = await ordersOf(index);
    expect(after).toHaveLength(3);
    for (const o of after) expect(o.command.status).toBe('pending');
    const released = await leases.readLeases(DEFAULT_PARTITIONS);
    expect(released.length).toBeGreaterThanOrEqual(held.length);
    expect(released.filter((l) => l.owner !== null)).toEqual([]);
  });

  it('a second signal forces the exit while the graceful stop is still waiting', async () => {
    const { stub, serve } = await serveWithHeldStub(`${fx.prefix}force`, {
      // The graceful stop would wait this long for the held delivery.
      CM_SHUTDOWN_TIMEOUT_MS: '600000',
    });
    await submitToGroup(serve.url);
    await stub.waitForCalls(1);

    serve.signal('SIGTERM');
    await serve.waitFor(/"message":"stopping: no new work/);
    serve.signal('SIGTERM');
    const code = await serve.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull(); // exited by itself, not killed by the signal's default action
    expect(serve.stderr()).toContain('second signal: forcing exit');
  });
});
