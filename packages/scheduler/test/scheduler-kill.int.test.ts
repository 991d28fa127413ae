/**
 * A scheduler PROCESS killed with SIGKILL mid-batch leaves no order stuck: its partition leases fall silent,
 * and another scheduler takes them over and delivers the orders, each once.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DEFAULT_PARTITIONS, systemClock } from '@command-manager/core';
import { ManagementApiClient, PartitionLeaseManager, Scheduler } from '@command-manager/scheduler';
import { OpenSearchPartitionLeaseStore } from '@command-manager/opensearch';
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

it('another scheduler delivers the orders of a killed one once its partition leases fall silent', async () => {
  const stores = await os.stores();
  const n = 40;
  const stub = await StubManagementApi.start();
  stub.holdNext(1);
  const leaseMs = 3000;
  // The fixtures' orders carry their partition among the default count.
  const partitionCount = DEFAULT_PARTITIONS;
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
          PARTITIONS: String(partitionCount),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    // Once the child holds every partition, the orders are written: it claims them in one search, one call.
    const leaseStore = new OpenSearchPartitionLeaseStore({
      client: os.client,
      ordersIndex: stores.ordersIndex,
    });
    await Promise.race([
      (async () => {
        for (;;) {
          const leases = await leaseStore.readLeases(partitionCount);
          if (leases.length === partitionCount && leases.every((l) => l.owner === 'doomed')) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
      exited.then(() => {
        throw new Error(`child exited early: ${stderr}`);
      }),
    ]);
    await stores.orders.saveOrders(orders(9, n, systemClock.now()));
    // The child has claimed the whole batch and its delivery is in flight (held by the stub).
    await Promise.race([
      stub.waitFor(() => stub.received.length === n),
      exited.then(() => {
        throw new Error(`child exited early: ${stderr}`);
      }),
    ]);
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();

    const held = await stores.orders.getOrders(ids(9, n));
    expect(held.every((o) => o.order.command.status === 'pending')).toBe(true);

    const client = new ManagementApiClient({ managementApiUrl: stub.url });
    const partitions = new PartitionLeaseManager({
      store: leaseStore,
      owner: 'survivor',
      options: { partitions: partitionCount, leaseMs },
    });
    partitions.start();
    const survivor = new Scheduler({
      partitions,
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
      await partitions.stop();
      await client.close();
    }
    const done = await stores.orders.getOrders(ids(9, n));
    expect(done.map((o) => o.order.command.status)).toEqual(Array(n).fill('sent'));
    // The dead sidecar's leases are taken only after they were seen unchanged for a whole lease period.
    for (const o of done)
      expect(Date.parse(o.order.scheduling.sent_at ?? '')).toBeGreaterThanOrEqual(killedAt + leaseMs - 50);
    // Delivered once by the survivor; the killed process's request was never answered.
    for (const id of ids(9, n)) expect(stub.countAccepted(id)).toBe(1);
  } finally {
    await stub.close();
  }
});
