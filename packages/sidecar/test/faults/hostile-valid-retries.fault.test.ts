/**
 * Valid but hostile traffic against a real sidecar process: result reports the orders index cannot store,
 * and an Idempotency-Key retried after a 503. The sidecar reaches OpenSearch through a fault proxy, which
 * refuses calls to the agents index on demand (the agents index briefly unavailable) while serving the
 * rest. For each case: orders lost 0, the sidecar alive, other callers served.
 */
import { readFileSync } from 'node:fs';
import { opensearchEnv, opensearchUrl } from '@command-manager/test-support';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, sidecarEnv, sleep, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, SubmitAnswer, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

const GROUP = 'hostile-valid';
const AGENTS = 40;

const figures = new FigureBook(
  '6-hostile-valid-retries',
  'Hostile but valid: oversized results, an idempotent retry after a 503',
  `One sidecar with its scheduler, delivering to the Management API stub; it reaches OpenSearch through a ` +
    `fault proxy that can refuse the agents index alone. A group of ${AGENTS} agents. "lost": orders ` +
    'accepted and neither delivered nor failed with a reason; "refused": reports or submissions answered ' +
    'with an error.',
);
let indices: FaultIndices;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;
let osProxy: FaultProxy | undefined;
let sidecar: SidecarProcess;

interface ResultsAnswer {
  results: Array<{ id: string; outcome: string; message?: string; code?: string }>;
  applied: number;
  invalid: number;
}

beforeAll(async () => {
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: opensearchUrl(),
    group: GROUP,
    agents: AGENTS,
  }));
  // On a secured node the proxy speaks TLS to it and the sidecar, over the proxy's plain HTTP, still
  // authenticates as its own user.
  const { OPENSEARCH_URL: _url, OPENSEARCH_CA_FILE: caFile, ...credentials } = opensearchEnv();
  osProxy = await FaultProxy.start({
    target: opensearchUrl(),
    ...(caFile !== undefined && { targetCa: readFileSync(caFile) }),
  });
  sidecar = await startSidecar({
    name: 'hostile-valid',
    env: sidecarEnv({
      opensearchUrl: osProxy.url,
      indices,
      usersFile: users.file,
      managementApiUrl: proxy.url,
      extra: {
        ...credentials,
        CM_POLL_INTERVAL_MS: '200',
        CM_RETRY_BASE_MS: '200',
        CM_RETRY_MAX_MS: '1000',
      },
    }),
  });
}, 120_000);

afterAll(async () => {
  await stopFaultScenario({ users, indices, stub, proxy });
  await osProxy?.close();
  figures.save();
}, 60_000);

const submit = (body: unknown, key?: string): ReturnType<typeof call<SubmitAnswer>> =>
  call<SubmitAnswer>(sidecar.url, 'POST', `${API}/commands?summary=true`, {
    token: TOKENS.admin,
    body,
    ...(key !== undefined && { headers: { 'idempotency-key': key } }),
  });

/** Another caller, served while the case runs: a read-only listing and the health check. */
async function otherCallerServed(): Promise<boolean> {
  const [list, health] = await Promise.all([
    call(sidecar.url, 'GET', `${API}/orders?size=5`, { token: TOKENS.readOnly }),
    call(sidecar.url, 'GET', '/health'),
  ]);
  return list.status === 200 && health.status === 200;
}

async function alive(): Promise<boolean> {
  const exited = await Promise.race([sidecar.exited.then(() => true), sleep(50).then(() => false)]);
  return !exited && (await call(sidecar.url, 'GET', '/health')).status === 200;
}

