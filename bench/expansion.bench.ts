/**
 * Benchmark: expanding a 100,000-agent group against the in-memory agent directory.
 *
 * Figures: orders/s (timing pass) and heap growth (memory pass: largest live heap, read after a forced GC
 * every 5,000 orders, minus the live heap before)
 * for (1) streaming expansion into a consumer that drops each order, (2) streaming expansion serialised in
 * bulk batches of 500 (what the OpenSearch adapter does with it), and, for contrast, (3) materialising all
 * orders in an array. Goal: streaming keeps heap growth under 50 MB.
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/expansion.bench.ts
 * Env: AGENTS (default 100000). OPENSEARCH_URL is not used: this benchmark is in-memory only.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expandCommand, InMemoryAgentDirectory } from '@command-manager/core';
import type { CommandRequest, Order } from '@command-manager/core';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const AGENTS = Number(process.env.AGENTS ?? 100_000);
const GOAL_MB = 50;
const MB = 1024 * 1024;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

interface Figures {
  orders: number;
  seconds: number;
  ordersPerSec: number;
  /** Largest live heap (measured after a forced GC every SAMPLE_EVERY orders) minus the live heap before. */
  heapGrowthMB: number;
  /** Largest heapUsed without forcing GC (includes garbage not yet collected): an upper bound. */
  peakHeapUsedGrowthMB: number;
}

/** Orders between two heap samples in the memory pass. */
const SAMPLE_EVERY = 5_000;

type Scenario = (onOrder: (n: number) => void) => Promise<number>;

/**
 * Two passes: a timing pass (no sampling, for orders/s) and a memory pass that forces a GC every
 * SAMPLE_EVERY orders, so that what it reads is the memory the expansion really holds, not garbage V8 has
 * not collected yet.
 */
async function measure(name: string, run: Scenario): Promise<Figures> {
  gc();
  const t0 = process.hrtime.bigint();
  const orders = await run(() => undefined);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  gc();
  gc();
  const before = heapUsed();
  let live = before;
  let peak = before;
  await run((n) => {
    if (n % 1000 === 0) peak = Math.max(peak, heapUsed());
    if (n % SAMPLE_EVERY === 0) {
      gc();
      live = Math.max(live, heapUsed());
    }
  });
  const figures: Figures = {
    orders,
    seconds: Number(seconds.toFixed(3)),
    ordersPerSec: Math.round(orders / seconds),
    heapGrowthMB: Number(((live - before) / MB).toFixed(1)),
    peakHeapUsedGrowthMB: Number(((peak - before) / MB).toFixed(1)),
  };
  log(
    `${name}: ${orders} orders in ${figures.seconds}s = ${figures.ordersPerSec} orders/s; live heap growth ${figures.heapGrowthMB} MB (peak heapUsed growth incl. garbage ${figures.peakHeapUsedGrowthMB} MB)`,
  );
  return figures;
}

async function main(): Promise<void> {
  log(`building an in-memory directory of ${AGENTS} agents in group "big"`);
  const agents = new InMemoryAgentDirectory();
  agents.addAgents(
    (function* () {
      for (let i = 0; i < AGENTS; i++)
        yield { id: String(i).padStart(6, '0'), groups: ['big', `shard-${i % 16}`], status: 'active' };
    })(),
  );
  // Warm up the directory's sorted member index so that it is not counted as expansion heap.
  await agents.countGroupMembers('big');

  const command: CommandRequest = {
    source: 'Users/Services',
    user: 'bench',
    target: { type: 'group', id: 'big' },
    action: { name: 'update', args: { index: 'wazuh-cve', offset: '0' } },
    timeout: 300,
  };
  const options = { agents, requestId: 1, principal: 'bench', now: new Date(), maxFanOut: AGENTS };

  const streaming = await measure('streaming, orders dropped', async (onOrder) => {
    let n = 0;
    for await (const order of expandCommand(command, options)) {
      if (order.command.order_id !== ++n) throw new Error('order ids out of sequence');
      onOrder(n);
    }
    return n;
  });

  let bulkBytes = 0;
  const bulk = await measure('streaming, serialised in bulk batches of 500', async (onOrder) => {
    let n = 0;
    let batch: string[] = [];
    let bytes = 0;
    for await (const order of expandCommand(command, options)) {
      n++;
      batch.push(JSON.stringify({ create: { _id: `1-${order.command.order_id}` } }), JSON.stringify(order));
      if (batch.length >= 1000) {
        bytes += batch.join('\n').length;
        batch = [];
      }
      onOrder(n);
    }
    bytes += batch.join('\n').length;
    bulkBytes = bytes;
    return n;
  });

  log(`  bulk bodies: ${(bulkBytes / MB).toFixed(1)} MB in total`);
  const materialised = await measure('materialised in an array (contrast)', async (onOrder) => {
    const all: Order[] = [];
    for await (const order of expandCommand(command, options)) {
      all.push(order);
      onOrder(all.length);
    }
    return all.length;
  });

  const pass = streaming.heapGrowthMB < GOAL_MB && bulk.heapGrowthMB < GOAL_MB && streaming.orders === AGENTS;
  log(
    pass
      ? `PASS: streaming heap growth under ${GOAL_MB} MB`
      : `FAIL: streaming heap growth not under ${GOAL_MB} MB`,
  );
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'expansion', agents: AGENTS, goalHeapGrowthMB: GOAL_MB, pass, streaming, bulk, materialised })}\n`,
  );
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
