/**
 * Benchmark: writing 100,000 orders through the OpenSearch adapter (`OpenSearchOrderStore.saveOrders`) vs
 * the identical documents written with raw `_bulk` requests, in the same run, on the same node.
 *
 * Both sides get the same orders from the same lazy generator (as an expansion streams them), the same
 * document ids, `create` operations, 1,000 orders per request, a fresh index with the same mapping, and a
 * `refresh=wait_for` on the last request (so both end searchable). Raw `_bulk` sends one request at a time;
 * the adapter runs with its defaults (2 requests in flight) and, for an exact like-for-like figure, also
 * with 1 in flight. Variants alternate in order from one repetition to the next; figures are medians.
 * Peak RSS is sampled every 20 ms while the adapter writes (this process is the adapter process).
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/adapter-write.bench.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), ORDERS (default 100000), REPS (default 3).
 */
import type { Order } from '@command-manager/core';
import { createOpenSearchClient, OpenSearchOrderStore, OpenSearchSetup } from '@command-manager/opensearch';
import { benchOrder } from './lib/bench-orders';

const URL_ = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const ORDERS = Number(process.env.ORDERS ?? 100_000);
const REPS = Number(process.env.REPS ?? 3);
const BATCH = 1000;
const WARMUP_ORDERS = 10_000;
const MB = 1024 * 1024;
const PREFIX = `bench-adapter-write-${process.pid}-`;

const client = createOpenSearchClient({ node: URL_, requestTimeoutMs: 60_000 });

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The orders of one request of ORDERS agents, produced lazily. */
function* orders(requestId: number, count: number): Generator<Order> {
  const now = new Date('2025-06-01T12:00:00.000Z');
  const command = {
    source: 'Users/Services' as const,
    user: 'wazuh',
    target: { type: 'group' as const, id: 'bench' },
    action: { name: 'restart', args: { delay: 5, reason: 'benchmark' }, version: '5.0.0' },
    timeout: 300,
  };
  for (let i = 1; i <= count; i++) {
    yield benchOrder(command, requestId, i, now);
  }
}

async function freshIndex(name: string): Promise<void> {
  await client.indices.delete({ index: name }, { ignore: [404] });
  await new OpenSearchSetup({ client, ordersIndex: name, replicas: 0 }).initOrders();
}

async function dropIndex(name: string): Promise<void> {
  await client.indices.delete({ index: name }, { ignore: [404] });
  for (const suffix of ['', '-archive']) {
    await client.indices.deleteIndexTemplate({ name: `command-manager-${name}${suffix}` }, { ignore: [404] });
  }
}

async function countDocs(index: string): Promise<number> {
  const res = await client.count({ index });
  return (res.body as { count: number }).count;
}

/** Raw `_bulk`: NDJSON built by hand, one request at a time, every item checked. */
async function raw(index: string, count: number): Promise<void> {
  let lines: string[] = [];
  let n = 0;
  const send = async (last: boolean): Promise<void> => {
    const res = await client.bulk({
      index,
      body: lines.join('') as unknown as Parameters<typeof client.bulk>[0]['body'],
      refresh: last ? 'wait_for' : false,
      filter_path: 'errors,items.*.status,items.*.error',
    });
    if ((res.body as { errors?: boolean }).errors) throw new Error('raw bulk: item errors');
    lines = [];
    n = 0;
  };
  // Iterated by hand, whatever tsconfig ts-node picks up: without a `target` TypeScript 5 emits ES5, where
  // `for…of` over a generator silently runs zero times.
  const it = orders(1, count);
  for (let next = it.next(); !next.done; next = it.next()) {
    const order = next.value;
    if (n === BATCH) await send(false);
    const id = `${order.command.request_id}-${order.command.order_id}`;
    lines.push(`{"create":{"_id":"${id}"}}\n${JSON.stringify(order)}\n`);
    n++;
  }
  if (n > 0) await send(true);
}

