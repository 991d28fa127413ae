/**
 * kill -9 of a sidecar process during a 10,000-order group fan-out, and during dispatch; then a restart.
 *
 * Expected: every order that reached the index ends delivered exactly once, or at worst once more, and only
 * if the killed sidecar had already posted it when it died and not yet recorded its verdict (what a sidecar
 * holds: at most `2 × concurrency × batchSize` orders); no order is left pending, or pending/sent past its
 * deadline without a reason; a request whose writer died says so on its record.
 */
import { opensearchUrl } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, sidecarEnv, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { startSidecar } from './support/sidecar-process';

const GROUP_SIZE = 10_000;
const LEASE_MS = 3000;
const BATCH = 500;
const CONCURRENCY = 4;

const figures = new FigureBook(
  '1-kill-sidecar',
  'kill -9 of a sidecar, then restart',
  `A group of ${GROUP_SIZE.toLocaleString('en')} agents; sidecars with lease ${LEASE_MS} ms, batch ${BATCH}, ` +
    `concurrency ${CONCURRENCY}. _Fan-out killed_: SIGKILL once a quarter of the group's orders are in the ` +
    'index, then a new sidecar. _Dispatch killed_: a complete 10,000-order request, SIGKILL after a third ' +
    'was delivered (Management API answers held 400 ms so batches are in flight), then a new sidecar. ' +
    '**submitted** is the orders that reached the index; **duplicated** orders must all have been posted by ' +
    'the dead sidecar and still pending at its death (at most what it holds, 2 × concurrency × batch); ' +
    "**recovered** runs from the kill to the restarted sidecar's first delivery (its start, and its taking " +
    "over the dead sidecar's partitions once their leases were seen unchanged for a lease period, included).",
);
let indices: FaultIndices;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return sidecarEnv({
    opensearchUrl: opensearchUrl(),
    indices,
    usersFile: users.file,
    managementApiUrl: proxy.url,
    extra: {
      CM_LEASE_MS: String(LEASE_MS),
      CM_DISPATCH_BATCH_SIZE: String(BATCH),
      CM_DISPATCH_CONCURRENCY: String(CONCURRENCY),
      CM_POLL_INTERVAL_MS: '200',
      CM_SHUTDOWN_TIMEOUT_MS: '2000',
      ...extra,
    },
  });
}

beforeAll(async () => {
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: 'fanout',
    agents: GROUP_SIZE,
  }));
}, 120_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices, stub, proxy });
  figures.save();
}, 60_000);

/**
 * Bulk requests the dead process had already sent still complete inside OpenSearch after the kill: wait
 * until the orders index stops changing before taking the snapshot the assertions compare with.
 */
