/**
 * Benchmark: single-target submissions through the HTTP API (createApp + CommandService + the OpenSearch
 * adapter) over 32 concurrent connections, beside raw single-document index requests to OpenSearch over
 * 32 connections in the same run. Figures: requests/s and p99 latency of each, and their ratio (goal ≥ 0.5).
 *
 * A submission costs two sequential OpenSearch round trips: the agent lookup and the request id allocation
 * (run at once), then one bulk with the request record and the order; with ID_BLOCK_SIZE > 1 the id comes
 * from a local block most of the time. The raw baseline is one round trip. Both write without forcing a
 * refresh (`saveRefresh`/`ordersRefresh: false`; the API default `'wait_for'` would add up to one refresh
 * interval per submission — set SAVE_REFRESH=wait_for to measure that).
 *
 * ROUNDS > 1 alternates raw and API runs (raw, API, raw, API …) so that both sides see the same load from
 * whatever else runs on the machine; the top-level figures are then medians over the rounds, `rounds` has
 * each one and `spread` the min/max.
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/api-submit.bench.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), DURATION_SEC (default 10), CONNECTIONS (default 32),
 *      SAVE_REFRESH (false | wait_for, default false), ROUNDS (default 1), ID_BLOCK_SIZE (request ids taken
 *      at once by the allocator, default 1 as in the sidecar's default).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
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

/**
 * Runs autocannon with `options` in a child process (bench/lib/load-generator.mjs), so that the load
 * generator's CPU is not taken from the API under test, which runs in this process.
 */
function autocannon(options: Record<string, unknown>): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(__dirname, 'lib', 'load-generator.mjs'), JSON.stringify(options)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`load generator exited with ${code}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as AutocannonResult);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const DURATION_SEC = Number(process.env.DURATION_SEC ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const SAVE_REFRESH = process.env.SAVE_REFRESH === 'wait_for' ? 'wait_for' : false;
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 1));
const ID_BLOCK_SIZE = Math.max(1, Number(process.env.ID_BLOCK_SIZE ?? 1));
const GOAL_RATIO = 0.5;
const AGENTS = 1000;

interface Figures {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
}

function figuresOf(r: AutocannonResult): Figures {
  return {
    requestsPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

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
    const requests = new OpenSearchRequestStore({
      client,
      ordersIndex,
      replicas: 0,
      ordersRefresh: SAVE_REFRESH,
    });
    const ids = new OpenSearchRequestIdAllocator({
      client,
      ordersIndex,
      replicas: 0,
      blockSize: ID_BLOCK_SIZE,
    });
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

    const rounds: Array<{ raw: Figures; api: Figures; ratio: number }> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(
        `round ${round}/${ROUNDS}: raw index requests to OpenSearch, ${CONNECTIONS} connections, ${DURATION_SEC}s`,
      );
      const raw = figuresOf(
        await autocannon({
          url: rawUrl,
          method: 'POST',
          headers: rawHeaders,
          body: rawBody,
          connections: CONNECTIONS,
          duration: DURATION_SEC,
        }),
      );
      log(`  ${raw.requestsPerSec} req/s, p99 ${raw.p99Ms} ms, non-2xx ${raw.non2xx}, errors ${raw.errors}`);
      log(
        `round ${round}/${ROUNDS}: API submissions (single agent target), ${CONNECTIONS} connections, ${DURATION_SEC}s`,
      );
      const api = figuresOf(
        await autocannon({
          url: submitUrl,
          method: 'POST',
          headers: submitHeaders,
          body: submitBody,
          connections: CONNECTIONS,
          duration: DURATION_SEC,
        }),
      );
      log(`  ${api.requestsPerSec} req/s, p99 ${api.p99Ms} ms, non-2xx ${api.non2xx}, errors ${api.errors}`);
      const ratio = raw.requestsPerSec > 0 ? api.requestsPerSec / raw.requestsPerSec : 0;
      log(`  ratio ${ratio.toFixed(3)}`);
      rounds.push({ raw, api, ratio: Number(ratio.toFixed(3)) });
    }

    await client.indices.refresh({ index: ordersIndex });
    const stored = ((await client.count({ index: ordersIndex })).body as { count: number }).count;
    const medianOf = (pick: (r: (typeof rounds)[number]) => number): number => median(rounds.map(pick));
    const summed = (pick: (f: Figures) => number, side: 'raw' | 'api'): number =>
      rounds.reduce((n, r) => n + pick(r[side]), 0);
    const sideFigures = (side: 'raw' | 'api'): Figures => ({
      requestsPerSec: Math.round(medianOf((r) => r[side].requestsPerSec)),
      p50Ms: medianOf((r) => r[side].p50Ms),
      p99Ms: medianOf((r) => r[side].p99Ms),
      total: summed((f) => f.total, side),
      non2xx: summed((f) => f.non2xx, side),
      errors: summed((f) => f.errors, side),
    });
    const ratio = medianOf((r) => r.ratio);
    const spreadOf = (values: number[]): [number, number] => [Math.min(...values), Math.max(...values)];
    log(`median ratio ${ratio.toFixed(3)} (goal >= ${GOAL_RATIO}); orders stored ${stored}`);
    const figures = {
      benchmark: 'api-submit',
      connections: CONNECTIONS,
      durationSec: DURATION_SEC,
      saveRefresh: String(SAVE_REFRESH),
      idBlockSize: ID_BLOCK_SIZE,
      api: sideFigures('api'),
      rawIndex: sideFigures('raw'),
      ordersStored: stored,
      ratio: Number(ratio.toFixed(3)),
      spread: {
        ratio: spreadOf(rounds.map((r) => r.ratio)),
        apiRequestsPerSec: spreadOf(rounds.map((r) => r.api.requestsPerSec)),
        rawRequestsPerSec: spreadOf(rounds.map((r) => r.raw.requestsPerSec)),
      },
      rounds,
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