/** Orders of a request, once each is delivered (sent) or decided. */
async function settled(requestId: number, n: number): Promise<Map<string, string>> {
  return waitFor(
    `the ${n} orders of request ${requestId} to be delivered`,
    async () => {
      const all = (await indices.allOrders()).filter((o) => o.order.command.request_id === requestId);
      const done = all.filter((o) => o.order.command.status !== 'pending');
      return all.length === n && done.length === n
        ? new Map(all.map((o) => [o.id, o.order.command.status]))
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
}

test('an idempotent retry after a 503 (agents index briefly unavailable) is processed, once', async () => {
  const started = Date.now();
  const body = { commands: [command({ targetType: 'group', targetId: GROUP })] };
  const key = 'retry-after-503';
  // The agents index refuses (503) while the requests index still answers: the key is reserved first.
  const faulty = osProxy as FaultProxy;
  faulty.only = new RegExp(`^\\S+ /${indices.agentsIndex}/`);
  faulty.mode = { kind: 'status', status: 503 };
  const first = await submit(body, key);
  const servedDuringFault = await otherCallerServed();
  expect(first.status).toBe(503);
  const retryAfterSec = Number(first.headers.get('retry-after'));
  expect(retryAfterSec).toBeGreaterThanOrEqual(0);
  faulty.mode = { kind: 'pass' };
  faulty.only = undefined;
  const faultEnded = Date.now();

  await sleep(Math.min(retryAfterSec, 5) * 1000);
  const retry = await submit(body, key);
  expect(retry.status).toBe(201);
  const recoveredMs = Date.now() - faultEnded;
  const requestId = retry.body.commands[0]?.request_id as number;
  expect(retry.body.commands[0]?.orders).toBe(AGENTS);
  // The same key again is the same answer: nothing written twice.
  const replay = await submit(body, key);
  expect(replay.status).toBe(201);
  expect(replay.body.commands[0]?.request_id).toBe(requestId);

  const statuses = await settled(requestId, AGENTS);
  const delivered = [...statuses.keys()].filter((id) => (proxy.accepted.get(id) ?? 0) > 0).length;
  const lost = AGENTS - [...statuses.values()].filter((s) => s !== 'pending').length;
  const isAlive = await alive();
  const served = servedDuringFault && (await otherCallerServed());
  expect({ lost, isAlive, served }).toEqual({ lost: 0, isAlive: true, served: true });
  figures.add({
    case: 'an idempotent retry after a 503 (agents index refused by the proxy)',
    submitted: AGENTS,
    delivered,
    duplicated: proxy.duplicates().orders,
    lost,
    refused: 1,
    recoveredMs,
    notes: `first try 503 (Retry-After ${retryAfterSec}); the retry with the same key 201, its replay the same request ${requestId}; sidecar alive: ${isAlive}; other callers served during the fault: ${servedDuringFault}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  });
}, 120_000);

test('oversized results are refused per item; the others are applied; nothing is lost', async () => {
  const submitted = await submit({ commands: [command({ targetType: 'group', targetId: GROUP })] });
  expect(submitted.status).toBe(201);
  const requestId = submitted.body.commands[0]?.request_id as number;
  await settled(requestId, AGENTS);
  const ids = Array.from({ length: AGENTS }, (_, i) => `${requestId}-${i + 1}`);
  // A quarter with a 40 KB data leaf, a quarter with a code beyond 2^31-1, the rest ordinary.
  const report = (id: string, i: number): Record<string, unknown> => {
    if (i % 4 === 0)
      return { id, status: 'success', result: { code: 0, message: 'ok', data: { log: 'x'.repeat(40_000) } } };
    if (i % 4 === 1) return { id, status: 'failure', result: { code: 2 ** 31 + i, message: 'huge code' } };
    return { id, status: 'success', result: { code: 0, message: 'ok', data: { lines: i } } };
  };
  const first = await call<ResultsAnswer>(sidecar.url, 'POST', `${API}/results`, {
    token: TOKENS.comms,
    body: { results: ids.map(report) },
  });
  const servedMeanwhile = await otherCallerServed();
  expect(first.status).toBe(200);
  const refused = first.body.results.filter((r) => r.outcome === 'invalid');
  expect(refused).toHaveLength(AGENTS / 2);
  expect(refused.every((r) => r.code === 'RESULT_NOT_STORABLE')).toBe(true);
  expect(first.body.applied).toBe(AGENTS / 2);
  // The refused ones, reported again within the bounds, are applied: every order ends decided.
  const again = await call<ResultsAnswer>(sidecar.url, 'POST', `${API}/results`, {
    token: TOKENS.comms,
    body: {
      results: refused.map((r) => ({
        id: r.id,
        status: 'failure',
        result: { code: 1, message: 'truncated' },
      })),
    },
  });
  expect(again.status).toBe(200);
  expect(again.body.applied).toBe(AGENTS / 2);
  const orders = (await indices.allOrders()).filter((o) => o.order.command.request_id === requestId);
  const decided = orders.filter((o) => ['success', 'failure'].includes(o.order.command.status)).length;
  const lost = AGENTS - decided;
  const reportedBy = new Set(orders.map((o) => o.order.scheduling.reported_by));
  const isAlive = await alive();
  expect({ lost, isAlive, served: servedMeanwhile, reportedBy: [...reportedBy] }).toEqual({
    lost: 0,
    isAlive: true,
    served: true,
    reportedBy: ['comms'],
  });
  figures.add({
    case: 'oversized results (40 KB data leaf, code beyond 2^31-1) in one bulk report',
    submitted: AGENTS,
    delivered: AGENTS,
    lost,
    refused: refused.length,
    notes: `first call 200: ${first.body.applied} applied, ${refused.length} invalid (RESULT_NOT_STORABLE); the refused reported again within bounds: all applied; reported_by recorded; sidecar alive: ${isAlive}; other callers served: ${servedMeanwhile}`,
  });
}, 120_000);
