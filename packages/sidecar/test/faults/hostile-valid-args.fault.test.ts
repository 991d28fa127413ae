/**
 * Hostile but valid: commands and orders with large `action.args`, against sidecars whose heap is capped as
 * `scripts/start` caps it (`--max-old-space-size=128`).
 *
 * - A ~900 KB `set-group` to a 300-agent group is refused before anything is written (no order, no record,
 *   no request id), and the submitting sidecar stays up.
 * - Orders with ~900 KB of args each already in the index (written directly with the OpenSearch client, as
 *   an older version or another writer could have) are claimed and delivered by a sidecar without it dying:
 *   claims read no args, delivery reads them in calls bounded by bytes.
 * - A `read-only` caller's `GET /orders?size=200` over those orders is answered (a page clamped by bytes)
 *   and the sidecar that answers it stays up.
 * Meanwhile other callers are served: an ordinary submission is written and delivered.
 */
import { newOrder } from '@command-manager/core';
import type { Order } from '@command-manager/core';
import { opensearchUrl } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, sidecarEnv, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, SubmitAnswer, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

jest.setTimeout(300_000);

const GROUP = 'hostile-args';
const GROUP_SIZE = 300;
/** Orders with large args written directly into the index. */
const LARGE_ORDERS = 100;
/** ~900 KB of args: 900 group names of 1,000 characters (each leaf well under Lucene's term limit). */
const LARGE_ARGS = { groups: Array.from({ length: 900 }, (_, i) => `g${i}-`.padEnd(1000, 'x')) };
/** How `scripts/start` starts the sidecar. */
const HEAP_CAP = { NODE_OPTIONS: '--max-old-space-size=128' };

const figures = new FigureBook(
  '6-hostile-valid-args',
  'Hostile but valid: large args',
  `Sidecars started with V8's old space capped at 128 MB, as \`scripts/start\` starts them. A ~900 KB ` +
    `\`set-group\` to a ${GROUP_SIZE}-agent group; ${LARGE_ORDERS} orders with ~900 KB of args each written ` +
    'directly into the orders index (as an older version or another writer could have), then claimed and ' +
    'delivered by a second sidecar; a `read-only` caller lists them with `size=200`. **alive** in the notes: ' +
    'every sidecar still running at the end of the case; other callers: an ordinary submission beside it.',
);
let indices: FaultIndices;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;
/** Takes requests and listings; no scheduler. */
let front: SidecarProcess;

interface ErrorBody {
  error?: { code?: string; details?: Array<{ pointer: string; message: string }> };
}

function alive(s: SidecarProcess): Promise<boolean> {
  return Promise.race([
    s.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 50)),
  ]);
}

/** Status of every order, read without args (the test process need not hold them either). */
async function statuses(): Promise<Map<string, string>> {
  await indices.refresh();
  const res = await indices.client.search({
    index: indices.ordersIndex,
    body: { size: 10_000, _source: ['command.status'], query: { match_all: {} } },
  });
  const hits = (res.body as { hits: { hits: Array<{ _id: string; _source: Order }> } }).hits.hits;
  return new Map(hits.map((h) => [h._id, h._source.command.status]));
}

async function ordinarySubmission(): Promise<number> {
  const answer = await call<SubmitAnswer>(front.url, 'POST', `${API}/commands`, {
    token: TOKENS.admin,
    body: { commands: [command({ targetId: 'agent-000001' })] },
  });
  expect(answer.status).toBe(201);
  return answer.body.commands[0]?.orders ?? 0;
}

beforeAll(async () => {
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: GROUP,
    agents: GROUP_SIZE,
  }));
  front = await startSidecar({
    name: 'args-front',
    env: sidecarEnv({
      opensearchUrl: opensearchUrl(),
      indices,
      usersFile: users.file,
      extra: { ...HEAP_CAP, CM_SCHEDULER_ENABLED: 'false' },
    }),
  });
}, 180_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices, stub, proxy });
  figures.save();
}, 60_000);

it('a ~900 KB set-group to a 300-agent group is refused before anything is written', async () => {
  const idsBefore = await indices.lastRequestId();
  const ordersBefore = await indices.countOrders();
  const body = {
    commands: [
      {
        source: 'Users/Services',
        user: 'admin',
        target: { type: 'group', id: GROUP },
        action: { name: 'set-group', args: LARGE_ARGS },
        timeout: 600,
      },
    ],
  };
  expect(JSON.stringify(body).length).toBeGreaterThan(900_000);
  const answer = await call<ErrorBody>(front.url, 'POST', `${API}/commands`, { token: TOKENS.admin, body });
  expect(answer.status).toBe(413);
  expect(answer.body.error?.code).toBe('ARGS_TOO_LARGE');
  expect(answer.body.error?.details?.map((d) => d.pointer)).toEqual(['/commands/0/action/args']);
  const written = (await indices.countOrders()) - ordersBefore;
  const idsConsumed = (await indices.lastRequestId()) - idsBefore;
  expect({ written, idsConsumed }).toEqual({ written: 0, idsConsumed: 0 });
  expect(await alive(front)).toBe(true);
  // Another caller is served at once.
  expect(await ordinarySubmission()).toBe(1);
  figures.add({
    case: `~900 KB set-group to a ${GROUP_SIZE}-agent group`,
    submitted: 1,
    refused: 1,
    written,
    lost: 0,
    notes: `HTTP ${answer.status} ${answer.body.error?.code}; ${idsConsumed} request id(s) consumed; sidecar alive; other caller served`,
  });
});