async function adapter(index: string, maxInflightBatches: number, count: number): Promise<void> {
  const store = new OpenSearchOrderStore({
    client,
    ordersIndex: index,
    replicas: 0,
    maxInflightBatches,
    batchMaxOrders: BATCH,
  });
  const r = await store.saveOrders(orders(1, count));
  if (r.written !== count || r.failed.length > 0)
    throw new Error(`adapter: ${JSON.stringify({ ...r, failed: r.failed.slice(0, 3) })}`);
}

type Variant = 'adapter' | 'adapter_inflight1' | 'raw';
const VARIANTS: Variant[] = ['adapter', 'raw', 'adapter_inflight1'];

let sampling = false;
let adapterPeakRss = 0;
const sampler = setInterval(() => {
  if (sampling) adapterPeakRss = Math.max(adapterPeakRss, process.memoryUsage().rss);
}, 20);

async function runOnce(variant: Variant, index: string, count = ORDERS): Promise<number> {
  await freshIndex(index);
  const t0 = process.hrtime.bigint();
  sampling = variant !== 'raw';
  try {
    if (variant === 'raw') await raw(index, count);
    else await adapter(index, variant === 'adapter' ? 2 : 1, count);
  } finally {
    sampling = false;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stored = await countDocs(index);
  if (stored !== count) throw new Error(`${variant}: ${stored} documents instead of ${count}`);
  await dropIndex(index);
  return count / seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function main(): Promise<void> {
  log(`OpenSearch ${URL_}: ${ORDERS} orders, ${REPS} repetitions, variants ${VARIANTS.join(', ')}`);
  // Warm-up (JIT, connections, node caches), not counted.
  await runOnce('raw', `${PREFIX}warmup`, WARMUP_ORDERS);
  const baselineRss = process.memoryUsage().rss;
  log(`warm-up done; RSS ${Math.round(baselineRss / MB)} MB`);
  const rates: Record<Variant, number[]> = { adapter: [], adapter_inflight1: [], raw: [] };
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate the order so that neither side always runs on a node warmed (or loaded) by the other.
    const order = rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const variant of order) {
      const rate = await runOnce(variant, `${PREFIX}${variant.replace('_', '-')}-${rep}`);
      rates[variant].push(rate);
      log(`rep ${rep + 1}/${REPS} ${variant.padEnd(18)} ${Math.round(rate)} orders/s`);
    }
  }
  const m = {
    adapter: median(rates.adapter),
    adapter_inflight1: median(rates.adapter_inflight1),
    raw: median(rates.raw),
  };
  const figures = {
    benchmark: 'adapter-write',
    orders: ORDERS,
    repetitions: REPS,
    batch_orders: BATCH,
    adapter_orders_per_s: Math.round(m.adapter),
    adapter_inflight1_orders_per_s: Math.round(m.adapter_inflight1),
    raw_bulk_orders_per_s: Math.round(m.raw),
    ratio: Number((m.adapter / m.raw).toFixed(3)),
    ratio_inflight1: Number((m.adapter_inflight1 / m.raw).toFixed(3)),
    goal_ratio: 0.9,
    /** RSS of this process after warm-up, before any adapter run (Node + client + ts-node's compiler). */
    baseline_rss_mb: Math.round(baselineRss / MB),
    adapter_peak_rss_mb: Math.round(adapterPeakRss / MB),
    process_max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    runs: rates,
  };
  log(
    `adapter ${figures.adapter_orders_per_s}/s, raw ${figures.raw_bulk_orders_per_s}/s, ratio ${figures.ratio}`,
  );
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main()
  .catch((e: unknown) => {
    log(`benchmark failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    clearInterval(sampler);
    await client.indices.delete({ index: `${PREFIX}*` }, { ignore: [404] }).catch(() => undefined);
    await client.indices
      .deleteIndexTemplate({ name: `command-manager-${PREFIX}*` }, { ignore: [404] })
      .catch(() => undefined);
    await client.close();
  });
