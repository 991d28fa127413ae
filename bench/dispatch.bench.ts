/**
 * Benchmark: the scheduler dispatching pending orders to a local Management API stub that answers at once.
 *
 * Figures:
 * 1. Throughput: ORDERS pending orders (default 100,000) found in the partitions the scheduler leases, POSTed to the stub's
 *    `/accept_commands` and marked `sent`, in orders/s; against the same run's baseline of raw `_bulk`
 *    updates of the same orders to `sent` (no lease, no HTTP, no read: the least OpenSearch work that moves
 *    them). A third side in the same rounds, the read-deliver-write pipeline (`pipelineRun`), does the job's
 *    whole physical work without the product: the scheduler's claim search, a POST of each batch to the stub,
 *    the conditional bulk of the `sent` versions; it bounds what any design that reads the orders it delivers
 *    can reach here (`ratioVsPipeline`, `pipelineVsRaw`). Runs alternate (raw, pipeline, scheduler in even
 *    rounds; scheduler, pipeline, raw in odd ones) over ROUNDS rounds, each on a freshly seeded index;
 *    medians, min and max reported. Goal: ratio ≥ 0.7. WARMUP_ROUNDS sets (default
 *    1) run first and are not counted: on a node just started, the first runs also pay for OpenSearch
 *    compiling its code paths, which made the side that ran first look slower.
 *    The scheduler runs in a CHILD process (this file again, with DISPATCH_BENCH_CHILD set), so that its
 *    peak RSS (`schedulerMaxRssMB`, goal ≤ 200 MB for the sidecar) is its own, not the harness's (which
 *    holds the seeded orders and the stub's records). The child weighs what a sidecar weighs: compiled by
 *    `lib/swc-register.mjs` (ts-node would load the TypeScript compiler, ~35 MB of live heap that changes how
 *    V8 sizes and collects it) and run with the sidecar's heap cap. Duplicate deliveries are counted per round.
 *    A sidecar runs for days, so its code is compiled and optimised when a dispatch comes: before the timed
 *    run, the child dispatches WARMUP orders (default 20,000) of another request from an index of their own,
 *    with a scheduler of its own that it then stops (the timed scheduler starts from nothing: no lease, no
 *    cursor). The raw side's code is warm from the seeding that precedes every run.
 * 2. Latency: p50/p99 of submit → accepted (`@timestamp` → `sent_at`) for single orders submitted one at a
 *    time to an idle scheduler, woken as the sidecar wakes it: `wake({ requestId, orders })`, which claims
 *    the orders by id (real-time) without waiting for a refresh. Goal: p99 < 250 ms.
 *
 * Store settings: the sidecar's (`saveRefresh: false`, `writeRefresh: true`, `claimRefresh: false`);
 * the scheduler's verdicts, renewals and deferrals ask for `searchable: false` themselves. Seeding uses
 * `saveRefresh: true` so that the seeded orders are searchable when a run starts.
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/dispatch.bench.ts
 * Both sides start from a quiet node: before each timed run the benchmark flushes its indices and waits for
 * OpenSearch's merges to end (`settle`).
 *
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), ORDERS (100000), ROUNDS (3), BATCH (1000), SETTLE_MAX_MS
 * (60000: longest wait for merges before a timed run; 0: none),
 * CONCURRENCY (4), WARMUP (20000; 0: none), WARMUP_ROUNDS (1: uncounted sets of the three sides first), LATENCY_SAMPLES (200), TIME_LIMIT_S (900: no new round starts after it), CLAIM_REFRESH
 * (`true`/`false`/`wait_for`: the store's `claimRefresh`, to compare), PIPELINE_DELIVERY (`0`: the pipeline
 * baseline reads and writes without POSTing to the stub), OPENSEARCH_PID (OpenSearch's process id:
 * its CPU seconds per run are reported beside each process's own), CHILD_STDOUT (a file the scheduler's
 * process's whole stdout is appended to, e.g. with `--trace-gc`), CHILD_NODE_FLAGS (Node flags of the
 * scheduler's process only, e.g. `--max-old-space-size=96` to see how much heap it really needs).
 * Prints progress to stderr and one JSON object of figures as the last line of stdout.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { DEFAULT_PARTITIONS, markSent, orderDocumentId, systemClock } from '@command-manager/core';
import type { CommandRequest, Order } from '@command-manager/core';
import {
  createOpenSearchClient,
  OpenSearchLockStore,
  OpenSearchOrderStore,
  OpenSearchRequestStore,
} from '@command-manager/opensearch';
import {
  ManagementApiClient,
  Scheduler,
  SchedulerMetricNames,
  toAcceptCommandsOrder,
} from '@command-manager/scheduler';
import type { SchedulerMetricName, SchedulerMetrics } from '@command-manager/scheduler';
import { StubManagementApi } from '../packages/scheduler/test/support/stub-management-api';
import { claimRuleClauses, partitionClause } from '../packages/opensearch/dist/internal/claim-rule';
import { benchOrder } from './lib/bench-orders';
import { readProcCpuSeconds } from './lib/proc-cpu';
import { SIDECAR_HEAP_FLAG } from './lib/sidecar-process';

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const ORDERS = Number(process.env.ORDERS ?? 100_000);
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 3));
const BATCH = Number(process.env.BATCH ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const LATENCY_SAMPLES = Number(process.env.LATENCY_SAMPLES ?? 200);
const WARMUP = Math.max(0, Number(process.env.WARMUP ?? 20_000));
/** Uncounted raw + scheduler pairs run before the counted rounds (a fresh node compiles its code paths then). */
const WARMUP_ROUNDS = Math.max(0, Number(process.env.WARMUP_ROUNDS ?? 1));
/** Request id of the warm-up orders: their ids never meet the timed run's (request 1). */
const WARMUP_REQUEST_ID = 2;
const TIME_LIMIT_MS = Number(process.env.TIME_LIMIT_S ?? 900) * 1000;
/** Refresh of claim lease writes (`claimRefresh`): unset = the sidecar's (`false`); `true`/`wait_for` to compare. */
const CLAIM_REFRESH = process.env.CLAIM_REFRESH;
/** OpenSearch's process id, to report its CPU seconds per run (optional; Linux only). */
const OPENSEARCH_PID = process.env.OPENSEARCH_PID ? Number(process.env.OPENSEARCH_PID) : undefined;
/** Longest wait for OpenSearch's merges to end before each timed run (`settle`); 0: no wait. */
const SETTLE_MAX_MS = Math.max(0, Number(process.env.SETTLE_MAX_MS ?? 60_000));
/** Whether the read-deliver-write baseline POSTs each batch to the stub (`0`: read and write only, to compare). */
const PIPELINE_DELIVERY = process.env.PIPELINE_DELIVERY !== '0';
const GOAL_RATIO = 0.7;
const GOAL_P99_MS = 250;