async function quiesce(probe: () => Promise<string>): Promise<void> {
  let last: string | undefined;
  await waitFor(
    'the orders index to stop changing after the kill',
    async () => {
      const now = await probe();
      const stable = now === last;
      last = now;
      return stable;
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  );
}

/**
 * Orders posted to the Management API before `killedAt` and still pending: the dead sidecar sent them and
 * never recorded their verdict, so they are the only ones that may go out twice.
 */
async function postedButPending(killedAt: number): Promise<Set<string>> {
  const posted = new Set(proxy.calls.filter((c) => c.at <= killedAt).flatMap((c) => c.ids));
  const all = await indices.allOrders();
  return new Set(
    all.filter((o) => o.order.command.status === 'pending' && posted.has(o.id)).map((o) => o.id),
  );
}

interface Outcome {
  inIndex: number;
  delivered: number;
  duplicated: string[];
  lost: number;
  stuck: number;
}

/** Waits until no order of `requestId` is pending, then checks every order against what the stub saw. */
async function settle(requestId: number, heldAtKill: Set<string>): Promise<Outcome> {
  const query = { term: { 'command.request_id': requestId } };
  const inIndex = await indices.countOrders(query);
  await waitFor(
    `every order of request ${requestId} to leave pending`,
    async () =>
      (await indices.countOrders({
        bool: { filter: [query, { term: { 'command.status': 'pending' } }] },
      })) === 0,
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  const orders = (await indices.allOrders()).filter((o) => o.order.command.request_id === requestId);
  const now = Date.now();
  let delivered = 0;
  let lost = 0;
  let stuck = 0;
  const duplicated: string[] = [];
  for (const { id, order } of orders) {
    const accepted = proxy.accepted.get(id) ?? 0;
    if (accepted > 0) delivered++;
    if (accepted > 1) duplicated.push(id);
    const status = order.command.status;
    if (status === 'sent' && accepted === 0) lost++;
    if (status === 'failure' && !order.command.result?.message) lost++;
    if ((status === 'pending' || status === 'sent') && Date.parse(order.delivery_timestamp) < now) stuck++;
  }
  // Every order is sent (none could fail: the stub accepts all, deadlines are 10 minutes away).
  expect(orders.map((o) => o.order.command.status).filter((s) => s !== 'sent')).toEqual([]);
  expect(orders.length).toBe(inIndex);
  expect(delivered).toBe(inIndex);
  expect(lost).toBe(0);
  expect(stuck).toBe(0);
  // At worst once more, and only orders the dead sidecar had posted without recording their verdict.
  expect(duplicated.filter((id) => (proxy.accepted.get(id) ?? 0) > 2)).toEqual([]);
  expect(duplicated.filter((id) => !heldAtKill.has(id))).toEqual([]);
  expect(heldAtKill.size).toBeLessThanOrEqual(2 * CONCURRENCY * BATCH);
  return { inIndex, delivered, duplicated, lost, stuck };
}

describe('kill -9 during a 10,000-order fan-out', () => {
  let requestId = 0;

  test('written orders are all delivered after a restart, none twice outside the dead lease batch', async () => {
    const first = await startSidecar({ name: 'fanout-1', env: env({ CM_NODE_ID: 'fanout-1' }) });
    // The answer is streamed only after every order is written; it never comes (the writer dies).
    const submission = call(first.url, 'POST', `${API}/commands?summary=true`, {
      token: TOKENS.admin,
      body: { commands: [command({ targetType: 'group', targetId: 'fanout' })] },
      timeoutMs: 120_000,
    }).then(
      (r) => ({ status: r.status, error: undefined }),
      (e: unknown) => ({ status: undefined, error: String(e) }),
    );
    // Kill while the fan-out is under way: a quarter of the orders are in the index, not all of them.
    const writtenAtKill = await waitFor(
      'the fan-out to write a quarter of the orders',
      async () => {
        const n = await indices.countOrders();
        return n >= GROUP_SIZE / 4 ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await first.kill9();
    expect(writtenAtKill).toBeLessThan(GROUP_SIZE); // else the kill came too late to test anything
    const killedAt = Date.now();
    // The caller saw the connection die, not a success.
    expect(await submission).toEqual({ status: undefined, error: expect.any(String) });

    await quiesce(async () => String(await indices.countOrders()));
    const all = await indices.allOrders();
    requestId = all[0]?.order.command.request_id ?? 0;
    expect(requestId).toBeGreaterThan(0);
    const heldAtKill = await postedButPending(killedAt);
    const inIndex = all.length;

    const second = await startSidecar({ name: 'fanout-2', env: env({ CM_NODE_ID: 'fanout-2' }) });
    const resumedAfterMs = await waitFor(
      'the restarted sidecar to deliver',
      async () => {
        const last = proxy.calls[proxy.calls.length - 1];
        return last && last.at > killedAt && proxy.accepted.size > 0 ? last.at - killedAt : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const outcome = await settle(requestId, heldAtKill);
    // Give the surviving sidecar time to notice the dead writer (CM_STALE_WRITE_MS, checked at half of it).
    for (let i = 0; i < 30; i++) {
      if ((await indices.requestRecord(requestId))?.write_state !== 'writing') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await second.stop();

    const record = await indices.requestRecord(requestId);
    figures.add({
      case: 'fan-out killed',
      submitted: inIndex,
      delivered: outcome.delivered,
      duplicated: outcome.duplicated.length,
      lost: outcome.lost,
      failed: 0,
      recoveredMs: resumedAfterMs,
      notes:
        `group of ${GROUP_SIZE}; ${writtenAtKill} orders seen in the index when killed, ${inIndex} after; ` +
        `${heldAtKill.size} posted by the dead sidecar without a verdict; request record left with write_state ` +
        `"${String(record?.write_state)}", total_orders ${String(record?.total_orders)}`,
    });
    if (inIndex > writtenAtKill) {
      figures.observe(
        `Bulk requests the killed sidecar had already sent completed inside OpenSearch after the kill ` +
          `(${writtenAtKill} orders searchable at the kill, ${inIndex} once the index settled): harmless, ` +
          'the orders are whole and were delivered like the others.',
      );
    }
    if (record?.write_state === 'writing') {
      figures.observe(
        `BUG (core, command-service): a request whose writer was killed mid fan-out keeps write_state "writing" ` +
          `forever (request ${requestId}: ${inIndex} of ${GROUP_SIZE} orders written, record says ` +
          `"writing", total_orders ${String(record.total_orders)}); nothing marks it partial, so a reader cannot ` +
          `tell a dead write from one in progress, and GET /requests/:id never reports done.`,
      );
    }
  }, 300_000);

  // The record is created `writing` and only updated when its writer finishes. Writers refresh `updated_at`
  // while they write, and every sidecar marks a `writing` record whose heartbeat is older than
  // CM_STALE_WRITE_MS as `partial` (or `failed`), so a writer killed mid-way does not leave it `writing`.
  test('the partially written request has a status that says it is partial', async () => {
    const written = await indices.countOrders({ term: { 'command.request_id': requestId } });
    expect(written).toBeLessThan(GROUP_SIZE);
    let record = await indices.requestRecord(requestId);
    for (let i = 0; i < 30 && record?.write_state === 'writing'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      record = await indices.requestRecord(requestId);
    }
    expect(['partial', 'failed']).toContain(record?.write_state);
  });
});

describe('kill -9 during dispatch', () => {
  test('a restarted sidecar delivers the rest; only what the dead sidecar had posted goes out twice', async () => {
    const writer = await startSidecar({
      name: 'dispatch-1',
      env: env({ CM_NODE_ID: 'dispatch-1' }),
    });
    // Slow answers keep batches in flight, so the kill lands with batches held and answers lost.
    proxy.mode = { kind: 'slow', delayMs: 400 };
    const acceptedBefore = proxy.accepted.size;
    const answer = await call<{ commands: Array<{ request_id: number; orders: number }> }>(
      writer.url,
      'POST',
      `${API}/commands?summary=true`,
      {
        token: TOKENS.admin,
        body: { commands: [command({ targetType: 'group', targetId: 'fanout', action: 'fetch-config' })] },
        timeoutMs: 120_000,
      },
    );
    expect(answer.status).toBe(201);
    const requestId = answer.body.commands[0]?.request_id ?? 0;
    expect(answer.body.commands[0]?.orders).toBe(GROUP_SIZE);

    await waitFor(
      'a third of the orders to be delivered',
      () => proxy.accepted.size - acceptedBefore >= GROUP_SIZE / 3,
      { timeoutMs: 120_000, intervalMs: 20 },
    );
    await writer.kill9();
    const killedAt = Date.now();
    const deliveredAtKill = proxy.accepted.size - acceptedBefore;
    await quiesce(async () => [...(await postedButPending(killedAt))].sort().join());
    const heldAtKill = await postedButPending(killedAt);
    proxy.mode = { kind: 'pass' };

    const second = await startSidecar({ name: 'dispatch-2', env: env({ CM_NODE_ID: 'dispatch-2' }) });
    const resumedAfterMs = await waitFor(
      'the restarted sidecar to deliver',
      () => {
        const last = proxy.calls[proxy.calls.length - 1];
        return last && last.at > killedAt + 1 ? last.at - killedAt : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const outcome = await settle(requestId, heldAtKill);
    await second.stop();
    const record = await indices.requestRecord(requestId);
    expect(record?.write_state).toBe('complete');

    figures.add({
      case: 'dispatch killed',
      submitted: GROUP_SIZE,
      delivered: outcome.delivered,
      duplicated: outcome.duplicated.length,
      lost: outcome.lost,
      failed: 0,
      recoveredMs: resumedAfterMs,
      notes:
        `${deliveredAtKill} delivered before the kill; ${heldAtKill.size} posted by the dead sidecar without a ` +
        `verdict (partition lease ${LEASE_MS} ms, batch ${BATCH} × concurrency ${CONCURRENCY}); stub answers held 400 ms`,
    });
    expect(outcome.inIndex).toBe(GROUP_SIZE);
  }, 300_000);
});
