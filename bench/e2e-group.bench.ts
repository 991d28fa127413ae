/**
 * Benchmarks (a), (f) and (g) of the performance goals (`GOALS` in bench/lib/summary.mjs): a group command end to end through a real sidecar, beside raw `_bulk`
 * of the identical documents, in the same run, on the same node.
 *
 * Product: the sidecar runs as the product does (`packages/sidecar/dist/main.js serve`: `loadConfig` from
 * the environment, `startSidecar`, scheduler disabled) in its own process. One timed run = `POST
 * /_plugins/_command_manager/commands` with one command targeting a group (the answer comes once every order
 * is written) + `_refresh` of the orders index; then every order is counted with `_count`.
 * Raw: the same orders (built with core's `newOrder` from the same command, agents and groups: the same
 * `wazuh-commands` layout, ids `<request>-<order>`) sent as `_bulk` `create` requests into a fresh index
 * with the same mapping, with the product's store defaults (1,000 orders per request, 2 requests in
 * flight, no refresh) + `_refresh`; then counted.
 * Pipeline: the job's whole physical work and nothing else (`pipelineRun`): the group's members read with a
 * point in time + `search_after` (read as the product's directory reads them: its search sizes, query and
 * sort), each page's orders built with
 * `newOrder` and written as `_bulk` `create` requests like raw, reading the next page while writing; then
 * `_refresh` and a count. Raw is the write-only baseline (no read of the members); the pipeline is the limit
 * of a sidecar that has to read them.
 * Every run starts on a fresh, empty orders index; the three sides alternate (product, raw, pipeline in
 * even repetitions, the reverse in odd ones); figures are medians. Each size after the first starts with one product + raw pair that is
 * not counted (reported as `warmup_seconds`): it absorbs what the previous size left behind.
 * Agents are seeded once into the run's own agents index (bulk requests of 10,000, two in flight, refresh off
 * until the end): agent i belongs to group `g<size>` of every size greater than i.
 *
 * (f): the sidecar's resident set is sampled from /proc every 20 ms (largest sample during the product runs
 * of each size) and its `VmHWM` (kernel high-water mark over its whole life) is read at the end. Then, for
 * (f) during dispatch, a second sidecar process with the scheduler enabled (its defaults) dispatches the
 * orders of the last largest product run (still pending) to the example Management API
 * (examples/management-api, in this process) until every one is accepted; its `VmHWM` is the figure.
 * (g): time per order at each group size (default 1k, 10k, 100k); (a) is the largest size. The sidecar's CPU
 * time (user + system, /proc) per order of each product run is reported too: steadier than wall time on a
 * shared machine, for changes that save CPU.
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/e2e-group.bench.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), GROUP_SIZES (default 1000,10000,100000; add
 * 1000000 for the one-million-agent group), REPS (default 3; sizes of 10,000 or fewer get 3× as many, they
 * are cheap and noisier), LARGE_REPS (repetitions of sizes above 100,000, default REPS), RAW_INFLIGHT (default
 * 2), TIME_LIMIT_S (default 900: no new repetition starts after it; every size gets at least one),
 * DISPATCH_RSS (default 1; 0 skips the dispatch phase), DISPATCH_TIMEOUT_S (default 300), SIDECAR_NODE_FLAGS
 * (extra Node flags of the sidecar processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newOrder } from '@command-manager/core';
import type { AgentInfo, CommandRequest, Order } from '@command-manager/core';
import { hashApiToken } from '@command-manager/express';
import {
  DEFAULT_AGENT_PAGE_SIZE,
  DEFAULT_WALK_SEARCH_SIZE,
  OpenSearchSetup,
  createAgentsIndex,
  createOpenSearchClient,
  seedAgents,
} from '@command-manager/opensearch';
import { startManagementApi } from '../examples/management-api/src';
import { readProcCpuSeconds } from './lib/proc-cpu';
import { readProcMemory, RssSampler } from './lib/proc-memory';
import { startSidecarProcess, type SidecarProcess } from './lib/sidecar-process';
import { summarize } from './lib/stats.cjs';

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const SIZES = (process.env.GROUP_SIZES ?? '1000,10000,100000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0)
  .sort((a, b) => a - b);
const REPS = Math.max(1, Number(process.env.REPS ?? 3));
const LARGE_REPS = Math.max(1, Number(process.env.LARGE_REPS ?? REPS));
const RAW_INFLIGHT = Math.max(1, Number(process.env.RAW_INFLIGHT ?? 2));
const TIME_LIMIT_MS = Number(process.env.TIME_LIMIT_S ?? 900) * 1000;
const DISPATCH_RSS = process.env.DISPATCH_RSS !== '0';
const DISPATCH_TIMEOUT_MS = Number(process.env.DISPATCH_TIMEOUT_S ?? 300) * 1000;
/** The product's default `batchMaxOrders` (OpenSearchOrderStore). */
const BATCH = 1000;
/**
 * How the product's agent directory reads a group by default: a first search of a page
 * (DEFAULT_AGENT_PAGE_SIZE), each next one twice the last, up to DEFAULT_WALK_SEARCH_SIZE.
 */
