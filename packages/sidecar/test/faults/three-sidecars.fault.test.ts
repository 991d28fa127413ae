/**
 * Three sidecars on one orders index under continuous submissions (each sidecar takes submissions and
 * dispatches): request ids are unique across them, no order is dispatched twice in steady state, and
 * retention (short settings through the environment) runs in one sidecar at a time.
 */
import type { Order } from '@command-manager/core';
import { OpenSearchSetup } from '@command-manager/opensearch';
import { opensearchUrl } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, metricValue, sidecarEnv, sleep, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, SubmitAnswer, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { logsMatching, startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

const LOAD_MS = 15_000;
const AGENTS = 40;
/** Old terminal orders for retention to remove: enough pages (500 each) for runs to overlap in time. */
const OLD_ORDERS = 10_000;
const OLD_REQUEST_ID = 900_000_000;

const figures = new FigureBook(
  '2-three-sidecars',
  'Three sidecars on one index',
  `Three sidecars share one orders index; one client per sidecar submits back to back for ${LOAD_MS / 1000} s ` +
    '(agent commands, and a group command every fifth batch). Retention is set short through the environment ' +
    `(CM_RETENTION_MS 60000, CM_RETENTION_INTERVAL_MS 1000) over ${OLD_ORDERS.toLocaleString('en')} terminal ` +
    'orders completed two hours earlier. **duplicated** counts orders the Management API stub saw more than once.',
);
let indices: FaultIndices;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;
const sidecars: SidecarProcess[] = [];

beforeAll(async () => {
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: 'steady',
    agents: AGENTS,
  }));
  await new OpenSearchSetup({ client: indices.client, ordersIndex: indices.ordersIndex, replicas: 0 }).init();
  await seedOldTerminalOrders();
}, 120_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices, stub, proxy });
  figures.save();
}, 60_000);

/** Orders completed two hours ago (retention keeps 60 s, its minimum), written straight to the index. */
async function seedOldTerminalOrders(): Promise<void> {
  const completed = new Date(Date.now() - 2 * 3600_000).toISOString();
  const lines: string[] = [];
  for (let i = 1; i <= OLD_ORDERS; i++) {
    const order: Order = {
      '@timestamp': completed,
      delivery_timestamp: completed,
      agent: { groups: ['old'] },
      command: {
        source: 'Users/Services',
        user: 'admin',
        target: { type: 'agent', id: `old-${i}` },
        action: { name: 'restart', args: {} },
        timeout: 60,
        status: 'success',
        result: { code: 0, message: 'done' },
        request_id: OLD_REQUEST_ID,
        order_id: i,
      },
      scheduling: {
        principal: 'admin',
        attempts: 1,
        next_attempt_at: completed,
        lease_owner: null,
        lease_expires_at: null,
        sent_at: completed,
        completed_at: completed,
        last_error: null,
      },
    };
    lines.push(JSON.stringify({ create: { _id: `${OLD_REQUEST_ID}-${i}` } }), JSON.stringify(order));
  }
  const res = await indices.client.bulk({
    index: indices.ordersIndex,
    // NDJSON text: the client sends a string body as it is.
    body: `${lines.join('\n')}\n` as unknown as Record<string, unknown>[],
    refresh: true,
  });
  expect((res.body as { errors: boolean }).errors).toBe(false);
}

