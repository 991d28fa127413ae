import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import { agentId } from '@command-manager-examples/agents';
import { startCommsApi, type CommsApiHandle } from '@command-manager-examples/comms-api';
import {
  startManagementApi,
  startPullConsumer,
  type AcceptedOrder,
} from '@command-manager-examples/management-api';
import type { StatusCounts } from '@command-manager/core';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import {
  createAgentsIndex,
  createOpenSearchClient,
  indexLayout,
  seedAgents,
} from '@command-manager/opensearch';
import { startLocalOpenSearch, stopLocalOpenSearch } from '@command-manager/local-opensearch';
import { REPO_ROOT, startSidecarProcess, type SidecarProcess } from './internal/sidecar-process';
import { startSimulators } from './internal/simulators';

export interface E2eOptions {
  /** OpenSearch to use. Unset: `OPENSEARCH_URL`, else a local node is started (and stopped at the end). */
  opensearchUrl?: string;
  /** Agents in the group, hence orders of the one command; default 1,000. */
  agents?: number;
  /**
   * Share (0..1) of the agents that report `failure`; default 0.05. `round(agents × share)` agents fail,
   * every time: the failing agents are a separate simulator whose every order fails, so counts are exact.
   */
  failureShare?: number;
  /**
   * `push` (default): the sidecar posts orders to the reference Management API's `/accept_commands`.
   * `pull`: the sidecar runs with `scheduler.delivery` = pull and the reference Management API claims the
   * orders from it and acknowledges them.
   */
  delivery?: 'push' | 'pull';
  /** Group name; default `e2e`. */
  group?: string;
  /**
   * Offline agents (`offline-agent-000001` …): members of the group whose `agent.status` is `disconnected`
   * and that never poll. Their orders must fail with 908 (agent offline) when the delivery window ends.
   * Default 0.
   */
  offlineAgents?: number;
  /**
   * Late agents (`late-agent-000001` …): they join the group (and start polling) `lateAfterMs` after the
   * submission; the command is then a live group command, and each must get exactly one order. Default 0.
   */
  lateAgents?: number;
  /**
   * Sidecar processes sharing the indices (1 or 2; default 1). With 2, both dispatch and both run the
   * membership poller; the API calls go to the first.
   */
  sidecars?: number;
  /** When the late agents join, after the submission; default 5,000. */
  lateAfterMs?: number;
  /**
   * The command's `delivery_window_s` when there are offline or late agents (default 12; its `timeout` is
   * then min(6, window)), so that the offline agents' orders end within seconds.
   */
  deliveryWindowS?: number;
  /** Prefix of every index this run creates (deleted at the end); default `cm-e2e-<random>`. */
  indexPrefix?: string;
  /** Bound on waiting for every order to be terminal; default 300,000. */
  timeoutMs?: number;
  /** How often progress is read; default 250. */
  progressIntervalMs?: number;
  /** Keep the indices (to look at the orders afterwards). */
  keepIndices?: boolean;
  /** Aborts the run (Ctrl-C): everything started is stopped and cleaned up. */
  signal?: AbortSignal;
  /** Called with each progress reading. */
  onProgress?: (progress: E2eProgress) => void;
  /** Step-by-step lines; silent by default. */
  log?: (message: string) => void;
}

export interface E2eProgress {
  requestId: number;
  total: number;
  counts: StatusCounts;
  done: boolean;
  /** Since the command was submitted. */
  elapsedMs: number;
}

export interface E2eReport {
  delivery: 'push' | 'pull';
  /** True when every order is terminal and the counts are the expected ones (and nothing else went wrong). */
  ok: boolean;
  /** What did not match, in words; empty when `ok`. */
  problems: string[];
  agents: number;
  group: string;
  /** `offline`: orders failed 908 (agent offline); `late`: orders of agents that joined after submitting. */
  expected: { success: number; failure: number; offline: number; late: number };
  requestId: number;
  /** Orders the command expanded to. */
  orders: number;
  /** Final counts, read back through the HTTP API. */
  counts: StatusCounts;
  /** Submit call: group expansion and writing the orders. */
  submitMs: number;
  /** From submitting the command to every order terminal. */
  elapsedMs: number;
  /** What the agent simulators report (results posted). */
  agentsReport: { succeeded: number; failed: number; lost: number };
  /** Sidecar processes that ran (and were stopped). */
  sidecars: number;
  /** The sidecars' exit code after SIGTERM (0: every one stopped gracefully; else the first other code). */
  sidecarExitCode: number | null;
  /** Where the sidecar's JSON logs were written (removed at the end unless the run failed). */
  sidecarLog: string;
}