const client = createOpenSearchClient({ node: OPENSEARCH_URL, requestTimeoutMs: 120_000 });
const prefix = `bench-dispatch-${randomBytes(3).toString('hex')}-`;
let indexNo = 0;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const cmd: CommandRequest = {
  source: 'Users/Services',
  user: 'bench',
  target: { type: 'group', id: 'bench' },
  action: { name: 'restart', args: {} },
  timeout: 3600,
};

// Arrays and index loops only: under the root tsconfig ts-node compiles for ES5, where spreading a
// generator, Map or Set silently yields nothing.
function pendingOrders(requestId: number, count: number, now: Date): Order[] {
  const out: Order[] = [];
  for (let i = 1; i <= count; i++) {
    out.push(benchOrder(cmd, requestId, i, now));
  }
  return out;
}

function stores(
  ordersIndex: string,
  saveRefresh: boolean,
): {
  orders: OpenSearchOrderStore;
  requests: OpenSearchRequestStore;
  locks: OpenSearchLockStore;
} {
  const common = { client, ordersIndex, replicas: 0 };
  return {
    // As the sidecar builds it (packages/sidecar/src/sidecar.ts), but for `saveRefresh` when seeding.
    orders: new OpenSearchOrderStore({
      ...common,
      saveRefresh,
      writeRefresh: true,
      claimRefresh:
        CLAIM_REFRESH === 'wait_for' ? ('wait_for' as const) : CLAIM_REFRESH === 'true' ? true : false,
      batchMaxOrders: Math.max(1000, BATCH),
    }),
    requests: new OpenSearchRequestStore(common),
    locks: new OpenSearchLockStore(common),
  };
}