test('ids unique, every order dispatched once, retention by one sidecar at a time', async () => {
  const env = (id: string): Record<string, string> =>
    sidecarEnv({
      opensearchUrl: opensearchUrl(),
      indices,
      usersFile: users.file,
      managementApiUrl: proxy.url,
      extra: {
        CM_NODE_ID: id,
        CM_LEASE_MS: '3000',
        CM_POLL_INTERVAL_MS: '200',
        CM_DISPATCH_BATCH_SIZE: '100',
        CM_RETENTION_MS: '60000',
        CM_RETENTION_INTERVAL_MS: '1000',
        CM_RETENTION_MODE: 'archive',
      },
    });
  // Started together: the three contend for the retention lock from their first tick.
  sidecars.push(
    ...(await Promise.all(
      ['steady-a', 'steady-b', 'steady-c'].map((id) => startSidecar({ name: id, env: env(id) })),
    )),
  );

  // Who holds the retention lock, sampled while the load runs (layout: `lock-<name>` in the requests index).
  const lockOwners: string[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const res = await indices.client
        .get({ index: indices.requestsIndex, id: 'lock-retention' }, { ignore: [404] })
        .catch(() => undefined);
      const owner = (res?.body as { _source?: { lock?: { owner?: string } } } | undefined)?._source?.lock
        ?.owner;
      if (owner && lockOwners[lockOwners.length - 1] !== owner) lockOwners.push(owner);
      await sleep(100);
    }
  })();

  // Continuous submissions: one client per sidecar, in parallel, each a batch of agent and group commands.
  const requestIds: number[] = [];
  const statuses = new Map<number, number>();
  let orders = 0;
  const until = Date.now() + LOAD_MS;
  await Promise.all(
    sidecars.map(async (s, k) => {
      for (let n = 0; Date.now() < until; n++) {
        const agent = `agent-${String(((n * 7 + k) % AGENTS) + 1).padStart(6, '0')}`;
        const body = {
          commands: [
            command({ targetId: agent }),
            command({ targetId: agent, action: 'fetch-config' }),
            ...(n % 5 === 0 ? [command({ targetType: 'group', targetId: 'steady' })] : []),
          ],
        };
        const answer = await call<SubmitAnswer>(s.url, 'POST', `${API}/commands?summary=true`, {
          token: TOKENS.admin,
          body,
        });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status === 201) {
          for (const c of answer.body.commands) {
            requestIds.push(c.request_id);
            orders += c.orders;
          }
        }
      }
    }),
  );

  expect([...statuses.keys()]).toEqual([201]);
  // Request ids: unique across the three sidecars, and one record each.
  expect(new Set(requestIds).size).toBe(requestIds.length);
  await indices.refresh();
  const records = await indices.client.count({
    index: indices.requestsIndex,
    body: { query: { term: { kind: 'request' } } },
  });
  expect((records.body as { count: number }).count).toBe(requestIds.length);

  // Every order delivered (the stub accepts all), each exactly once.
  await waitFor(
    'every submitted order to be sent',
    async () => (await indices.statusCounts()).pending === 0,
    {
      timeoutMs: 60_000,
      intervalMs: 500,
    },
  );
  const live = (await indices.allOrders()).filter((o) => o.order.command.request_id !== OLD_REQUEST_ID);
  expect(live.length).toBe(orders);
  expect(live.filter((o) => o.order.command.status !== 'sent').map((o) => o.id)).toEqual([]);
  const seenTwice = live.filter((o) => (proxy.seen.get(o.id) ?? 0) !== 1).map((o) => o.id);
  expect(seenTwice).toEqual([]);

  // Retention: every old order removed (and archived) exactly once, by runs that never overlapped.
  await waitFor(
    'retention to remove the old orders',
    async () => (await indices.countOrders({ term: { 'command.request_id': OLD_REQUEST_ID } })) === 0,
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  sampling = false;
  await sampler;
  const metrics = await Promise.all(
    sidecars.map(async (s) => (await call(s.url, 'GET', '/metrics', { token: TOKENS.admin })).text),
  );
  const removedBy = metrics.map((m) => metricValue(m, 'scheduler_orders_retention_removed_total') ?? 0);
  const dispatchedBy = metrics.map((m) => metricValue(m, 'scheduler_orders_dispatched_total') ?? 0);
  const retentionRuns = sidecars.flatMap((s) =>
    logsMatching(s, /^retention removed terminal orders$/).map((l) => ({
      owner: s.nodeId,
      removed: l.removed,
      conflicts: l.conflicts,
    })),
  );
  expect(removedBy.reduce((a, b) => a + b, 0)).toBe(OLD_ORDERS);
  expect(retentionRuns.map((r) => r.conflicts)).toEqual(retentionRuns.map(() => 0));
  await indices.refresh();
  const archived = await indices.client.count({ index: `${indices.ordersIndex}-archive-*` });
  expect((archived.body as { count: number }).count).toBe(OLD_ORDERS);
  // Dispatch attempts across the three sidecars = orders: nothing went out twice, nothing was retried.
  expect(dispatchedBy.reduce((a, b) => a + b, 0)).toBe(orders);

  await Promise.all(sidecars.map((s) => s.stop()));
  figures.add({
    case: 'steady state, 3 sidecars',
    submitted: orders,
    delivered: live.filter((o) => (proxy.accepted.get(o.id) ?? 0) > 0).length,
    duplicated: live.filter((o) => (proxy.accepted.get(o.id) ?? 0) > 1).length,
    lost: live.filter((o) => (proxy.accepted.get(o.id) ?? 0) === 0).length,
    failed: 0,
    notes:
      `${requestIds.length} requests in ${LOAD_MS / 1000} s, ids unique; dispatched per sidecar ` +
      `${dispatchedBy.join(' / ')}; retention removed ${removedBy.join(' / ')} of ${OLD_ORDERS} old orders, ` +
      `${retentionRuns.length} run(s) with removals, 0 conflicts; lock holders seen in turn: ${lockOwners.join(' → ') || 'none sampled'}`,
  });
}, 240_000);
