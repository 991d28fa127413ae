/**
 * A scheduler PROCESS killed with SIGKILL mid-batch leaves no order stuck: its leases expire and another
 * scheduler delivers the orders.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { systemClock } from '@command-manager/core';
import { ManagementApiClient, Scheduler } from '@command-manager/scheduler';
import { REGISTER_SOURCE, opensearchUrl } from '@command-manager/test-support';
import { ids, orders } from './support/fixtures';
import { openSearchFixture } from './support/opensearch-fixture';
import { StubManagementApi } from './support/stub-management-api';

jest.setTimeout(120_000);

const os = openSearchFixture(__filename);
const root = path.resolve(__dirname, '../../..');
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await os.close();
});

it('another scheduler delivers the orders of a killed one after its lease expires', async () => {
  const stores = await os.stores();
  const n = 40;
  await stores.orders.saveOrders(orders(9, n, systemClock.now()));
  const stub = await StubManagementApi.start();
  stub.holdNext(1);
  const leaseMs = 3000;
  try {
    child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        REGISTER_SOURCE,
        path.join(__dirname, 'support/scheduler-child.ts'),
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          TS_NODE_PROJECT: path.join(root, 'tsconfig.test.json'),
          OPENSEARCH_URL: opensearchUrl(),
          ORDERS_INDEX: stores.ordersIndex,
          STUB_URL: stub.url,
          OWNER: 'doomed',
          LEASE_MS: String(leaseMs),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    // The child has claimed the whole batch and its delivery is in flight (held by the stub).
    await Promise.race([
      stub.waitFor(() => stub.received.length === n),
      exited.then(() => {
        throw new Error(`child exited early: ${stderr}`);
      }),
    ]);
    child.kill('SIGKILL');
    await exited;

    const leased = await stores.orders.getOrders(ids(9, n));
    expect(
      leased.every(
        (o) => o.order.command.status === 'pending' && o.order.scheduling.lease_owner === 'doomed',
      ),
    ).toBe(true);

    const client = new ManagementApiClient({ managementApiUrl: stub.url });
    const survivor = new Scheduler({
      orders: stores.orders,
      requests: stores.requests,
      locks: stores.locks,
      delivery: client,
      owner: 'survivor',
      options: { pollIntervalMs: 200, sweepIntervalMs: 3_600_000, retentionIntervalMs: 3_600_000 },
    });
    survivor.start();
    try {
      await stub.waitFor(() => stub.accepted.length >= n);
      while ((await stores.orders.countByStatus({ requestId: 9 })).sent < n)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      await survivor.stop();
      await client.close();
    }
    const done = await stores.orders.getOrders(ids(9, n));
    expect(done.map((o) => o.order.command.status)).toEqual(Array(n).fill('sent'));
    // The lease was honoured: nothing went out again before the dead holder's lease expired.
    for (const o of done) {
      const leaseEnd = Date.parse(leased.find((l) => l.id === o.id)?.order.scheduling.lease_expires_at ?? '');
      expect(Date.parse(o.order.scheduling.sent_at ?? '')).toBeGreaterThanOrEqual(leaseEnd);
    }
    // Delivered once by the survivor; the killed process's request was never answered.
    for (const id of ids(9, n)) expect(stub.countAccepted(id)).toBe(1);
  } finally {
    await stub.close();
  }
});
