/**
 * OpenSearch stopped and restarted under load. The test owns the node: a second single-node OpenSearch
 * started with `scripts/opensearch` in its own home folder and port (never the run's shared node), stopped
 * mid-load, and started again on the same port with its data kept (`OPENSEARCH_KEEP_DATA=1`).
 *
 * Expected: while it is down the API answers 503 with Retry-After (not 500) and /ready says not ready;
 * the scheduler stops and resumes by itself after the restart; every order accepted before, during or after
 * the outage is delivered (nothing lost).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { OPENSEARCH_SCRIPT } from '@command-manager/local-opensearch';
import type { ManagementApiHandle } from '@command-manager-examples/management-api';
import type { FaultProxy } from './support/fault-proxy';
import { FigureBook } from './support/figures';
import { API, call, command, sidecarEnv, sleep, TOKENS, waitFor } from './support/fixtures';
import type { FaultIndices, SubmitAnswer, UsersFixture } from './support/fixtures';
import { startFaultScenario, stopFaultScenario } from './support/scenario';
import { logsMatching, REPO_ROOT, startSidecar } from './support/sidecar-process';
import type { SidecarProcess } from './support/sidecar-process';

const run = promisify(execFile);
const GROUP = 50;
const DOWN_UNDER_LOAD_MS = 8000;
const POLL_MS = 200;

const figures = new FigureBook(
  '3-opensearch-restart',
  'OpenSearch stopped and restarted under load',
  'A node of its own (`scripts/opensearch`, own home folder and port), one sidecar, one client submitting ' +
    `back to back (a ${GROUP}-agent group, then one agent, alternately). The node is stopped, left down ` +
    `${DOWN_UNDER_LOAD_MS / 1000} s, and started again with its data (OPENSEARCH_KEEP_DATA=1). **submitted** is ` +
    'every order in the index at the end; **recovered** runs from the node answering again to the next 201.',
);
const home = path.join(REPO_ROOT, '.cache', 'opensearch', `faults-${randomBytes(3).toString('hex')}`);
let port = 0;
let nodeUrl = '';
let indices: FaultIndices | undefined;
let users: UsersFixture;
let stub: ManagementApiHandle;
let proxy: FaultProxy;
let sidecar: SidecarProcess;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** `scripts/opensearch <cmd>` for this test's node only (its own home folder and port). */
async function node(cmd: 'start' | 'stop', keepData = false): Promise<string> {
  const { stdout } = await run('bash', [OPENSEARCH_SCRIPT, cmd], {
    env: {
      ...process.env,
      OPENSEARCH_HOME_DIR: home,
      OPENSEARCH_PORT: String(port),
      OPENSEARCH_HEAP: '512m',
      // A plain node, whatever the run's node is (OPENSEARCH_SECURE=1 in CI): this test is about the outage.
      OPENSEARCH_SECURE: '',
      ...(keepData && { OPENSEARCH_KEEP_DATA: '1' }),
    },
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim().split('\n').pop() ?? '';
}

beforeAll(async () => {
  port = await freePort();
  nodeUrl = await node('start');
  expect(nodeUrl).toBe(`http://127.0.0.1:${port}`);
  ({ users, indices, stub, proxy } = await startFaultScenario({
    file: __filename,
    opensearchUrl: nodeUrl,
    group: 'load',
    agents: GROUP,
    // The node is this test's: its indices go with it.
    deleteIndices: false,
  }));
  sidecar = await startSidecar({
    name: 'os-restart',
    env: sidecarEnv({
      opensearchUrl: nodeUrl,
      indices,
      usersFile: users.file,
      managementApiUrl: proxy.url,
      extra: {
        OPENSEARCH_REQUEST_TIMEOUT_MS: '3000',
        CM_LEASE_MS: '3000',
        CM_POLL_INTERVAL_MS: String(POLL_MS),
        CM_RETRY_BASE_MS: '200',
        CM_RETRY_MAX_MS: '2000',
      },
    }),
  });
}, 420_000);

afterAll(async () => {
  // The node is this test's: its indices go with it.
  await stopFaultScenario({ users, indices, stub, proxy }, { deleteIndices: false });
  await node('stop').catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
  figures.save();
}, 180_000);

interface Attempt {
  at: number;
  status: number;
  retryAfter: string | null;
  code?: string;
  requestId?: number;
  orders?: number;
}

/** What the first test saw, for the tests that judge it. */
const stash: { outage: Attempt[]; failedRoundTimes: number[]; downMs: number } = {
  outage: [],
  failedRoundTimes: [],
  downMs: 0,
};

test('503 with Retry-After while down, the scheduler resumes after the restart, nothing is lost', async () => {
  const idx = indices as FaultIndices;
  const attempts: Attempt[] = [];
  let loading = true;
  // One client submitting back to back: alternately a group (50 orders) and one agent.
  const load = (async () => {
    for (let n = 0; loading; n++) {
      const body = {
        commands: [
          n % 2 === 0
            ? command({ targetType: 'group', targetId: 'load' })
            : command({ targetId: `agent-${String((n % GROUP) + 1).padStart(6, '0')}` }),
        ],
      };
      const at = Date.now();
      const a = await call<SubmitAnswer & { error?: { code?: string } }>(
        sidecar.url,
        'POST',
        `${API}/commands?summary=true`,
        { token: TOKENS.admin, body, timeoutMs: 30_000 },
      ).catch(() => undefined);
      if (!a) {
        attempts.push({ at, status: 0, retryAfter: null });
      } else {
        attempts.push({
          at,
          status: a.status,
          retryAfter: a.headers.get('retry-after'),
          ...(a.body?.error?.code !== undefined && { code: a.body.error.code }),
          ...(a.status === 201 && {
            requestId: a.body.commands[0]?.request_id,
            orders: a.body.commands[0]?.orders,
          }),
        });
      }
      // A client honours Retry-After on 503; keep the load going otherwise.
      await sleep(a?.status === 503 ? 500 : 100);
    }
  })();

  try {
    await waitFor('load to be accepted', () => attempts.filter((a) => a.status === 201).length >= 10, {
      timeoutMs: 60_000,
    });
    const stopAt = Date.now();
    await node('stop');
    const downAt = Date.now();
    await sleep(DOWN_UNDER_LOAD_MS);
    const ready = await call(sidecar.url, 'GET', '/ready');
    expect(ready.status).toBe(503);
    const restartAt = Date.now();
    expect(await node('start', true)).toBe(nodeUrl);
    const upAt = Date.now();
    const firstCreated = await waitFor(
      'a 201 after the restart',
      () => attempts.find((a) => a.at >= upAt && a.status === 201),
      { timeoutMs: 60_000 },
    );
    await sleep(3000);
    loading = false;
    await load;

    const outage = attempts.filter((a) => a.at >= stopAt && a.at < upAt);
    const refusedDuringOutage = outage.filter((a) => a.status !== 201);
    expect(refusedDuringOutage.length).toBeGreaterThan(0);

    // Nothing lost: every order in the index (all that any 201, or partial write, put there) is delivered.
    await waitFor('every order to leave pending', async () => (await idx.statusCounts()).pending === 0, {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const orders = await idx.allOrders();
    const created = attempts.filter((a) => a.status === 201);
    const createdOrders = created.reduce((s, a) => s + (a.orders ?? 0), 0);
    for (const a of created) {
      expect(orders.filter((o) => o.order.command.request_id === a.requestId).length).toBe(a.orders);
    }
    const undelivered = orders.filter((o) => (proxy.accepted.get(o.id) ?? 0) === 0);
    expect(orders.filter((o) => o.order.command.status !== 'sent').map((o) => o.id)).toEqual([]);
    expect(undelivered.map((o) => o.id)).toEqual([]);
    const duplicated = orders.filter((o) => (proxy.accepted.get(o.id) ?? 0) > 1);
    expect(duplicated.filter((o) => (proxy.accepted.get(o.id) ?? 0) > 2).map((o) => o.id)).toEqual([]);

    // The scheduler resumed by itself.
    const firstDelivery = proxy.calls.find((c) => c.at >= upAt);
    expect(firstDelivery).toBeDefined();
    const failedRounds = logsMatching(sidecar, /claim round failed|failed/).filter((l) => {
      const t = Date.parse(String(l.timestamp));
      return t >= downAt && t < upAt;
    });
    const statusCounts = new Map<string, number>();
    for (const a of outage) {
      const key = `${a.status}${a.code ? ` ${a.code}` : ''}`;
      statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    }
    figures.add({
      case: `node stopped ${((upAt - downAt) / 1000).toFixed(0)} s under load`,
      submitted: orders.length,
      delivered: orders.length - undelivered.length,
      duplicated: duplicated.length,
      lost: undelivered.length,
      failed: 0,
      recoveredMs: firstCreated.at - upAt,
      notes:
        `${created.length} submissions answered 201 (${createdOrders} orders); during the outage: ` +
        `${[...statusCounts].map(([k, n]) => `${n}× ${k}`).join(', ')}; restart took ` +
        `${((upAt - restartAt) / 1000).toFixed(0)} s; first delivery ${(((firstDelivery?.at ?? upAt) - upAt) / 1000).toFixed(1)} s ` +
        `after the node was up; ${failedRounds.length} scheduler error lines while down`,
    });
    // Orders whose submission was not answered 201 (its answer was a 503, or never came) yet are stored.
    const createdIds = new Set(created.map((a) => a.requestId));
    const unanswered = new Map<number, number>();
    for (const o of orders) {
      const r = o.order.command.request_id;
      if (!createdIds.has(r)) unanswered.set(r, (unanswered.get(r) ?? 0) + 1);
    }
    if (unanswered.size > 0) {
      const states = await Promise.all(
        [...unanswered.keys()].map(async (r) => `${r}: ${String((await idx.requestRecord(r))?.write_state)}`),
      );
      figures.observe(
        `${[...unanswered.values()].reduce((a, b) => a + b, 0)} orders of ${unanswered.size} request(s) ` +
          `(request id: write_state ${states.join(', ')}) were stored and delivered although their submission ` +
          'was not answered 201 (the answers in the outage were 503, or none): the write reached OpenSearch as ' +
          'the node stopped and its acknowledgement was lost. A client that retries the 503 without an ' +
          'Idempotency-Key submits those commands twice.',
      );
    }
    stash.outage = outage;
    // Rounds that asked the node and failed while it was fully down (between its stop and its restart):
    // claim rounds (until the partitions' fence closes, then the scheduler asks nothing) and partition
    // lease rounds.
    stash.failedRoundTimes = logsMatching(sidecar, /^(claim round failed|partition lease round failed)$/)
      .map((l) => Date.parse(String(l.timestamp)))
      .filter((t) => t >= downAt && t < restartAt)
      .sort((a, b) => a - b);
    stash.downMs = restartAt - downAt;
    const median = medianGapMs(stash.failedRoundTimes);
    const spacing =
      `failed ${stash.failedRoundTimes.length} claim and partition lease rounds in ${((restartAt - downAt) / 1000).toFixed(1)} s ` +
      `while the node was down (poll interval ${POLL_MS} ms, median spacing ${median ?? '—'} ms)`;
    figures.observe(
      stash.failedRoundTimes.length > stash.downMs / (2 * POLL_MS)
        ? `BUG (scheduler): no backoff while OpenSearch is down: the scheduler ${spacing}, ` +
            'i.e. it retries at about the poll rate and logs an error each time.'
        : `The scheduler ${spacing}.`,
    );
  } finally {
    loading = false;
    await load;
  }
}, 600_000);

test('every refusal while OpenSearch was down is a 503 with Retry-After, never a 500', () => {
  const refusals = stash.outage.filter((a) => a.status !== 201);
  expect(refusals.length).toBeGreaterThan(0);
  for (const a of refusals) {
    expect({ status: a.status, code: a.code }).toEqual({ status: 503, code: 'STORE_UNAVAILABLE' });
    expect(a.retryAfter).toMatch(/^\d+$/);
  }
});

// While OpenSearch is down, a failed claim round is logged and the scheduler's poll loop backs off (growing
// delay, capped) until a round succeeds: at the plain poll interval it would hammer OpenSearch (and the log),
// with the client's own retries on top.
// Median spacing of the failed rounds while the node was down, against twice the poll interval.
test('the scheduler backs off while OpenSearch is down', () => {
  expect(stash.failedRoundTimes.length).toBeGreaterThan(3);
  // On average, at most one failed round every two poll intervals.
  expect(stash.failedRoundTimes.length).toBeLessThanOrEqual(stash.downMs / (2 * POLL_MS));
});

function medianGapMs(times: readonly number[]): number | undefined {
  const gaps = times
    .slice(1)
    .map((t, i) => t - (times[i] as number))
    .sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}