it('orders with ~900 KB args already in the index are claimed and delivered by a capped sidecar, which stays up', async () => {
  // Written as another writer would: the OpenSearch client, bulk, 10 orders (~9 MB) per request.
  const now = new Date();
  const requestId = 900_000;
  const large = Array.from({ length: LARGE_ORDERS }, (_, i) =>
    newOrder({
      command: {
        source: 'Users/Services',
        user: 'admin',
        target: { type: 'group', id: GROUP },
        action: { name: 'set-group', args: LARGE_ARGS },
        timeout: 600,
      },
      requestId,
      orderId: i + 1,
      target: { type: 'agent', id: `agent-${String(i + 1).padStart(6, '0')}` },
      groups: [GROUP],
      principal: 'older-writer',
      now,
    }),
  );
  for (let i = 0; i < large.length; i += 10) {
    const body = large
      .slice(i, i + 10)
      .flatMap((o) => [{ create: { _id: `${requestId}-${o.command.order_id}` } }, o]);
    const res = await indices.client.bulk({ index: indices.ordersIndex, body });
    expect((res.body as { errors: boolean }).errors).toBe(false);
  }
  await indices.refresh();

  const started = Date.now();
  const dispatcher = await startSidecar({
    name: 'args-dispatcher',
    env: sidecarEnv({
      opensearchUrl: opensearchUrl(),
      indices,
      usersFile: users.file,
      managementApiUrl: proxy.url,
      extra: { ...HEAP_CAP, CM_POLL_INTERVAL_MS: '200' },
    }),
  });
  const largeIds = large.map((o) => `${requestId}-${o.command.order_id}`);
  // Beside it, another caller's ordinary submission is written and delivered too.
  expect(await ordinarySubmission()).toBe(1);
  const done = await waitFor(
    'every large order delivered (or the dispatcher gone)',
    async () => {
      if (!(await alive(dispatcher))) return 'dead';
      const s = await statuses();
      return largeIds.every((id) => s.get(id) === 'sent') && [...s.values()].every((v) => v !== 'pending')
        ? 'sent'
        : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 1000 },
  );
  const recoveredMs = Date.now() - started;
  expect(done).toBe('sent');
  expect(await alive(dispatcher)).toBe(true);
  const received = new Set(stub.received);
  const delivered = largeIds.filter((id) => received.has(id)).length;
  const lost = largeIds.length - delivered;
  expect(lost).toBe(0);
  figures.add({
    case: `${LARGE_ORDERS} stored orders with ~900 KB args each`,
    submitted: LARGE_ORDERS,
    delivered,
    lost,
    notes:
      `all sent ${(recoveredMs / 1000).toFixed(1)} s after the dispatching sidecar was started; it stayed alive; ` +
      'an ordinary submission beside it written and delivered',
  });
  figures.observe(
    `The ${LARGE_ORDERS} large orders went out in ${Math.ceil(LARGE_ORDERS / 2)}+ \`/accept_commands\` calls: ` +
      'delivery reads args just before each call, at most `scheduler.deliveryMaxBytes` (2 MiB) of them.',
  );
});

it("a read-only caller's GET /orders?size=200 over those orders is answered, and the sidecar stays up", async () => {
  const answer = await call<{ orders?: unknown[]; cursor?: string }>(
    front.url,
    'GET',
    `${API}/orders?size=200`,
    { token: TOKENS.readOnly, timeoutMs: 120_000 },
  );
  expect(answer.status).toBe(200);
  const items = answer.body.orders?.length ?? 0;
  expect(items).toBeGreaterThan(0);
  expect(items).toBeLessThan(200);
  expect(answer.body.cursor).toEqual(expect.any(String));
  expect(await alive(front)).toBe(true);
  // And it keeps serving.
  expect(await ordinarySubmission()).toBe(1);
  figures.add({
    case: 'read-only GET /orders?size=200 over them',
    submitted: 1,
    lost: 0,
    notes: `HTTP ${answer.status}, ${items} orders in the page (clamped by bytes) and a cursor; sidecar alive; other caller served`,
  });
});