const AGENT_PAGE = DEFAULT_AGENT_PAGE_SIZE;
const WALK_SEARCH_MAX = DEFAULT_WALK_SEARCH_SIZE;
/** Agents per seeding bulk request. */
const SEED_CHUNK = 10_000;
const GOAL_RATIO = 0.7;
const GOAL_RSS_MB = 200;
const MB = 1024 * 1024;

const MAX_SIZE = SIZES[SIZES.length - 1] ?? 0;
const prefix = `bench-e2e-${randomBytes(3).toString('hex')}-`;
const ordersIndex = `${prefix}orders`;
const agentsIndex = `${prefix}agents`;
const rawIndex = `${prefix}raw`;
const client = createOpenSearchClient({ node: OPENSEARCH_URL, requestTimeoutMs: 300_000 });

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function repsFor(size: number): number {
  if (size > 100_000) return LARGE_REPS;
  return size <= 10_000 ? REPS * 3 : REPS;
}

const agentId = (i: number): string => `agent-${String(i).padStart(7, '0')}`;
const groupOf = (size: number): string => `g${size}`;
/** Agent i is in the group of every size above i (so `g1000` ⊂ `g10000` ⊂ `g100000`). */
function groupsOf(i: number): string[] {
  return SIZES.filter((size) => i < size).map(groupOf);
}

function commandFor(size: number): CommandRequest {
  return {
    source: 'Users/Services',
    user: 'bench',
    target: { type: 'group', id: groupOf(size) },
    action: { name: 'restart', args: {}, version: '5.0.0' },
    // Long enough that the orders left pending for the dispatch phase do not expire first.
    timeout: 3600,
  };
}

async function freshOrdersIndex(index: string): Promise<void> {
  await client.indices.delete({ index }, { ignore: [404] });
  await new OpenSearchSetup({ client, ordersIndex: index, replicas: 0 }).initOrders();
}

async function refreshAndCount(index: string): Promise<number> {
  await client.indices.refresh({ index });
  return ((await client.count({ index })).body as { count: number }).count;
}

interface SubmitAnswer {
  commands?: Array<{ request_id: number; orders: number; write_state: string }>;
}

/**
 * POSTs a JSON body and reads the whole answer, with no time limit: the answer to a group command comes once
 * every order is written, which at a million agents can take longer than fetch's five-minute header timeout.
 */
