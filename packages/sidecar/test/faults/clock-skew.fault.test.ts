/**
 * Sidecars whose clocks disagree: one runs 60 s ahead and one 60 s behind (each with Debian's libfaketime
 * preloaded, which fakes the process's wall clock and leaves its monotonic clock alone), beside the
 * indexer's correct clock. Then a third sidecar, on the
 * right time, joins.
 *
 * Expected: ownership of orders is decided by partition leases judged on each sidecar's own monotonic clock,
 * so a 10,000-order group is delivered with no order twice and none expired early; both skewed sidecars see
 * their skew (`scheduler_clock_skew_exceeded`) and write and compare order times on the indexer's time. The
 * joining sidecar holds its share of the partitions within two lease periods.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PARTITIONS } from '@command-manager/core';
import { opensearchUrl } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, metricValue, sidecarEnv, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

const GROUP_SIZE = 10_000;
const LEASE_MS = 3000;
const SKEW_S = 60;

const figures = new FigureBook(
  '7-clock-skew',
  'clocks 60 s apart, and a sidecar joining',
  `Two sidecars, one with its clock ${SKEW_S} s ahead and one ${SKEW_S} s behind (faketime), partition lease ` +
    `${LEASE_MS} ms, ${DEFAULT_PARTITIONS} partitions; a group of ${GROUP_SIZE.toLocaleString('en')} agents ` +
    "submitted to the one ahead, commands' timeout 300 s. **failed** counts orders expired (none may be); " +
    '**recovered** is, for the joining sidecar, the time from its start until it held its fair share of the ' +
    'partitions (goal: within two lease periods).',
);
let indices: FaultIndices;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;

/** Environment that runs a process's wall clock `offset` off (e.g. `+60s`): Debian's libfaketime, preloaded. */
function fakeClock(offset: string): Record<string, string> {
  const libDir = '/usr/lib';
  const lib = readdirSync(libDir)
    .map((arch) => path.join(libDir, arch, 'faketime', 'libfaketime.so.1'))
    .find((candidate) => existsSync(candidate));
  if (!lib)
    throw new Error("this test needs Debian's faketime (apt-get install faketime), which .ci/run installs");
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

function env(nodeId: string): Record<string, string> {
  return sidecarEnv({
    opensearchUrl: opensearchUrl(),
    indices,
    usersFile: users.file,
    managementApiUrl: proxy.url,
    extra: {
      CM_NODE_ID: nodeId,
      CM_LEASE_MS: String(LEASE_MS),
      CM_POLL_INTERVAL_MS: '200',
      CM_CLOCK_SKEW_CHECK_INTERVAL_MS: '2000',
      CM_SHUTDOWN_TIMEOUT_MS: '2000',
    },
  });
}

beforeAll(async () => {
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: 'skew',
    agents: GROUP_SIZE,
  }));
}, 120_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices, stub, proxy });
  figures.save();
}, 60_000);

async function skewExceeded(sidecar: SidecarProcess): Promise<number | undefined> {
  const res = await call(sidecar.url, 'GET', '/metrics', { token: TOKENS.admin });
  return metricValue(res.text, 'scheduler_clock_skew_exceeded');
}

test('clocks 60 s apart deliver every order once and expire none; a joiner takes its share', async () => {
  const ahead = await startSidecar({ name: 'ahead', env: { ...env('ahead'), ...fakeClock(`+${SKEW_S}s`) } });
  const behind = await startSidecar({
    name: 'behind',
    env: { ...env('behind'), ...fakeClock(`-${SKEW_S}s`) },
  });
  // Steady state: both hold partitions.
  await waitFor(
    'both skewed sidecars to hold partitions',
    async () => {
      const owners = await indices.leaseOwners();
      return (owners.get('ahead') ?? 0) > 0 && (owners.get('behind') ?? 0) > 0;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  // Each sees its clock beyond the bound.
  expect(await skewExceeded(ahead)).toBe(1);
  expect(await skewExceeded(behind)).toBe(1);

  const submitted = await call<{ commands: Array<{ request_id: number; orders: number }> }>(
    ahead.url,
    'POST',
    `${API}/commands?summary=true`,
    {
      token: TOKENS.admin,
      body: { commands: [command({ targetType: 'group', targetId: 'skew', timeoutSec: 300 })] },
      timeoutMs: 120_000,
    },
  );
  expect(submitted.status).toBe(201);
  const requestId = submitted.body.commands[0]?.request_id ?? 0;
  expect(submitted.body.commands[0]?.orders).toBe(GROUP_SIZE);
  const started = Date.now();
  await waitFor('every order to be sent', async () => (await indices.statusCounts()).sent === GROUP_SIZE, {
    timeoutMs: 240_000,
    intervalMs: 500,
  });
  const deliveredInMs = Date.now() - started;

  const orders = (await indices.allOrders()).filter((o) => o.order.command.request_id === requestId);
  expect(orders).toHaveLength(GROUP_SIZE);
  const duplicated = orders.filter((o) => (proxy.accepted.get(o.id) ?? 0) > 1).map((o) => o.id);
  const failed = orders.filter((o) => o.order.command.status === 'failure');
  expect(duplicated).toEqual([]);
  expect(failed).toEqual([]);
  // Order times were written on the indexer's time, not 60 s ahead: due at once, deadline 300 s after now.
  const createdAt = Date.parse(orders[0]?.order['@timestamp'] ?? '');
  expect(Math.abs(createdAt - started)).toBeLessThan(30_000);
  const owners = await indices.leaseOwners();

  // A third sidecar, on the right time, joins: it takes its share within two lease periods.
  const joinedAt = Date.now();
  const joiner = await startSidecar({ name: 'joiner', env: env('joiner') });
  const startedInMs = Date.now() - joinedAt;
  const share = Math.floor(DEFAULT_PARTITIONS / 3);
  const heldShareAt = await waitFor(
    'the joiner to hold its share of the partitions',
    async () => (((await indices.leaseOwners()).get('joiner') ?? 0) >= share ? Date.now() : undefined),
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const shareInMs = heldShareAt - joinedAt - startedInMs;
  expect(shareInMs).toBeLessThanOrEqual(2 * LEASE_MS);
  const after = await indices.leaseOwners();
  for (const held of after.values()) expect(held).toBeLessThanOrEqual(Math.ceil(DEFAULT_PARTITIONS / 3) + 1);
  await Promise.all([ahead.stop(), behind.stop(), joiner.stop()]);

  figures.add({
    case: `clocks +${SKEW_S} s and −${SKEW_S} s`,
    submitted: GROUP_SIZE,
    delivered: orders.length,
    duplicated: duplicated.length,
    lost: 0,
    failed: failed.length,
    notes:
      `delivered in ${deliveredInMs} ms; partitions held while delivering: ahead ${owners.get('ahead') ?? 0}, ` +
      `behind ${owners.get('behind') ?? 0}; both reported scheduler_clock_skew_exceeded 1`,
  });
  figures.add({
    case: 'a third sidecar joins',
    recoveredMs: shareInMs,
    notes:
      `it held ${share} of ${DEFAULT_PARTITIONS} partitions ${shareInMs} ms after it listened (start ${startedInMs} ms); ` +
      `then ${[...after].map(([o, n]) => `${o} ${n}`).join(', ')}`,
  });
}, 420_000);
