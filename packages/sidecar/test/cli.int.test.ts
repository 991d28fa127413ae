import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { killLeftovers, runCli, startCli, startServe, type RunningCli } from './support/cli-process';
import type { RequestRecord } from '@command-manager/core';
import { callApi, createFixture, eventually, type Fixture } from './support/fixture';
import { startStubManagementApi, type StubManagementApi } from './support/stub-management-api';

// The CLI against a real `serve` process and OPENSEARCH_URL: submit, status --watch, orders, exit codes,
// and no secret in any log.

const API = '/_plugins/_command_manager';
/** The node's own credentials when it is secured; otherwise made up (the node ignores them). */
const OPENSEARCH_USERNAME = process.env.OPENSEARCH_USERNAME || 'admin';
const OPENSEARCH_PASSWORD = process.env.OPENSEARCH_PASSWORD || 'os-pw-7c1e9f3b5d';
const MANAGEMENT_TOKEN = 'mgmt-token-4a8d2e6f0b';

let fx: Fixture;
let stub: StubManagementApi;
let serve: RunningCli & { url: string };
let client: Record<string, string>;

beforeAll(async () => {
  fx = await createFixture(__filename, {
    web: ['web-001', 'web-002', 'web-003'],
    db: ['db-001', 'db-002'],
  });
  stub = await startStubManagementApi({ token: MANAGEMENT_TOKEN });
  serve = await startServe({
    ...fx.env,
    CM_ORDERS_INDEX: `${fx.prefix}orders`,
    CM_MANAGEMENT_API_URL: stub.url,
    CM_MANAGEMENT_API_AUTH: 'bearer',
    CM_MANAGEMENT_API_TOKEN: MANAGEMENT_TOKEN,
    // Credentials, to be kept out of the logs (an unsecured test node ignores them).
    OPENSEARCH_USERNAME,
    OPENSEARCH_PASSWORD,
    CM_LOG_LEVEL: 'debug',
  });
  client = { CM_API_URL: serve.url, CM_API_TOKEN: fx.adminToken };
});

afterAll(async () => {
  await killLeftovers();
  await stub.close();
  await fx.cleanup();
});

interface Progress {
  counts: { pending: number; sent: number; success: number; failure: number };
}

/** Orders are `sent` once the scheduler delivered them to the stub; only then may results be reported. */
async function waitUntilSent(requestId: number, total: number): Promise<void> {
  await eventually(
    () => callApi<Progress>(serve.url, fx.adminToken, 'GET', `${API}/requests/${requestId}`),
    (res) => res.status === 200 && res.body.counts.sent === total,
  );
}

async function report(results: Array<{ id: string; status: 'success' | 'failure' }>): Promise<void> {
  const res = await callApi<{ applied: number }>(serve.url, fx.commsToken, 'POST', `${API}/results`, {
    results: results.map((r) => ({
      ...r,
      result: { code: r.status === 'success' ? 0 : 1, message: r.status, data: {} },
    })),
  });
  expect(res.status).toBe(200);
  expect(res.body.applied).toBe(results.length);
}

let webRequest = 0;