function postJson(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    authorization: `Bearer ${token}`,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One product run: returns seconds from submit to every order searchable. */
async function productRun(sidecar: SidecarProcess, token: string, size: number): Promise<number> {
  await freshOrdersIndex(ordersIndex);
  const body = JSON.stringify({ commands: [commandFor(size)] });
  const t0 = process.hrtime.bigint();
  const res = await postJson(`${sidecar.url}/_plugins/_command_manager/commands`, token, body);
  const answer = JSON.parse(res.text) as SubmitAnswer;
  await client.indices.refresh({ index: ordersIndex });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const command = answer.commands?.[0];
  if (res.status !== 201 || command?.orders !== size || command.write_state !== 'complete')
    throw new Error(`submit answered ${res.status}: ${res.text.slice(0, 500)}`);
  const stored = await refreshAndCount(ordersIndex);
  if (stored !== size) throw new Error(`product: ${stored} orders stored instead of ${size}`);
  return seconds;
}

/** The orders the product writes for `size`, built the same way (core's `newOrder`), lazily. */
function* rawOrders(size: number, requestId: number, now: Date): Generator<Order> {
  const command = commandFor(size);
  for (let i = 0; i < size; i++) {
    yield newOrder({
      command,
      requestId,
      orderId: i + 1,
      target: { type: 'agent', id: agentId(i) },
      groups: groupsOf(i),
      principal: 'bench',
      now,
    });
  }
}

/** One raw run: `_bulk` create, BATCH per request, RAW_INFLIGHT in flight, then `_refresh`. */
async function rawRun(size: number): Promise<number> {
  await freshOrdersIndex(rawIndex);
  const t0 = process.hrtime.bigint();
  const it = rawOrders(size, 1, new Date());
  let failed = false;
  const worker = async (): Promise<void> => {
    for (;;) {
      const lines: string[] = [];
      for (let n = 0; n < BATCH; n++) {
        const next = it.next();
        if (next.done) break;
        const o = next.value;
        lines.push(
          `{"create":{"_id":"${o.command.request_id}-${o.command.order_id}"}}\n${JSON.stringify(o)}\n`,
        );
      }
      if (lines.length === 0) return;
      const res = await client.bulk({
        index: rawIndex,
        body: lines.join('') as unknown as Parameters<typeof client.bulk>[0]['body'],
        filter_path: 'errors,items.*.status,items.*.error',
      });
      if ((res.body as { errors?: boolean }).errors) failed = true;
    }
  };
  await Promise.all(Array.from({ length: RAW_INFLIGHT }, worker));
  await client.indices.refresh({ index: rawIndex });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failed) throw new Error('raw bulk: item errors');
  const stored = await refreshAndCount(rawIndex);
  if (stored !== size) throw new Error(`raw: ${stored} orders stored instead of ${size}`);
  return seconds;
}

/** A page of group members read by the pipeline baseline: agent ids and groups, in `agent.id` order. */
interface MemberHit {
  _source?: { agent?: { id?: string; groups?: string[] } };
  sort?: unknown[];
}

/**
 * One run of the pipeline baseline: the job's whole physical work with nothing else. The group's members are
 * read from the agents index with a point in time and `search_after` on `agent.id` (AGENT_PAGE members in
 * the first search, twice the last in each next one up to WALK_SEARCH_MAX, as the product's directory reads
 * them by default, with its query and fields), the next search read while the current answer is
 * written; each page's orders (core's `newOrder`, as the product builds them) are written as `_bulk`
 * `create` requests of BATCH, RAW_INFLIGHT in flight; then `_refresh`. Reads and writes overlap.
 */
