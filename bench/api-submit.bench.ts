/**
 * Benchmark: single-target submissions through the HTTP API (createApp + CommandService + the OpenSearch
 * adapter) over 32 concurrent connections, beside raw single-document index requests to OpenSearch over
 * 32 connections in the same run. Figures: requests/s and p99 latency of each, and their ratio (goal ≥ 0.5).
 *
 * A submission costs several OpenSearch round trips (agent lookup, request id, request record, bulk of the
 * order, record update); the raw baseline is one. Both write without forcing a refresh (`saveRefresh:
 * false`; the API default `'wait_for'` would add up to one refresh interval per submission — set
 * SAVE_REFRESH=wait_for to measure that).
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/api-submit.bench.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), DURATION_SEC (default 10), CONNECTIONS (default 32),
 *      SAVE_REFRESH (false | wait_for, default false).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { ActionRegistry, CommandService } from '@command-manager/core';
import {
  createApp,
  createAuthenticator,
  hashApiToken,
  listen,
  parseUsersFile,
} from '@command-manager/express';
import {
  OpenSearchAgentDirectory,
  OpenSearchOrderStore,
  OpenSearchRequestIdAllocator,
  OpenSearchRequestStore,
  createAgentsIndex,
  createOpenSearchClient,
  indexLayout,
  seedAgents,
} from '@command-manager/opensearch';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
// autocannon ships no type declarations; the shape used is declared above.
const autocannon = createRequire(__filename)('autocannon') as Autocannon;

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const DURATION_SEC = Number(process.env.DURATION_SEC ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const SAVE_REFRESH = process.env.SAVE_REFRESH === 'wait_for' ? 'wait_for' : false;
const GOAL_RATIO = 0.5;
const AGENTS = 1000;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<void> {
  const client = createOpenSearchClient({ node: OPENSEARCH_URL, maxRetries: 1 });
  const prefix = `bench-api-${randomBytes(3).toString('hex')}-`;
  const ordersIndex = `${prefix}orders`;
  const agentsIndex = `${prefix}agents`;
  const rawIndex = `${prefix}raw`;
  const layout = indexLayout(ordersIndex);
  const token = randomBytes(24).toString('base64url');
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  try {
    log(`setting up indices under ${prefix} on ${OPENSEARCH_URL}`);
    const orders = new OpenSearchOrderStore({
      client,
      ordersIndex,
      replicas: 0,
      saveRefresh: SAVE_REFRESH,
      writeRefresh: false,
    });
    const requests = new OpenSearchRequestStore({ client, ordersIndex, replicas: 0 });
    const ids = new OpenSearchRequestIdAllocator({ client, ordersIndex, replicas: 0 });
    await Promise.all([orders.init(), requests.init()]);
    await ids.init();
    await createAgentsIndex(client, { index: agentsIndex });
    await seedAgents(
      client,
      Array.from({ length: AGENTS }, (_, i) => ({ id: `agent-${i}`, groups: ['bench'], status: 'active' })),
      { index: agentsIndex },
    );
    await client.indices.create({
      index: rawIndex,
      body: { settings: { number_of_shards: 1, number_of_replicas: 0 } },
    });

    const api = new CommandService({
      orders,
      requests,
      ids,
      agents: new OpenSearchAgentDirectory({ client, agentsIndex }),
      registry: ActionRegistry.withDefaults(),
      limits: { maxBatchCommands: 100, maxFanOut: 100_000, maxResultsPerReport: 1000 },
      indexName: ordersIndex,
    });
    const auth = createAuthenticator(
      parseUsersFile({ tokens: [{ name: 'bench', token_sha256: hashApiToken(token), roles: ['admin'] }] }),
    );
    const app = createApp({
      api,
      auth,
      readiness: async () => ({ ready: true, checks: {} }),
      limits: { bodyLimitBytes: 1024 * 1024 },
    });
    server = await listen(app, { port: 0 });
    const port = (server.address() as AddressInfo).port;

    const command = {
      source: 'Users/Services',
      user: 'bench',
      target: { type: 'agent', id: 'agent-7' },
      action: { name: 'restart', args: {}, version: '5.0.0' },
      timeout: 100,
    };
    const now = new Date().toISOString();
    const rawDoc = {
      '@timestamp': now,
      delivery_timestamp: now,
      agent: { groups: ['bench'] },
      command: { ...command, status: 'pending', request_id: 1, order_id: 1 },
      scheduling: { principal: 'bench', attempts: 0, next_attempt_at: now },
    };

    const warm = async (url: string, headers: Record<string, string>, body: string): Promise<void> => {
      await autocannon({ url, method: 'POST', headers, body, connections: 4, amount: 200 });
    };
    const submitUrl = `http://127.0.0.1:${port}/_plugins/_command_manager/commands`;
    const submitHeaders = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const submitBody = JSON.stringify({ commands: [command] });
    const rawUrl = `${OPENSEARCH_URL}/${rawIndex}/_doc`;
    const rawHeaders = { 'content-type': 'application/json' };
    const rawBody = JSON.stringify(rawDoc);

    log('warming up');
    await warm(submitUrl, submitHeaders, submitBody);
    await warm(rawUrl, rawHeaders, rawBody);

    log(`raw index requests to OpenSearch: ${CONNECTIONS} connections, ${DURATION_SEC}s`);
    const raw = await autocannon({
      url: rawUrl,
      method: 'POST',
      headers: rawHeaders,
      body: rawBody,
      connections: CONNECTIONS,
      duration: DURATION_SEC,
    });
    log(
      `  ${raw.requests.average.toFixed(0)} req/s, p99 ${raw.latency.p99} ms, non-2xx ${raw.non2xx}, errors ${raw.errors}`,
    );

    log(`API submissions (single agent target): ${CONNECTIONS} connections, ${DURATION_SEC}s`);
    const apiRun = await autocannon({
      url: submitUrl,
      method: 'POST',
      headers: submitHeaders,
      body: submitBody,
      connections: CONNECTIONS,
      duration: DURATION_SEC,
    });
    log(
      `  ${apiRun.requests.average.toFixed(0)} req/s, p99 ${apiRun.latency.p99} ms, non-2xx ${apiRun.non2xx}, errors ${apiRun.errors}`,
    );

    await client.indices.refresh({ index: ordersIndex });
    const stored = ((await client.count({ index: ordersIndex })).body as { count: number }).count;
    const ratio = raw.requests.average > 0 ? apiRun.requests.average / raw.requests.average : 0;
    log(`ratio ${ratio.toFixed(2)} (goal >= ${GOAL_RATIO}); orders stored ${stored}`);
    const figures = {
      benchmark: 'api-submit',
      connections: CONNECTIONS,
      durationSec: DURATION_SEC,
      saveRefresh: String(SAVE_REFRESH),
      api: {
        requestsPerSec: Math.round(apiRun.requests.average),
        p50Ms: apiRun.latency.p50,
        p99Ms: apiRun.latency.p99,
        total: apiRun.requests.total,
        non2xx: apiRun.non2xx,
        errors: apiRun.errors + apiRun.timeouts,
      },
      rawIndex: {
        requestsPerSec: Math.round(raw.requests.average),
        p50Ms: raw.latency.p50,
        p99Ms: raw.latency.p99,
        total: raw.requests.total,
        non2xx: raw.non2xx,
        errors: raw.errors + raw.timeouts,
      },
      ordersStored: stored,
      ratio: Number(ratio.toFixed(3)),
      goalRatio: GOAL_RATIO,
      goalMet: ratio >= GOAL_RATIO,
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    await client.indices.delete(
      { index: `${prefix}*`, ignore_unavailable: true, allow_no_indices: true },
      { ignore: [404] },
    );
    for (const name of Object.values(layout.templates))
      await client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    await client.close();
  }
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