const API = '/_plugins/_command_manager';

interface ProgressBody {
  request: { request_id: number; total_orders: number; write_state: string };
  counts: StatusCounts;
  done: boolean;
}

/**
 * Every order is terminal. `done` alone is not enough: the counts come from a search, which sees orders
 * only once the index has refreshed (about a second after they were written), and `done` is computed from
 * those counts, so right after a submission it can say "done" with orders not yet visible. Every order of a
 * complete write must be counted too.
 */
function finished(p: ProgressBody): boolean {
  const c = p.counts;
  const counted = c.pending + c.sent + c.success + c.failure;
  return p.done && (p.request.write_state !== 'complete' || counted >= p.request.total_orders);
}

interface OrdersBody {
  orders: Array<{
    id: string;
    order: {
      command: {
        status: string;
        target: { id: string };
        order_id: number;
        result?: { code: number } | null;
      };
    };
  }>;
  cursor?: string;
}

async function api<T>(
  baseUrl: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(new URL(route, baseUrl), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function deleteIndices(client: Client, ordersIndex: string, agentsIndex: string): Promise<void> {
  const layout = indexLayout(ordersIndex);
  await client.indices.delete({
    index: [layout.orders, layout.requests, layout.audit, layout.archivePattern, agentsIndex],
    ignore_unavailable: true,
  });
  for (const name of Object.values(layout.templates)) {
    await client.indices.deleteIndexTemplate({ name }).catch(() => undefined);
  }
}

/**
 * The whole product end to end: seeds a group of agents in OpenSearch, starts the reference Management API,
 * the sidecar (`command-manager serve`, its own process), the reference Comms API and the agent simulators,
 * submits ONE command to the group through the HTTP API and watches its orders until every one is terminal.
 * Resolves with the counts and times; stops and cleans up everything it started, whatever happens.
 */
export async function runE2e(options: E2eOptions = {}): Promise<E2eReport> {
  const log = options.log ?? (() => undefined);
  const agents = Math.max(1, Math.floor(options.agents ?? 1000));
  const share = options.failureShare ?? 0.05;
  if (!(share >= 0 && share <= 1)) throw new RangeError(`failureShare must be in 0..1, got ${share}`);
  const failing = Math.round(agents * share);
  const offline = Math.max(0, Math.floor(options.offlineAgents ?? 0));
  const late = Math.max(0, Math.floor(options.lateAgents ?? 0));
  const expected = { success: agents - failing + late, failure: failing + offline, offline, late };
  /** Orders written at submission, and in all once the late agents joined. */
  const firstOrders = agents + offline;
  const allOrders = firstOrders + late;
  const group = options.group ?? 'e2e';
  const prefix = options.indexPrefix ?? `cm-e2e-${randomBytes(3).toString('hex')}`;
  const ordersIndex = `${prefix}-commands`;
  const agentsIndex = `${prefix}-agents`;
  const okPrefix = 'agent-';
  const failPrefix = 'failing-agent-';
  const offlinePrefix = 'offline-agent-';
  const latePrefix = 'late-agent-';

  // Everything started is stopped in reverse order, whatever happens.
  const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
  const problems: string[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cm-e2e-'));
  const sidecarLog = path.join(tmp, 'sidecar.log');

  const delivery = options.delivery ?? 'push';
  const report: E2eReport = {
    delivery,
    ok: false,
    problems,
    agents,
    group,
    expected,
    requestId: 0,
    orders: 0,
    counts: { pending: 0, sent: 0, success: 0, failure: 0 },
    submitMs: 0,
    elapsedMs: 0,
    agentsReport: { succeeded: 0, failed: 0, lost: 0 },
    sidecarExitCode: null,
    sidecars: 0,
    sidecarLog,
  };

  try {
    // 1. OpenSearch: the given one, OPENSEARCH_URL, or a local node for this run.
    let opensearchUrl = options.opensearchUrl ?? process.env.OPENSEARCH_URL;
    if (!opensearchUrl) {
      const node = { homeDir: path.join(REPO_ROOT, '.cache', 'opensearch', 'e2e') };
      log('OPENSEARCH_URL is not set: starting a local OpenSearch (scripts/opensearch)');
      opensearchUrl = await startLocalOpenSearch(node);
      cleanups.push({ what: 'local OpenSearch', run: () => stopLocalOpenSearch(node) });
    }
    // A secured node: credentials and CA from the environment, as the sidecar reads them.
    const {
      OPENSEARCH_USERNAME: osUser,
      OPENSEARCH_PASSWORD: osPassword,
      OPENSEARCH_CA_FILE: osCa,
    } = process.env;
    const osAccess: Record<string, string> = {
      ...(osUser && { OPENSEARCH_USERNAME: osUser, OPENSEARCH_PASSWORD: osPassword ?? '' }),
      ...(osCa && { OPENSEARCH_CA_FILE: osCa }),
    };
    const client = createOpenSearchClient({
      node: opensearchUrl,
      ...(osUser && { auth: { username: osUser, password: osPassword ?? '' } }),
      ...(osCa && { caFile: osCa }),
    });
    cleanups.push({ what: 'OpenSearch client', run: () => client.close() });
    if (!options.keepIndices) {
      cleanups.push({ what: 'indices', run: () => deleteIndices(client, ordersIndex, agentsIndex) });
    }

    // 2. The group: `agents - failing` agents that succeed, `failing` agents that fail.
    const t0 = Date.now();
    await createAgentsIndex(client, { index: agentsIndex });
    const ids = [
      ...Array.from({ length: agents - failing }, (_, i) => agentId(okPrefix, i + 1)),
      ...Array.from({ length: failing }, (_, i) => agentId(failPrefix, i + 1)),
    ];
    await seedAgents(
      client,
      [
        ...ids.map((id) => ({ id, groups: [group], status: 'active' })),
        ...Array.from({ length: offline }, (_, i) => ({
          id: agentId(offlinePrefix, i + 1),
          groups: [group],
          status: 'disconnected',
        })),
      ],
      { index: agentsIndex },
    );
    log(
      `seeded ${agents} agents of group "${group}" (and ${offline} offline) in ${agentsIndex} (${Date.now() - t0} ms)`,
    );

    // 3. Credentials: an admin token (submits, reads) and a comms token (reports results), in a users file.
    const adminToken = generateApiToken();
    const commsToken = generateApiToken();
    const serverToken = generateApiToken();
    const usersFile = path.join(tmp, 'users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({
        tokens: [
          { name: 'e2e-admin', token_sha256: hashApiToken(adminToken), roles: ['admin'] },
          { name: 'comms-api', token_sha256: hashApiToken(commsToken), roles: ['comms'] },
          { name: 'wazuh-server', token_sha256: hashApiToken(serverToken), roles: ['wazuh-server'] },
        ],
      }),
      { mode: 0o600 },
    );
    const mgmtCredentials = { username: 'wazuh-e2e', password: randomBytes(12).toString('hex') };

    // 4. The Management API; it hands accepted orders to the Comms API in-process (started below, once the
    //    sidecar's URL is known; no order can arrive before the command is submitted).
    const commsRef: { current?: CommsApiHandle } = {};
    const forward = (orders: AcceptedOrder[]): void => {
      if (!commsRef.current) throw new Error('the Comms API is not up yet');
      // A copy as a plain object type: QueuedOrder has an index signature, the AcceptedOrder interface none.
      commsRef.current.enqueue(orders.map((o) => ({ ...o })));
    };
    // In pull mode the Management API is a consumer started once the sidecar is up (step 6).
    const mgmt =
      delivery === 'push'
        ? await startManagementApi({ port: 0, credentials: mgmtCredentials, forward })
        : undefined;
    if (mgmt) {
      cleanups.push({ what: 'Management API', run: () => mgmt.close() });
      log(`Management API on ${mgmt.url}`);
    }

    // 5. The sidecars, each its own process, configured by environment variables (the second, if any, shares
    //    the first one's indices).
    const sidecarCount = Math.min(2, Math.max(1, Math.floor(options.sidecars ?? 1)));
    const exitCodes: Array<number | null> = [];
    const startOne = async (n: number): Promise<SidecarProcess> => {
      const logFile = n === 1 ? sidecarLog : path.join(tmp, `sidecar-${n}.log`);
      const started = await startSidecarProcess({
        logFile,
        env: {
          OPENSEARCH_URL: opensearchUrl,
          ...osAccess,
          CM_NODE_ID: n === 1 ? 'e2e-sidecar' : `e2e-sidecar-${n}`,
          CM_ORDERS_INDEX: ordersIndex,
          CM_AGENTS_INDEX: agentsIndex,
          CM_HTTP_PORT: '0',
          CM_USERS_FILE: usersFile,
          ...(mgmt
            ? {
                CM_MANAGEMENT_API_URL: mgmt.url,
                CM_MANAGEMENT_API_AUTH: 'wazuh-jwt',
                CM_MANAGEMENT_API_USERNAME: mgmtCredentials.username,
                CM_MANAGEMENT_API_PASSWORD: mgmtCredentials.password,
              }
            : { CM_DELIVERY: 'pull' }),
          CM_POLL_INTERVAL_MS: '250',
          CM_MEMBERSHIP_POLL_INTERVAL_MS: '1000',
          CM_LOG_LEVEL: 'info',
        },
      });
      cleanups.push({
        what: `sidecar ${n}`,
        run: async () => {
          const code = await started.stop();
          exitCodes.push(code);
          report.sidecars++;
          const bad = exitCodes.filter((c) => c !== 0);
          report.sidecarExitCode = bad.length > 0 ? (bad[0] ?? null) : 0;
        },
      });
      log(`sidecar ${n} (pid ${started.pid}) on ${started.url}; logs in ${logFile}`);
      return started;
    };
    const sidecar = await startOne(1);
    for (let n = 2; n <= sidecarCount; n++) await startOne(n);

    // 6. The Comms API, reporting results to the sidecar, and the agents polling it.
    const comms = await startCommsApi({ port: 0, commandManager: { url: sidecar.url, token: commsToken } });
    commsRef.current = comms;
    cleanups.push({ what: 'Comms API', run: () => comms.close() });
    const simulators = startSimulators({
      commsUrl: comms.url,
      succeeding: agents - failing,
      failing,
      okPrefix,
      failPrefix,
      offline: { count: offline, prefix: offlinePrefix },
      late: {
        count: late,
        prefix: latePrefix,
        afterMs: options.lateAfterMs ?? 5000,
        // They join the group as they connect, as a Wazuh server records a connecting agent.
        onStart: async (lateIds) => {
          await seedAgents(
            client,
            lateIds.map((id) => ({ id, groups: [group], status: 'active' })),
            { index: agentsIndex },
          );
          log(`${lateIds.length} late agents joined group "${group}"`);
        },
      },
    });
    cleanups.push({
      what: 'agents',
      run: async () => {
        for (const r of await simulators.stop()) {
          report.agentsReport.succeeded += r.succeeded;
          report.agentsReport.failed += r.failed;
          report.agentsReport.lost += r.lost;
        }
      },
    });
    log(
      `Comms API on ${comms.url}; ${agents} agents polling it (${failing} of them fail every order), ${offline} offline, ${late} joining late`,
    );
    if (delivery === 'pull') {
      const consumer = startPullConsumer({
        commandManagerUrl: sidecar.url,
        token: serverToken,
        consumer: 'e2e-management-api',
        size: 500,
        waitMs: 5000,
        forward,
        log,
      });
      cleanups.push({ what: 'pull consumer', run: () => consumer.stop() });
      log('Management API pulling orders from the sidecar');
    }

    // 7. ONE command to the group, through the HTTP API.
    // With offline or late agents: a delivery window of seconds, and live membership for the late ones.
    const windowS = offline + late > 0 ? (options.deliveryWindowS ?? 12) : undefined;
    const submitted = Date.now();
    const answer = await api<{
      commands: Array<{ request_id: number; orders: number; unresolved: string[] }>;
    }>(sidecar.url, adminToken, 'POST', `${API}/commands?summary=true`, {
      commands: [
        {
          source: 'Users/Services',
          user: 'e2e',
          target: { type: 'group', id: group },
          action: { name: 'fetch-config', args: {} },
          timeout:
            windowS !== undefined ? Math.min(6, windowS) : Math.ceil((options.timeoutMs ?? 300_000) / 1000),
          ...(windowS !== undefined && { delivery_window_s: windowS }),
          ...(late > 0 && { membership: 'live' }),
        },
      ],
    });
    report.submitMs = Date.now() - submitted;
    const command = answer.commands[0];
    if (!command) throw new Error('the submission answered no command');
    report.requestId = command.request_id;
    report.orders = command.orders;
    log(`request ${command.request_id}: ${command.orders} orders written in ${report.submitMs} ms`);

    // 8. Watch until every order is terminal (or the bound passes).
    const deadline = submitted + (options.timeoutMs ?? 300_000);
    let done = false;
    while (!done) {
      const p = await api<ProgressBody>(
        sidecar.url,
        adminToken,
        'GET',
        `${API}/requests/${command.request_id}`,
      );
      report.counts = p.counts;
      report.elapsedMs = Date.now() - submitted;
      const c = p.counts;
      // A live request's late orders come after its first ones are done: wait for every expected order.
      done = finished(p) && c.pending + c.sent + c.success + c.failure >= allOrders;
      options.onProgress?.({
        requestId: p.request.request_id,
        total: p.request.total_orders,
        counts: p.counts,
        done,
        elapsedMs: report.elapsedMs,
      });
      if (done) break;
      if (options.signal?.aborted) {
        problems.push('aborted before every order was terminal');
        break;
      }
      if (Date.now() >= deadline) {
        problems.push(`not every order was terminal after ${options.timeoutMs ?? 300_000} ms`);
        break;
      }
      await sleep(options.progressIntervalMs ?? 250, options.signal);
    }

    // 9. Check: the counts, and that the failed orders are exactly those of the failing agents.
    const c = report.counts;
    if (report.orders !== firstOrders)
      problems.push(`${report.orders} orders written, expected ${firstOrders}`);
    if (c.pending + c.sent > 0) problems.push(`${c.pending} pending and ${c.sent} sent orders left`);
    if (c.success !== expected.success) problems.push(`${c.success} success, expected ${expected.success}`);
    if (c.failure !== expected.failure) problems.push(`${c.failure} failure, expected ${expected.failure}`);
    if (done) {
      const orders: OrdersBody['orders'] = [];
      let cursor: string | undefined;
      do {
        const query = new URLSearchParams({
          request_id: String(command.request_id),
          size: '1000',
          ...(cursor !== undefined && { cursor }),
        });
        const page = await api<OrdersBody>(
          sidecar.url,
          adminToken,
          'GET',
          `${API}/orders?${query.toString()}`,
        );
        orders.push(...page.orders);
        cursor = page.cursor;
      } while (cursor !== undefined);
      problems.push(
        ...checkOrders(orders, { failPrefix, offlinePrefix, latePrefix, firstOrders, allOrders }),
      );
    }
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup.run();
      } catch (e) {
        problems.push(`stopping the ${cleanup.what} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  const a = report.agentsReport;
  if (problems.length === 0) {
    // Offline agents report nothing: their failures are the command manager's verdict.
    if (a.succeeded !== expected.success || a.failed !== failing || a.lost > 0) {
      problems.push(`the agents reported ${a.succeeded} success, ${a.failed} failure, ${a.lost} lost`);
    }
    if (report.sidecarExitCode !== 0)
      problems.push(`the sidecar exited with ${report.sidecarExitCode} on SIGTERM`);
  }
  report.ok = problems.length === 0;
  // The sidecar's log stays for a failed run (the users file, with its token hashes, never does).
  if (report.ok) rmSync(tmp, { recursive: true, force: true });
  else rmSync(path.join(tmp, 'users.json'), { force: true });
  return report;
}

/**
 * What the orders of the request must be: one per agent (a late agent's too, with an id after the first
 * ones); `failure` exactly for the failing agents (their own code) and the offline ones (908, agent
 * offline); `success` for every other.
 */
function checkOrders(
  orders: OrdersBody['orders'],
  expect: {
    failPrefix: string;
    offlinePrefix: string;
    latePrefix: string;
    firstOrders: number;
    allOrders: number;
  },
): string[] {
  const problems: string[] = [];
  const perAgent = new Map<string, number>();
  for (const o of orders) {
    const target = o.order.command.target.id;
    perAgent.set(target, (perAgent.get(target) ?? 0) + 1);
  }
  const twice = [...perAgent].filter(([, n]) => n > 1).map(([id]) => id);
  if (twice.length > 0) problems.push(`agents with more than one order: ${twice.slice(0, 5).join(', ')}`);
  if (orders.length !== expect.allOrders)
    problems.push(`${orders.length} orders in the request, expected ${expect.allOrders}`);
  const wrong: string[] = [];
  for (const o of orders) {
    const { target, status, result, order_id: orderId } = o.order.command;
    const id = target.id;
    const code = result?.code;
    const ok = id.startsWith(expect.offlinePrefix)
      ? status === 'failure' && code === 908
      : id.startsWith(expect.failPrefix)
        ? status === 'failure' && code === 1
        : id.startsWith(expect.latePrefix)
          ? status === 'success' && orderId > expect.firstOrders
          : status === 'success';
    if (!ok) wrong.push(`${id} (order ${orderId}: ${status}${code !== undefined ? ` ${code}` : ''})`);
  }
  if (wrong.length > 0) problems.push(`orders not as expected: ${wrong.slice(0, 5).join(', ')}`);
  return problems;
}