async function pipelineRun(size: number): Promise<number> {
  await freshOrdersIndex(rawIndex);
  const t0 = process.hrtime.bigint();
  const command = commandFor(size);
  const now = new Date();
  const created = await client.createPit({ index: [agentsIndex], keep_alive: '1m' });
  let pitId = (created.body as { pit_id: string }).pit_id;
  let searchSize = AGENT_PAGE;
  const readPage = async (after: unknown[] | undefined): Promise<{ hits: MemberHit[]; asked: number }> => {
    const asked = searchSize;
    searchSize = Math.min(WALK_SEARCH_MAX, searchSize * 2);
    const body: Record<string, unknown> = {
      size: asked,
      query: {
        bool: { filter: [{ term: { 'agent.groups': groupOf(size) } }, { exists: { field: 'agent.id' } }] },
      },
      sort: [{ 'agent.id': 'asc' }],
      pit: { id: pitId, keep_alive: '1m' },
      _source: ['agent.id', 'agent.groups', 'agent.status'],
      track_total_hits: false,
    };
    if (after) body.search_after = after;
    const res = await client.search({ body });
    const answer = res.body as { pit_id?: string; hits?: { hits?: MemberHit[] } };
    if (answer.pit_id) pitId = answer.pit_id;
    return { hits: answer.hits?.hits ?? [], asked };
  };
  let failed = false;
  let orderId = 0;
  const inflight = new Set<Promise<void>>();
  const write = (lines: string[]): Promise<void> => {
    const p = client
      .bulk({
        index: rawIndex,
        body: lines.join('') as unknown as Parameters<typeof client.bulk>[0]['body'],
        filter_path: 'errors,items.*.status,items.*.error',
      })
      .then((res) => {
        if ((res.body as { errors?: boolean }).errors) failed = true;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
    return p;
  };
  try {
    let next: Promise<{ hits: MemberHit[]; asked: number }> | undefined = readPage(undefined);
    let lines: string[] = [];
    while (next) {
      const { hits, asked }: { hits: MemberHit[]; asked: number } = await next;
      const last = hits[hits.length - 1];
      next = hits.length === asked && last?.sort ? readPage(last.sort) : undefined;
      for (const hit of hits) {
        const agent = hit._source?.agent;
        if (typeof agent?.id !== 'string') continue;
        orderId++;
        const o = newOrder({
          command,
          requestId: 1,
          orderId,
          target: { type: 'agent', id: agent.id },
          groups: agent.groups ?? [],
          principal: 'bench',
          now,
        });
        lines.push(`{"create":{"_id":"1-${orderId}"}}\n${JSON.stringify(o)}\n`);
        if (lines.length === BATCH) {
          while (inflight.size >= RAW_INFLIGHT) await Promise.race(inflight);
          void write(lines);
          lines = [];
        }
      }
    }
    if (lines.length > 0) void write(lines);
    await Promise.all(inflight);
  } finally {
    await client.deletePit({ body: { pit_id: [pitId] } }).catch(() => undefined);
  }
  await client.indices.refresh({ index: rawIndex });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failed) throw new Error('pipeline bulk: item errors');
  const stored = await refreshAndCount(rawIndex);
  if (stored !== size) throw new Error(`pipeline: ${stored} orders stored instead of ${size}`);
  return seconds;
}

/**
 * Seeds MAX_SIZE agents: chunks of SEED_CHUNK agents built as they are sent (never all in memory), two bulk
 * requests in flight, the index's refresh switched off until the end (one refresh at the end).
 */
async function seed(): Promise<void> {
  await createAgentsIndex(client, { index: agentsIndex });
  const t0 = Date.now();
  await client.indices.putSettings({ index: agentsIndex, body: { index: { refresh_interval: '-1' } } });
  let nextStart = 0;
  const worker = async (): Promise<void> => {
    while (nextStart < MAX_SIZE) {
      const start = nextStart;
      nextStart = Math.min(MAX_SIZE, start + SEED_CHUNK);
      const agents: AgentInfo[] = [];
      for (let i = start; i < nextStart; i++)
        agents.push({ id: agentId(i), groups: groupsOf(i), status: 'active' });
      await seedAgents(client, agents, { index: agentsIndex, refresh: false, batchSize: SEED_CHUNK });
    }
  };
  await Promise.all([worker(), worker()]);
  await client.indices.putSettings({ index: agentsIndex, body: { index: { refresh_interval: '1s' } } });
  await client.indices.refresh({ index: agentsIndex });
  log(`seeded ${MAX_SIZE} agents into ${agentsIndex} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

async function countPending(): Promise<number> {
  const res = await client.count({
    index: ordersIndex,
    body: { query: { term: { 'command.status': 'pending' } } },
  });
  return (res.body as { count: number }).count;
}

/**
 * A sidecar with its scheduler enabled (defaults: batches of 500, 4 in flight) dispatches the pending
 * orders left by the last product run to the example Management API; its peak RSS is read at the end.
 */
async function dispatchPhase(
  envOf: (name: string, extra: Record<string, string>) => Record<string, string>,
): Promise<Record<string, number | null>> {
  await client.indices.refresh({ index: ordersIndex });
  const pending = await countPending();
  const stub = await startManagementApi({});
  let sidecar: SidecarProcess | undefined;
  try {
    const t0 = process.hrtime.bigint();
    sidecar = await startSidecarProcess({
      env: envOf('dispatch', { CM_SCHEDULER_ENABLED: 'true', CM_MANAGEMENT_API_URL: stub.url }),
      onLog: (line) => log(`[sidecar dispatch] ${line}`),
    });
    log(`dispatch phase: ${pending} pending orders, sidecar pid ${sidecar.pid}, Management API ${stub.url}`);
    const deadline = Date.now() + DISPATCH_TIMEOUT_MS;
    let lastLog = Date.now();
    while (stub.received.length < pending && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  accepted ${stub.received.length}/${pending}`);
      }
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const mem = readProcMemory(sidecar.pid);
    const accepted = stub.received.length;
    if (accepted < pending)
      log(`dispatch phase: only ${accepted} of ${pending} accepted before the time limit`);
    else log(`dispatch phase: ${accepted} accepted in ${seconds.toFixed(1)} s (sidecar start included)`);
    return {
      orders: pending,
      accepted,
      seconds_incl_start: round(seconds, 2),
      peak_rss_mb: mem === undefined ? null : Math.round(mem.hwmBytes / MB),
      end_rss_mb: mem === undefined ? null : Math.round(mem.rssBytes / MB),
    };
  } finally {
    await sidecar?.stop();
    await stub.close();
  }
}