describe('command-manager CLI', () => {
  it('submit (flags, --json) writes one order per agent of the group', async () => {
    const result = await runCli(
      ['submit', '--target-type', 'group', '--target-id', 'web', '--action', 'restart', '--json'],
      client,
    );
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout) as {
      _index: string;
      commands: Array<{ request_id: number; orders: number; write_state: string }>;
    };
    expect(answer._index).toBe(`${fx.prefix}orders`);
    expect(answer.commands).toHaveLength(1);
    expect(answer.commands[0]).toMatchObject({ orders: 3, write_state: 'complete' });
    webRequest = answer.commands[0]?.request_id ?? 0;
    expect(webRequest).toBeGreaterThan(0);
  });

  it('submit --dry-run prints the orders and a plan token that --plan-token sends with', async () => {
    const flags = ['--target-type', 'agents', '--target-id', 'db-001,nobody', '--action', 'restart'];
    const dry = await runCli(['submit', ...flags, '--exclude-agents', 'web-001', '--dry-run'], client);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^command 0: 1 order\(s\) would be written: agent:db-001; unresolved: agent:nobody; excluded 0, ineligible 0$/m,
    );
    const token = /^plan token: ([A-Za-z0-9_-]+)$/m.exec(dry.stdout)?.[1];
    expect(token).toBeDefined();
    const sent = await runCli(
      ['submit', ...flags, '--exclude-agents', 'web-001', '--plan-token', token as string],
      client,
    );
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(
      /^request \d+: 1 order\(s\) in \S+ \(complete\); unresolved: agent:nobody; excluded 0, ineligible 0$/m,
    );
    // The same token for another body: refused with 412, nothing written.
    const other = await runCli(['submit', ...flags, '--plan-token', token as string], client);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/error 412 PLAN_CHANGED/);
  });

  it('submit --membership live --delivery-window S sends both; the record keeps the window end', async () => {
    const flags = ['--target-type', 'group', '--target-id', 'db', '--action', 'restart', '--json'];
    const live = ['--timeout', '300', '--delivery-window', '900', '--membership', 'live'];
    const result = await runCli(['submit', ...flags, ...live], client);
    expect(result.code).toBe(0);
    const requestId = (JSON.parse(result.stdout) as { commands: Array<{ request_id: number }> }).commands[0]
      ?.request_id;
    const record = await callApi<{ request: RequestRecord }>(
      serve.url,
      fx.adminToken,
      'GET',
      `${API}/requests/${requestId}`,
    );
    expect(record.body.request.command).toMatchObject({ delivery_window_s: 900, membership: 'live' });
    expect(
      Date.parse(record.body.request.live_until ?? '') - Date.parse(record.body.request.created_at),
    ).toBe(900_000);
    const refused = await runCli(['submit', ...flags, '--timeout', '300', '--delivery-window', '60'], client);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\/commands\/0\/delivery_window_s/);
  });

  it('status --watch (not a terminal) prints a line per reading and exits 0 when every order succeeded', async () => {
    await waitUntilSent(webRequest, 3);
    const watch = startCli(['status', String(webRequest), '--watch', '--interval-ms', '100'], client);
    // A first reading, not final yet.
    await watch.waitFor(/sent 3 success 0 failure 0\n/, 'stdout');
    await report([1, 2, 3].map((n) => ({ id: `${webRequest}-${n}`, status: 'success' as const })));
    expect(await watch.exited).toBe(0);
    const lines = watch.stdout().trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(new RegExp(`^request ${webRequest} \\[`));
    expect(lines[lines.length - 1]).toContain('pending 0 sent 0 success 3 failure 0 done');
    // No terminal control characters in non-TTY output.
    expect(watch.stdout()).not.toContain('\x1b');
    expect(watch.stdout()).not.toContain('\r');
  });

  it('submit --file (a Wazuh body) and status --watch exiting 5 when some orders failed', async () => {
    const file = path.join(fx.tmp, 'commands.json');
    writeFileSync(
      file,
      JSON.stringify({
        commands: [
          {
            source: 'Users/Services',
            user: 'ops',
            target: { type: 'group', id: 'db' },
            action: { name: 'fetch-config', args: {} },
            timeout: 300,
          },
        ],
      }),
    );
    const submitted = await runCli(['submit', '--file', file], client);
    expect(submitted.code).toBe(0);
    const m = /^request (\d+): 2 order\(s\) in (\S+) \(complete\)$/m.exec(submitted.stdout);
    expect(m?.[2]).toBe(`${fx.prefix}orders`);
    const requestId = Number(m?.[1]);

    await waitUntilSent(requestId, 2);
    await report([
      { id: `${requestId}-1`, status: 'success' },
      { id: `${requestId}-2`, status: 'failure' },
    ]);
    const watch = await runCli(['status', String(requestId), '--watch', '--interval-ms', '100'], client);
    expect(watch.code).toBe(5);
    expect(watch.stdout.trim().split('\n').pop()).toContain('success 1 failure 1 done');
  });

  it('orders --json lists and filters orders', async () => {
    const all = await runCli(['orders', '--request-id', String(webRequest), '--json'], client);
    expect(all.code).toBe(0);
    const body = JSON.parse(all.stdout) as {
      orders: Array<{ id: string; order: { command: { status: string; target: { id: string } } } }>;
    };
    expect(body.orders.map((o) => o.id).sort()).toEqual([1, 2, 3].map((n) => `${webRequest}-${n}`));
    expect(body.orders.every((o) => o.order.command.status === 'success')).toBe(true);
    expect(body.orders.map((o) => o.order.command.target.id).sort()).toEqual([
      'web-001',
      'web-002',
      'web-003',
    ]);

    const failed = await runCli(['orders', '--status', 'failure', '--json'], client);
    expect(failed.code).toBe(0);
    const failedBody = JSON.parse(failed.stdout) as typeof body;
    expect(failedBody.orders.map((o) => o.order.command.target.id)).toEqual(['db-002']);

    // The human listing: one tab-separated line per order.
    const human = await runCli(['orders', '--request-id', String(webRequest), '--size', '2'], client);
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${webRequest}-\\d\\tsuccess\\tagent:web-00\\d\\trestart$`));
    expect(lines[lines.length - 1]).toMatch(/^\(more: --cursor \S+\)$/);
  });

  it('requests lists request records newest first, filtered, with counts', async () => {
    interface Listing {
      requests: Array<{
        request: { request_id: number; command: { user: string; action: { name: string } } };
        counts: { success: number; failure: number };
        done: boolean;
      }>;
      cursor?: string;
    }
    // The listing is a search: it may lag the last write by a refresh interval.
    const failed = await eventually(
      () => runCli(['requests', '--status', 'failure', '--user', 'ops', '--json'], client),
      (r) => r.code === 0 && (JSON.parse(r.stdout) as Listing).requests.length === 1,
    );
    const [db] = (JSON.parse(failed.stdout) as Listing).requests;
    expect(db).toMatchObject({
      request: { command: { user: 'ops', action: { name: 'fetch-config' } } },
      counts: { success: 1, failure: 1 },
      done: true,
    });

    const human = await runCli(['requests', '--size', '1'], client);
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^\d+\t\S+\tUsers\/Services\t.*\tpending \d+ sent \d+ success \d+ failure \d+\t(done|open)$/,
    );
    expect(lines[1]).toMatch(/^\(more: --cursor \S+\)$/);

    const bad = await runCli(['requests', '--cursor', 'garbled!'], client);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('/query/cursor');
  });

  it('exits 3 when the API cannot be reached', async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await runCli(['status', '1', '--url', `http://127.0.0.1:${port}`, '--token', 'x']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('cannot reach');
  });

  it('exits 1 when the API refuses the call, printing its error code and details', async () => {
    const missing = await runCli(['status', '999999'], client);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error 404 NOT_FOUND');

    const badToken = await runCli(['orders'], { ...client, CM_API_TOKEN: 'not-a-token' });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/error 401 /);

    const invalid = await runCli(
      ['submit', '--target-type', 'group', '--target-id', 'web', '--action', 'no-such-action'],
      client,
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/error 400 /);
    expect(invalid.stderr).toContain('/commands/0/action');
  });

  it('exits 2 on a usage error', async () => {
    expect((await runCli(['status', 'abc'], client)).code).toBe(2);
    expect((await runCli(['submit', '--target-type', 'group'], client)).code).toBe(2);
    expect((await runCli(['orders', '--no-such-flag'], client)).code).toBe(2);
  });

  it('stops with exit 0, and no secret ever reached its logs', async () => {
    // The secrets were in use: the scheduler authenticated with the Management API token.
    expect(stub.authorizations.length).toBeGreaterThan(0);
    expect(stub.authorizations.every((a) => a === `Bearer ${MANAGEMENT_TOKEN}`)).toBe(true);

    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
    const logs = serve.stderr();
    // The logs are there (debug level, the configuration included) …
    expect(logs).toContain('"message":"configuration"');
    expect(logs).toContain('"password":"[redacted]"');
    // … and none of the secrets is in them.
    for (const secret of [OPENSEARCH_PASSWORD, MANAGEMENT_TOKEN, fx.adminToken, fx.commsToken]) {
      expect(logs).not.toContain(secret);
    }
  });
});