async function seed(count = ORDERS, requestId = 1): Promise<{ index: string; seeded: Order[] }> {
  const index = `${prefix}${++indexNo}`;
  const s = stores(index, true);
  await s.orders.init();
  await s.requests.init();
  const now = systemClock.now();
  const seeded = pendingOrders(requestId, count, now);
  const t0 = Date.now();
  const result = await s.orders.saveOrders(seeded);
  if (result.written !== count)
    throw new Error(
      `seeding wrote ${result.written} of ${count}: ${JSON.stringify(result.failed.slice(0, 3))}`,
    );
  log(`  seeded ${count} orders in ${index} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return { index, seeded };
}

/**
 * Waits until OpenSearch has no merge running (after a flush of this run's indices), so that each timed run
 * starts from a quiet node: the merges a seeding (or a warm-up) leaves behind would otherwise run during the
 * next timed run, on either side at random. At most SETTLE_MAX_MS.
 */
async function settle(): Promise<void> {
  if (SETTLE_MAX_MS <= 0) return;
  const deadline = Date.now() + SETTLE_MAX_MS;
  await client.indices.flush({ index: `${prefix}*`, allow_no_indices: true, ignore_unavailable: true });
  let quiet = 0;
  while (Date.now() < deadline && quiet < 2) {
    const stats = await client.nodes.stats({ metric: ['indices'], index_metric: ['merge'] });
    const nodes = Object.values(
      (stats.body as { nodes?: Record<string, { indices?: { merges?: { current?: number } } }> }).nodes ?? {},
    );
    const running = nodes.reduce((n, node) => n + (node.indices?.merges?.current ?? 0), 0);
    quiet = running === 0 ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function drop(index: string): Promise<void> {
  await client.indices.delete(
    { index: `${index}*`, ignore_unavailable: true, allow_no_indices: true },
    { ignore: [404] },
  );
}

/** CPU seconds used by each process of one side over one timed run (OpenSearch's only with OPENSEARCH_PID). */
interface SideCpu {
  /** This harness (raw side: it builds and sends the bulks; scheduler side: the stub it hosts). */
  harness: number;
  /** The scheduler's process (scheduler side only). */
  scheduler?: number;
  opensearch?: number;
}

function opensearchCpu(): number | undefined {
  return OPENSEARCH_PID === undefined ? undefined : readProcCpuSeconds(OPENSEARCH_PID);
}

function cpuDelta(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : Number((after - before).toFixed(2));
}

/** Raw baseline: `_bulk` index of every order's `sent` version, BATCH per request, CONCURRENCY in flight. */
async function rawRun(index: string, seeded: Order[]): Promise<{ seconds: number; cpu: SideCpu }> {
  const now = systemClock.now();
  const os0 = opensearchCpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < seeded.length) {
      const slice = seeded.slice(next, next + BATCH);
      next += BATCH;
      const body: Array<Record<string, unknown> | Order> = [];
      for (const o of slice) {
        body.push({
          index: { _index: index, _id: orderDocumentId(o.command.request_id, o.command.order_id) },
        });
        body.push(markSent(o, now));
      }
      const res = await client.bulk({ body, refresh: false });
      if (res.body.errors) throw new Error('raw bulk had item errors');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const own = process.cpuUsage(cpu0);
  const opensearch = cpuDelta(os0, opensearchCpu());
  return {
    seconds,
    cpu: {
      harness: Number(((own.user + own.system) / 1e6).toFixed(2)),
      ...(opensearch !== undefined && { opensearch }),
    },
  };
}

/**
 * Read-deliver-write baseline, the job's whole physical work without the product: the due orders read with the
 * scheduler's own claim search (its filter, sort and page of CONCURRENCY × BATCH hits with their sources and
 * revisions, going on with `search_after`), each BATCH POSTed to the stub's `/accept_commands`, then its `sent`
 * version bulk-indexed conditionally on the revision read; CONCURRENCY batches in flight, the next page read
 * while the current one is delivered and written. No lease, no bookkeeping, no retry.
 */
async function pipelineRun(index: string, stubUrl: string): Promise<{ seconds: number; cpu: SideCpu }> {
  const now = systemClock.now();
  const partitions: number[] = [];
  for (let p = 0; p < DEFAULT_PARTITIONS; p++) partitions.push(p);
  const query = {
    bool: { filter: claimRuleClauses(now.toISOString()).concat([partitionClause(partitions)]) },
  };
  const sort = [{ _seq_no: 'asc' }, { 'command.request_id': 'asc' }, { 'command.order_id': 'asc' }];
  const pageSize = CONCURRENCY * BATCH;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL('/accept_commands', stubUrl);
  type PageHit = { _id: string; _seq_no: number; _primary_term: number; _source: Order; sort: unknown[] };
  const read = async (after: unknown[] | undefined): Promise<PageHit[]> => {
    const body: Record<string, unknown> = {
      size: pageSize,
      query,
      sort,
      seq_no_primary_term: true,
      track_total_hits: false,
    };
    if (after) body.search_after = after;
    const res = await client.search({ index, body });
    return (res.body as { hits: { hits: PageHit[] } }).hits.hits;
  };
  const deliver = (hits: PageHit[]): Promise<void> => {
    const orders = hits.map((h) => toAcceptCommandsOrder({ id: h._id, rev: '', order: h._source }));
    const payload = Buffer.from(JSON.stringify({ orders }));
    return new Promise((resolve, reject) => {
      const req = http.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              data?: { total_affected_items?: number };
            };
            if (res.statusCode !== 200 || answer.data?.total_affected_items !== hits.length)
              reject(new Error(`stub answered ${String(res.statusCode)}`));
            else resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
  const write = async (hits: PageHit[]): Promise<void> => {
    const body: Array<Record<string, unknown> | Order> = [];
    for (const h of hits) {
      body.push({
        index: { _index: index, _id: h._id, if_seq_no: h._seq_no, if_primary_term: h._primary_term },
      });
      body.push(markSent(h._source, now));
    }
    const res = await client.bulk({ body, refresh: false });
    if (res.body.errors) throw new Error('pipeline bulk had item errors');
  };
  const os0 = opensearchCpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let done = 0;
  let page = await read(undefined);
  while (page.length > 0) {
    const last = page[page.length - 1] as PageHit;
    const next = page.length === pageSize ? read(last.sort) : Promise.resolve([] as PageHit[]);
    const batches: Array<Promise<void>> = [];
    for (let i = 0; i < page.length; i += BATCH) {
      const batch = page.slice(i, i + BATCH);
      batches.push(PIPELINE_DELIVERY ? deliver(batch).then(() => write(batch)) : write(batch));
    }
    await Promise.all(batches);
    done += page.length;
    page = await next;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const own = process.cpuUsage(cpu0);
  const opensearch = cpuDelta(os0, opensearchCpu());
  agent.destroy();
  if (done !== ORDERS) throw new Error(`pipeline moved ${done} of ${ORDERS} orders`);
  return {
    seconds,
    cpu: {
      harness: Number(((own.user + own.system) / 1e6).toFixed(2)),
      ...(opensearch !== undefined && { opensearch }),
    },
  };
}

/** Metrics sink that resolves when `accepted` reaches a target, and keeps the latency observations. */
class BenchMetrics implements SchedulerMetrics {
  accepted = 0;
  readonly latenciesSec: number[] = [];
  private waiter: { target: number; resolve: () => void } | undefined;
  inc(name: SchedulerMetricName, _labels?: Record<string, string>, n = 1): void {
    if (name !== SchedulerMetricNames.ACCEPTED) return;
    this.accepted += n;
    if (this.waiter && this.accepted >= this.waiter.target) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
  }
  set(): void {}
  observe(name: SchedulerMetricName, v: number): void {
    if (name === SchedulerMetricNames.SUBMIT_TO_ACCEPTED_SECONDS) this.latenciesSec.push(v);
  }
  until(target: number): Promise<void> {
    if (this.accepted >= target) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { target, resolve }));
  }
}

async function withScheduler<T>(
  index: string,
  stubUrl: string,
  options: { batchSize: number; concurrency: number },
  body: (scheduler: Scheduler, metrics: BenchMetrics) => Promise<T>,
): Promise<T> {
  const s = stores(index, false);
  const metrics = new BenchMetrics();
  const delivery = new ManagementApiClient({
    managementApiUrl: stubUrl,
    maxConnections: options.concurrency * 2,
  });
  const scheduler = new Scheduler({
    ...s,
    delivery,
    owner: `bench-${randomBytes(3).toString('hex')}`,
    metrics,
    options: {
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      sweepIntervalMs: 3_600_000,
      retentionIntervalMs: 3_600_000,
    },
  });
  try {
    return await body(scheduler, metrics);
  } finally {
    await scheduler.stop();
    await delivery.close();
  }
}

interface ChildFigures {
  seconds: number;
  /** RSS once everything is loaded (ts-node and TypeScript included), just before `scheduler.start()`. */
  startRssMB: number;
  /** Peak RSS of the child over its life (getrusage). */
  maxRssMB: number;
  startHeapUsedMB: number;
  /** Peak `heapUsed`, sampled every 50 ms (garbage not yet collected included). */
  peakHeapUsedMB: number;
  /** CPU seconds (user + system) the scheduler's process used during the run: near `seconds` = Node-bound. */
  cpuSeconds: number;
  /** CPU seconds of the harness (the stub's process, this child's parent) during the run. */
  harnessCpuSeconds?: number;
  /** CPU seconds of OpenSearch during the run (with OPENSEARCH_PID). */
  opensearchCpuSeconds?: number;
}

/** The throughput run, in this (child) process: figures as the last line of stdout. */
async function childMain(): Promise<void> {
  const index = process.env.DISPATCH_BENCH_INDEX as string;
  const stubUrl = process.env.DISPATCH_BENCH_STUB_URL as string;
  const mb = (bytes: number): number => Math.round(bytes / 2 ** 20);
  const start = process.memoryUsage();
  let cpu0 = process.cpuUsage();
  let cpuSeconds = 0;
  let parent0: number | undefined;
  let os0: number | undefined;
  let harnessCpuSeconds: number | undefined;
  let opensearchCpuSeconds: number | undefined;
  let peakHeap = 0;
  // The heap alone: `process.memoryUsage()` also reads the RSS from the kernel, a cost the sidecar does not have.
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
  }, 50);
  try {
    const warmIndex = process.env.DISPATCH_BENCH_WARM_INDEX;
    if (warmIndex) {
      await withScheduler(
        warmIndex,
        stubUrl,
        { batchSize: BATCH, concurrency: CONCURRENCY },
        (scheduler, metrics) => {
          scheduler.start();
          return metrics.until(WARMUP);
        },
      );
    }
    await settle();
    const seconds = await withScheduler(
      index,
      stubUrl,
      { batchSize: BATCH, concurrency: CONCURRENCY },
      async (scheduler, metrics) => {
        const t0 = process.hrtime.bigint();
        cpu0 = process.cpuUsage();
        parent0 = readProcCpuSeconds(process.ppid);
        os0 = opensearchCpu();
        scheduler.start();
        await metrics.until(ORDERS);
        const cpu = process.cpuUsage(cpu0);
        cpuSeconds = (cpu.user + cpu.system) / 1e6;
        harnessCpuSeconds = cpuDelta(parent0, readProcCpuSeconds(process.ppid));
        opensearchCpuSeconds = cpuDelta(os0, opensearchCpu());
        return Number(process.hrtime.bigint() - t0) / 1e9;
      },
    );
    const figures: ChildFigures = {
      seconds,
      startRssMB: mb(start.rss),
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      startHeapUsedMB: mb(start.heapUsed),
      peakHeapUsedMB: mb(peakHeap),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      ...(harnessCpuSeconds !== undefined && { harnessCpuSeconds }),
      ...(opensearchCpuSeconds !== undefined && { opensearchCpuSeconds }),
    };
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    clearInterval(sampler);
    await client.close();
  }
}

/**
 * Runs the scheduler on `index` in a child process (this file) and returns its figures. The child weighs what
 * a sidecar weighs: it is compiled by `lib/swc-register.mjs` (no TypeScript compiler in its heap) and runs
 * with the sidecar's heap cap (`SIDECAR_HEAP_FLAG`) unless CHILD_NODE_FLAGS sets one.
 */
function schedulerRun(index: string, stub: StubManagementApi, warmIndex?: string): Promise<ChildFigures> {
  return new Promise((resolve, reject) => {
    // CHILD_NODE_FLAGS (e.g. `--max-old-space-size=256`, `--cpu-prof`) go to the scheduler's process only.
    const flags = (process.env.CHILD_NODE_FLAGS ?? '').split(' ').filter((f) => f.length > 0);
    if (!flags.some((f) => f.startsWith('--max-old-space-size'))) flags.unshift(SIDECAR_HEAP_FLAG);
    const loader = pathToFileURL(path.join(__dirname, 'lib', 'swc-register.mjs')).href;
    // Required from a CommonJS script: with --import, Node would hand a .ts entry point to its ES module loader.
    const entry = `require(${JSON.stringify(__filename)})`;
    const child = spawn(process.execPath, [...flags, '--import', loader, '-e', entry], {
      env: {
        ...process.env,
        DISPATCH_BENCH_CHILD: '1',
        DISPATCH_BENCH_INDEX: index,
        DISPATCH_BENCH_STUB_URL: stub.url,
        ...(warmIndex !== undefined && { DISPATCH_BENCH_WARM_INDEX: warmIndex }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      // Node flags such as `--trace-gc` write to the child's stdout too: its figures are its last JSON line.
      const last =
        out
          .trim()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .pop() ?? '';
      if (process.env.CHILD_STDOUT) writeFileSync(process.env.CHILD_STDOUT, out, { flag: 'a' });
      if (code !== 0) return reject(new Error(`scheduler child exited with ${String(code)}`));
      try {
        resolve(JSON.parse(last) as ChildFigures);
      } catch {
        reject(new Error(`scheduler child printed no figures: ${last}`));
      }
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th percentile of `xs`; null when there is no sample (`LATENCY_SAMPLES=0`). */
function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

function rounded(x: number | null): number | null {
  return x === null ? null : Number(x.toFixed(1));
}

async function latencyRun(stub: StubManagementApi): Promise<number[]> {
  const index = `${prefix}${++indexNo}`;
  const s = stores(index, false);
  await s.orders.init();
  await s.requests.init();
  try {
    return await withScheduler(
      index,
      stub.url,
      { batchSize: 100, concurrency: 4 },
      async (scheduler, metrics) => {
        scheduler.start();
        const warmup = 10;
        for (let i = 1; i <= warmup + LATENCY_SAMPLES; i++) {
          // One order per request, submitted as the API does: written (not refreshed, like the sidecar's
          // store), then the scheduler woken with what was written (CommandService's `onOrdersWritten`).
          const [order] = pendingOrders(i, 1, systemClock.now());
          await s.orders.saveOrders([order as Order]);
          scheduler.wake({ requestId: i, orders: 1 });
          await metrics.until(i);
        }
        return metrics.latenciesSec.slice(warmup).map((v) => v * 1000);
      },
    );
  } finally {
    await drop(index);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const stub = await StubManagementApi.start();
  const raw: number[] = [];
  const pipeline: number[] = [];
  const sched: number[] = [];
  const rss: number[] = [];
  const heap: number[] = [];
  const startRss: number[] = [];
  const startHeap: number[] = [];
  const cpus: number[] = [];
  const rawCpu: SideCpu[] = [];
  const pipelineCpu: SideCpu[] = [];
  const schedulerSideCpu: SideCpu[] = [];
  const warmups: Array<{ side: 'raw' | 'pipeline' | 'scheduler'; seconds: number }> = [];
  let duplicates = 0;
  try {
    log(
      `dispatch bench: ${ORDERS} orders, batch ${BATCH}, concurrency ${CONCURRENCY}, ${ROUNDS} rounds after ${WARMUP_ROUNDS} uncounted, ${OPENSEARCH_URL}`,
    );
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      if (round > 0 && Date.now() - started > TIME_LIMIT_MS) {
        log(`time limit reached after ${round} rounds`);
        break;
      }
      // Uncounted rounds (negative numbers) first: on a node just started, the first runs of each kind of
      // work also pay for OpenSearch compiling its code paths (a first raw run took twice as long as the next).
      const counted = round >= 0;
      const label = counted
        ? `round ${round + 1}`
        : `warm-up round ${round + WARMUP_ROUNDS + 1} (not counted)`;
      const order =
        (round + WARMUP_ROUNDS) % 2 === 0
          ? (['raw', 'pipeline', 'scheduler'] as const)
          : (['scheduler', 'pipeline', 'raw'] as const);
      for (const kind of order) {
        const { index, seeded } = await seed();
        try {
          if (kind === 'raw') {
            await settle();
            const { seconds: sec, cpu } = await rawRun(index, seeded);
            if (counted) {
              raw.push(sec);
              rawCpu.push(cpu);
            } else warmups.push({ side: 'raw', seconds: Number(sec.toFixed(3)) });
            log(
              `${label} raw bulk: ${sec.toFixed(2)} s = ${Math.round(ORDERS / sec)} orders/s (CPU: harness ${cpu.harness} s${cpu.opensearch === undefined ? '' : `, OpenSearch ${cpu.opensearch} s`})`,
            );
          } else if (kind === 'pipeline') {
            stub.clearRecords();
            await settle();
            const { seconds: sec, cpu } = await pipelineRun(index, stub.url);
            stub.clearRecords();
            if (counted) {
              pipeline.push(sec);
              pipelineCpu.push(cpu);
            } else warmups.push({ side: 'pipeline', seconds: Number(sec.toFixed(3)) });
            log(
              `${label} read-deliver-write pipeline: ${sec.toFixed(2)} s = ${Math.round(ORDERS / sec)} orders/s (CPU: harness ${cpu.harness} s${cpu.opensearch === undefined ? '' : `, OpenSearch ${cpu.opensearch} s`})`,
            );
          } else {
            stub.clearRecords();
            const warm = WARMUP > 0 ? await seed(WARMUP, WARMUP_REQUEST_ID) : undefined;
            let child: ChildFigures;
            try {
              child = await schedulerRun(index, stub, warm?.index);
            } finally {
              if (warm) await drop(warm.index);
            }
            const { seconds: sec, maxRssMB, peakHeapUsedMB } = child;
            // Duplicate deliveries are counted in every run, the uncounted ones included.
            const dup = stub.duplicatesAccepted().length;
            duplicates += dup;
            log(
              `${label} scheduler: ${sec.toFixed(2)} s = ${Math.round(ORDERS / sec)} orders/s (stub accepted ${stub.accepted.length}, ${dup} twice; child RSS ${child.startRssMB} MB at start, peak ${maxRssMB} MB; heap used ${child.startHeapUsedMB} → peak ${peakHeapUsedMB} MB; CPU ${child.cpuSeconds} s, harness ${child.harnessCpuSeconds ?? '?'} s${child.opensearchCpuSeconds === undefined ? '' : `, OpenSearch ${child.opensearchCpuSeconds} s`})`,
            );
            stub.clearRecords();
            if (!counted) {
              warmups.push({ side: 'scheduler', seconds: Number(sec.toFixed(3)) });
              continue;
            }
            sched.push(sec);
            rss.push(maxRssMB);
            heap.push(peakHeapUsedMB);
            startRss.push(child.startRssMB);
            startHeap.push(child.startHeapUsedMB);
            cpus.push(child.cpuSeconds);
            schedulerSideCpu.push({
              harness: child.harnessCpuSeconds ?? 0,
              scheduler: child.cpuSeconds,
              ...(child.opensearchCpuSeconds !== undefined && { opensearch: child.opensearchCpuSeconds }),
            });
          }
        } finally {
          await drop(index);
        }
      }
    }
    log(`latency: ${LATENCY_SAMPLES} single orders on an idle scheduler`);
    const lat = await latencyRun(stub);
    const rawRate = ORDERS / median(raw);
    const pipelineRate = ORDERS / median(pipeline);
    const schedRate = ORDERS / median(sched);
    const figures = {
      bench: 'dispatch',
      orders: ORDERS,
      batchSize: BATCH,
      concurrency: CONCURRENCY,
      rounds: sched.length,
      // Uncounted rounds run first (WARMUP_ROUNDS), in run order.
      warmupRuns: warmups,
      rawBulkSeconds: raw.map((x) => Number(x.toFixed(3))),
      schedulerSeconds: sched.map((x) => Number(x.toFixed(3))),
      rawBulkOrdersPerSec: Math.round(rawRate),
      rawBulkOrdersPerSecMin: Math.round(ORDERS / Math.max(...raw)),
      rawBulkOrdersPerSecMax: Math.round(ORDERS / Math.min(...raw)),
      pipelineSeconds: pipeline.map((x) => Number(x.toFixed(3))),
      pipelineOrdersPerSec: Math.round(pipelineRate),
      pipelineOrdersPerSecMin: Math.round(ORDERS / Math.max(...pipeline)),
      pipelineOrdersPerSecMax: Math.round(ORDERS / Math.min(...pipeline)),
      schedulerOrdersPerSec: Math.round(schedRate),
      schedulerOrdersPerSecMin: Math.round(ORDERS / Math.max(...sched)),
      schedulerOrdersPerSecMax: Math.round(ORDERS / Math.min(...sched)),
      ratio: Number((schedRate / rawRate).toFixed(3)),
      // The product against the job's whole physical work, and that work against raw bulk updates alone.
      ratioVsPipeline: Number((schedRate / pipelineRate).toFixed(3)),
      pipelineVsRaw: Number((pipelineRate / rawRate).toFixed(3)),
      goalRatio: GOAL_RATIO,
      duplicateDeliveries: duplicates,
      latencySamples: lat.length,
      latencyP50Ms: rounded(percentile(lat, 50)),
      latencyP99Ms: rounded(percentile(lat, 99)),
      latencyMaxMs: rounded(percentile(lat, 100)),
      goalP99Ms: GOAL_P99_MS,
      claimRefresh: CLAIM_REFRESH ?? 'false',
      // The child loads ts-node and TypeScript (not in a sidecar): its RSS before the run is reported apart.
      schedulerStartRssMB: Math.max(...startRss),
      schedulerMaxRssMB: Math.max(...rss),
      schedulerStartHeapUsedMB: Math.max(...startHeap),
      schedulerPeakHeapUsedMB: Math.max(...heap),
      schedulerCpuSeconds: cpus,
      // CPU seconds of every process of each side per round (in run order), OpenSearch's with OPENSEARCH_PID.
      rawSideCpuSeconds: rawCpu,
      pipelineSideCpuSeconds: pipelineCpu,
      schedulerSideCpuSeconds: schedulerSideCpu,
      goalMaxRssMB: 200,
      harnessMaxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    log(
      `scheduler ${figures.schedulerOrdersPerSec} orders/s vs raw bulk ${figures.rawBulkOrdersPerSec} orders/s: ratio ${figures.ratio} (goal ≥ ${GOAL_RATIO}); vs read-deliver-write pipeline ${figures.pipelineOrdersPerSec} orders/s: ${figures.ratioVsPipeline} (pipeline ÷ raw ${figures.pipelineVsRaw}); latency p50 ${figures.latencyP50Ms} ms, p99 ${figures.latencyP99Ms} ms (goal < ${GOAL_P99_MS})`,
    );
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } finally {
    await stub.close();
    await client.indices.delete(
      { index: `${prefix}*`, ignore_unavailable: true, allow_no_indices: true },
      { ignore: [404] },
    );
    await client.indices.deleteIndexTemplate({ name: `command-manager-${prefix}*` }, { ignore: [404] });
    await client.close();
  }
}

(process.env.DISPATCH_BENCH_CHILD ? childMain() : main()).catch((e: unknown) => {
  log(`dispatch bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