async function main(): Promise<void> {
  if (SIZES.length === 0) throw new Error('GROUP_SIZES names no size');
  const started = Date.now();
  log(
    `e2e group bench: sizes ${SIZES.join(', ')}, reps ${SIZES.map(repsFor).join('/')}, raw in flight ${RAW_INFLIGHT}, ${OPENSEARCH_URL}, prefix ${prefix}`,
  );
  await seed();

  const dir = mkdtempSync(path.join(tmpdir(), 'bench-e2e-'));
  const token = randomBytes(24).toString('base64url');
  const usersFile = path.join(dir, 'users.json');
  writeFileSync(
    usersFile,
    JSON.stringify({ tokens: [{ name: 'bench', token_sha256: hashApiToken(token), roles: ['admin'] }] }),
    { mode: 0o600 },
  );
  const sidecarEnv = (name: string, extra: Record<string, string>): Record<string, string> => ({
    OPENSEARCH_URL,
    CM_NODE_ID: `${prefix}${name}`,
    CM_ORDERS_INDEX: ordersIndex,
    CM_AGENTS_INDEX: agentsIndex,
    CM_INDEX_REPLICAS: '0',
    CM_HTTP_HOST: '127.0.0.1',
    CM_HTTP_PORT: '0',
    CM_USERS_FILE: usersFile,
    CM_MAX_FAN_OUT: String(Math.max(200_000, MAX_SIZE)),
    CM_LOG_LEVEL: 'warn',
    ...extra,
  });
  let sidecar: SidecarProcess | undefined;
  let sampler: RssSampler | undefined;
  try {
    sidecar = await startSidecarProcess({
      env: sidecarEnv('submit', { CM_SCHEDULER_ENABLED: 'false' }),
      onLog: (line) => log(`[sidecar] ${line}`),
    });
    const pid = sidecar.pid;
    sampler = new RssSampler(pid, 20);
    const startRss = readProcMemory(pid)?.rssBytes;
    log(
      `sidecar pid ${pid} at ${sidecar.url}; RSS ${startRss === undefined ? '?' : Math.round(startRss / MB)} MB`,
    );

    // Warm-up, not counted: JIT, connections, node caches, on both sides.
    const warm = SIZES[0] as number;
    await productRun(sidecar, token, warm);
    await rawRun(warm);
    await pipelineRun(warm);
    const warmRss = readProcMemory(pid)?.rssBytes;
    log(`warm-up done; sidecar RSS ${warmRss === undefined ? '?' : Math.round(warmRss / MB)} MB`);

    const sizes: Record<string, unknown>[] = [];
    for (const size of SIZES) {
      const product: number[] = [];
      const raw: number[] = [];
      const pipeline: number[] = [];
      /** The sidecar's CPU (user + system, from /proc) per order of each product run, in µs. */
      const productCpuUs: number[] = [];
      const reps = repsFor(size);
      // One run of each side at each new size, not counted: it absorbs what the previous size left behind
      // (segment merges in OpenSearch, the sidecar's heap growing to the new size) and would otherwise charge
      // it to whichever side runs first. Its times are reported with the figures. Sizes above 100,000 get
      // none: each of their runs takes minutes, and the first run of the largest size starts on a quiet node.
      let warmup: { product_s: number; raw_s: number; pipeline_s: number } | undefined;
      if (size !== warm && size <= 100_000) {
        const productWarm = await productRun(sidecar, token, size);
        const rawWarm = await rawRun(size);
        const pipelineWarm = await pipelineRun(size);
        warmup = {
          product_s: round(productWarm, 4),
          raw_s: round(rawWarm, 4),
          pipeline_s: round(pipelineWarm, 4),
        };
        log(
          `size ${size} warm-up (not counted): product ${productWarm.toFixed(3)} s, raw ${rawWarm.toFixed(3)} s, pipeline ${pipelineWarm.toFixed(3)} s`,
        );
      }
      for (let rep = 0; rep < reps; rep++) {
        if (rep > 0 && Date.now() - started > TIME_LIMIT_MS) {
          log(`time limit reached: size ${size} stops after ${rep} repetitions`);
          break;
        }
        // The three sides in an order that alternates from one repetition to the next.
        const order =
          rep % 2 === 0
            ? (['product', 'raw', 'pipeline'] as const)
            : (['pipeline', 'raw', 'product'] as const);
        for (const kind of order) {
          let sec: number;
          if (kind === 'product') {
            sampler.enter(`product-${size}`);
            const cpu0 = readProcCpuSeconds(sidecar.pid);
            try {
              sec = await productRun(sidecar, token, size);
            } finally {
              sampler.enter(undefined);
            }
            const cpu1 = readProcCpuSeconds(sidecar.pid);
            if (cpu0 !== undefined && cpu1 !== undefined) productCpuUs.push(((cpu1 - cpu0) / size) * 1e6);
            product.push(sec);
          } else if (kind === 'raw') {
            sec = await rawRun(size);
            raw.push(sec);
          } else {
            sec = await pipelineRun(size);
            pipeline.push(sec);
          }
          log(
            `size ${size} rep ${rep + 1}/${reps} ${kind.padEnd(8)} ${sec.toFixed(3)} s = ${Math.round(size / sec)} orders/s, ${((sec / size) * 1e6).toFixed(1)} µs/order` +
              (kind === 'product' && productCpuUs.length === product.length
                ? `, sidecar CPU ${(productCpuUs[productCpuUs.length - 1] as number).toFixed(1)} µs/order`
                : ''),
          );
        }
      }
      const p = summarize(product);
      const r = summarize(raw);
      const pl = summarize(pipeline);
      const peak = sampler.peak(`product-${size}`);
      const figures = {
        size,
        repetitions: product.length,
        product_seconds: product.map((x) => round(x, 4)),
        warmup_seconds: warmup ?? null,
        raw_seconds: raw.map((x) => round(x, 4)),
        pipeline_seconds: pipeline.map((x) => round(x, 4)),
        product_median_s: round(p.median, 4),
        raw_median_s: round(r.median, 4),
        product_orders_per_s: Math.round(size / p.median),
        raw_orders_per_s: Math.round(size / r.median),
        product_us_per_order: round((p.median / size) * 1e6, 2),
        raw_us_per_order: round((r.median / size) * 1e6, 2),
        product_us_per_order_min: round((p.min / size) * 1e6, 2),
        product_us_per_order_max: round((p.max / size) * 1e6, 2),
        raw_us_per_order_min: round((r.min / size) * 1e6, 2),
        raw_us_per_order_max: round((r.max / size) * 1e6, 2),
        /** Throughput ratio product / raw (= raw time / product time). */
        ratio: round(r.median / p.median),
        /** Throughput ratio product / read-and-write pipeline baseline. */
        pipeline_ratio: round(pl.median / p.median),
        pipeline_us_per_order: round((pl.median / size) * 1e6, 2),
        sidecar_peak_rss_sampled_mb: peak === undefined ? null : Math.round(peak / MB),
        sidecar_cpu_us_per_order: productCpuUs.map((x) => round(x, 1)),
      };
      log(
        `size ${size}: product ${figures.product_orders_per_s}/s, raw ${figures.raw_orders_per_s}/s, ratio ${figures.ratio}; pipeline ${Math.round(size / pl.median)}/s, ratio ${figures.pipeline_ratio}`,
      );
      sizes.push(figures);
    }

    const end = readProcMemory(pid);
    const largest = sizes[sizes.length - 1] as { ratio: number; size: number };
    const hwmMb = end === undefined ? null : Math.round(end.hwmBytes / MB);
    sampler.stop();
    await sidecar.stop();
    const dispatch = DISPATCH_RSS ? await dispatchPhase((name, extra) => sidecarEnv(name, extra)) : undefined;
    const result = {
      benchmark: 'e2e-group',
      opensearch_url_is_local: /127\.0\.0\.1|localhost/.test(OPENSEARCH_URL),
      group_sizes: SIZES,
      raw_inflight: RAW_INFLIGHT,
      batch_orders: BATCH,
      a_size: largest.size,
      a_ratio: largest.ratio,
      goal_ratio: GOAL_RATIO,
      sidecar_start_rss_mb: startRss === undefined ? null : Math.round(startRss / MB),
      sidecar_warm_rss_mb: warmRss === undefined ? null : Math.round(warmRss / MB),
      /** Kernel high-water mark of the sidecar's RSS over its whole life (every size, warm-up included). */
      sidecar_peak_rss_mb: hwmMb,
      goal_rss_mb: GOAL_RSS_MB,
      /** A sidecar with its scheduler dispatching the largest group's orders: its own RSS (f, during dispatch). */
      dispatch_sidecar: dispatch ?? null,
      sizes,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    log(
      `(a) ratio ${result.a_ratio} at ${result.a_size} (goal ≥ ${GOAL_RATIO}); (f) sidecar peak RSS ${hwmMb} MB submitting, ${dispatch?.peak_rss_mb ?? '—'} MB dispatching`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    sampler?.stop();
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
    await client.indices.delete(
      { index: `${prefix}*`, ignore_unavailable: true, allow_no_indices: true },
      { ignore: [404] },
    );
    await client.indices.deleteIndexTemplate({ name: `command-manager-${prefix}*` }, { ignore: [404] });
    await client.close();
  }
}

main().catch((e: unknown) => {
  log(`e2e group bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
