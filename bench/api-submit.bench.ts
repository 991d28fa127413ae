/**
 * Benchmark (c): single-target submissions through the HTTP API of a real sidecar, beside two baselines
 * measured in the same rounds, all at CONNECTIONS concurrent connections (default 32):
 *
 * - `api`: the sidecar as the product runs (`packages/sidecar/dist/main.js serve`, bench/lib/sidecar-process:
 *   its own process, the product's heap cap, scheduler disabled), `POST /_plugins/_command_manager/commands`
 *   with one command for one agent, bearer token of an admin;
 * - `passthrough`: a minimal Node `http` server in a process of its own (bench/lib/pass-through.mjs) that
 *   forwards each request to OpenSearch's index API with a keep-alive agent and nothing else: the limit of
 *   any sidecar design on this machine;
 * - `raw`: single-document index requests (`POST <index>/_doc`) straight to OpenSearch.
 *
 * The load generator (autocannon) runs in a process of its own for every side (bench/lib/load-generator.mjs),
 * so no side pays for it in its own process. The documents written by both baselines are the order the
 * product stores. The sidecar writes without forcing a refresh, as it does by default.
 *
 * ROUNDS rounds (default 5); each runs the three sides one after the other, in an order that alternates from
 * one round to the next (raw, pass-through, API; then API, pass-through, raw; …), so that each side sees the
 * same load from whatever else runs on the machine. Figures are medians over the rounds with their min/max.
 * CPU seconds of the sidecar and the pass-through processes (and of OpenSearch when OPENSEARCH_PID names it)
 * are read from /proc around each run and reported per request.
 *
 * (e): then, at idle, submit → accepted: a second sidecar with its scheduler enabled (its defaults) on an
 * orders index of its own delivers to the example Management API (examples/management-api, in this process);
 * LATENCY_SAMPLES single-agent submissions are sent one at a time, 20 ms apart, each timed from the moment its
 * POST is sent to the moment the Management API has its order (the first 10 are a warm-up, not counted).
 *
 * Before the first round each side runs WARMUP_SEC (default 30) under the same load, not measured: on a node
 * that has not served a kind of request for long, its JIT compiler is still compiling that kind's code paths,
 * and that CPU would be charged to whichever side meets them first.
 *
 * Run: pnpm build && node -r ts-node/register/transpile-only bench/api-submit.bench.ts
 * Env: OPENSEARCH_URL (default http://127.0.0.1:9200), DURATION_SEC (default 10), WARMUP_SEC (default 30), CONNECTIONS (default 32),
 *      ROUNDS (default 5), LATENCY_SAMPLES (default 200; 0 skips (e)), OPENSEARCH_PID (optional), SIDECAR_NODE_FLAGS (extra Node flags of the sidecar,
 *      e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashApiToken } from '@command-manager/express';
import { startManagementApi } from '../examples/management-api/src';
import { createAgentsIndex, createOpenSearchClient, seedAgents } from '@command-manager/opensearch';
import { readProcCpuSeconds } from './lib/proc-cpu';
import { startSidecarProcess, type SidecarProcess } from './lib/sidecar-process';
import { percentile, summarize } from './lib/stats.cjs';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon with `options` in a child process (bench/lib/load-generator.mjs). */
function autocannon(options: Record<string, unknown>): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(__dirname, 'lib', 'load-generator.mjs'), JSON.stringify(options)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
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

interface PassThrough {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts bench/lib/pass-through.mjs in its own process, forwarding to `index`. */
function startPassThrough(opensearchUrl: string, index: string): Promise<PassThrough> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [path.join(__dirname, 'lib', 'pass-through.mjs'), opensearchUrl, index],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const m = /pass-through listening on (\S+)/.exec(out);
      if (m?.[1] !== undefined && child.pid !== undefined) {
        const url = m[1];
        const pid = child.pid;
        out = '';
        resolve({
          url,
          pid,
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`pass-through exited with ${code}`)));
  });
}

const OPENSEARCH_URL = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200';
const DURATION_SEC = Number(process.env.DURATION_SEC ?? 10);
/** Seconds of load on each side before the first round (0: 500 requests at 4 connections). */
const WARMUP_SEC = Math.max(0, Number(process.env.WARMUP_SEC ?? 30));
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 5));
const OPENSEARCH_PID = process.env.OPENSEARCH_PID ? Number(process.env.OPENSEARCH_PID) : undefined;
const LATENCY_SAMPLES = Math.max(0, Number(process.env.LATENCY_SAMPLES ?? 200));
const LATENCY_WARMUP = 10;
const GOAL_P99_MS = 50;
const GOAL_RATIO = 0.5;
const GOAL_PASSTHROUGH_RATIO = 0.8;
const AGENTS = 1000;

type Side = 'raw' | 'passthrough' | 'api';
const SIDES: readonly Side[] = ['raw', 'passthrough', 'api'];

interface Figures {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  non2xx: number;
  errors: number;
  /** CPU microseconds per request of the process under test (sidecar or pass-through), when known. */
  processCpuUsPerRequest?: number;
  /** CPU microseconds per request of OpenSearch, when OPENSEARCH_PID names it. */
  opensearchCpuUsPerRequest?: number;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const round3 = (x: number): number => Number(x.toFixed(3));

/**
 * (e): submit → accepted at idle, through a sidecar with its scheduler enabled on `ordersIndex` (its own),
 * delivering to the example Management API. Returns each sample in milliseconds.
 */
async function submitToAccepted(env: Record<string, string>, token: string, body: string): Promise<number[]> {
  // Arrival time of each order at the Management API, and who waits for one not arrived yet. The scheduler
  // is woken before the submission is answered, so an order may arrive before its id is known here.
  const arrivals = new Map<string, bigint>();
  const waiters = new Map<string, (at: bigint) => void>();
  const stub = await startManagementApi({
    forward: (orders) => {
      const at = process.hrtime.bigint();
      for (const o of orders) {
        arrivals.set(o.document_id, at);
        waiters.get(o.document_id)?.(at);
      }
    },
  });
  let sidecar: SidecarProcess | undefined;
  try {
    sidecar = await startSidecarProcess({
      env: { ...env, CM_SCHEDULER_ENABLED: 'true', CM_MANAGEMENT_API_URL: stub.url },
      onLog: (line) => log(`[sidecar dispatch] ${line}`),
    });
    const url = `${sidecar.url}/_plugins/_command_manager/commands`;
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_WARMUP + LATENCY_SAMPLES; i++) {
      const t0 = process.hrtime.bigint();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      });
      const answer = (await res.json()) as { commands?: Array<{ request_id: number }> };
      const requestId = answer.commands?.[0]?.request_id;
      if (!res.ok || requestId === undefined) throw new Error(`submit answered ${res.status}`);
      const id = `${requestId}-1`;
      const t1 =
        arrivals.get(id) ??
        (await new Promise<bigint>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`order ${id} not accepted within 30 s`)), 30_000);
          waiters.set(id, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        }));
      waiters.delete(id);
      arrivals.delete(id);
      if (i >= LATENCY_WARMUP) samples.push(Number(t1 - t0) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return samples;
  } finally {
    await sidecar?.stop();
    await stub.close();
  }
}

async function main(): Promise<void> {
  const client = createOpenSearchClient({ node: OPENSEARCH_URL, maxRetries: 1 });
  const prefix = `bench-api-${randomBytes(3).toString('hex')}-`;
  const ordersIndex = `${prefix}submit-orders`;
  const agentsIndex = `${prefix}agents`;
  const rawIndex = `${prefix}raw`;
  const passIndex = `${prefix}pass`;
  const token = randomBytes(24).toString('base64url');
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-api-'));
  let sidecar: SidecarProcess | undefined;
  let pass: PassThrough | undefined;
  try {
    log(`setting up indices under ${prefix} on ${OPENSEARCH_URL}`);
    await createAgentsIndex(client, { index: agentsIndex });
    await seedAgents(
      client,
      Array.from({ length: AGENTS }, (_, i) => ({ id: `agent-${i}`, groups: ['bench'], status: 'active' })),
      { index: agentsIndex },
    );
    for (const index of [rawIndex, passIndex]) {
      await client.indices.create({
        index,
        body: { settings: { number_of_shards: 1, number_of_replicas: 0 } },
      });
    }
    const usersFile = path.join(dir, 'users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({ tokens: [{ name: 'bench', token_sha256: hashApiToken(token), roles: ['admin'] }] }),
      { mode: 0o600 },
    );
    const sidecarEnv = (name: string): Record<string, string> => ({
      OPENSEARCH_URL,
      CM_NODE_ID: `${prefix}${name}`,
      CM_ORDERS_INDEX: `${prefix}${name}-orders`,
      CM_AGENTS_INDEX: agentsIndex,
      CM_INDEX_REPLICAS: '0',
      CM_HTTP_HOST: '127.0.0.1',
      CM_HTTP_PORT: '0',
      CM_USERS_FILE: usersFile,
      CM_LOG_LEVEL: 'warn',
    });
    sidecar = await startSidecarProcess({
      env: { ...sidecarEnv('submit'), CM_SCHEDULER_ENABLED: 'false' },
      onLog: (line) => log(`[sidecar] ${line}`),
    });
    pass = await startPassThrough(OPENSEARCH_URL, passIndex);
    log(`sidecar pid ${sidecar.pid} at ${sidecar.url}; pass-through pid ${pass.pid} at ${pass.url}`);

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
    const json = { 'content-type': 'application/json' };
    const targets: Record<
      Side,
      { url: string; headers: Record<string, string>; body: string; pid?: number }
    > = {
      api: {
        url: `${sidecar.url}/_plugins/_command_manager/commands`,
        headers: { ...json, authorization: `Bearer ${token}` },
        body: JSON.stringify({ commands: [command] }),
        pid: sidecar.pid,
      },
      passthrough: { url: pass.url, headers: json, body: JSON.stringify(rawDoc), pid: pass.pid },
      raw: {
        url: `${OPENSEARCH_URL.replace(/\/$/, '')}/${rawIndex}/_doc`,
        headers: json,
        body: JSON.stringify(rawDoc),
      },
    };

    // Each side under the measured load for WARMUP_SEC first: OpenSearch compiles the code paths of each
    // kind of request as it meets them. On a node that had served the other benchmarks for 40 minutes, the
    // product's mix (agent lookups, bulks of records, orders and the id counter, the segments they flush)
    // kept its JIT compiler at 3.1 s of CPU in each 10 s of load; 1.6 s a run later, 1.0 s the run after.
    log(`warming up: ${WARMUP_SEC}s per side at ${CONNECTIONS} connections`);
    for (const side of SIDES) {
      const t = targets[side];
      await autocannon({
        url: t.url,
        method: 'POST',
        headers: t.headers,
        body: t.body,
        connections: WARMUP_SEC > 0 ? CONNECTIONS : 4,
        ...(WARMUP_SEC > 0 ? { duration: WARMUP_SEC } : { amount: 500 }),
      });
    }

    const measure = async (side: Side): Promise<Figures> => {
      const t = targets[side];
      const cpu0 = t.pid === undefined ? undefined : readProcCpuSeconds(t.pid);
      const os0 = OPENSEARCH_PID === undefined ? undefined : readProcCpuSeconds(OPENSEARCH_PID);
      const r = await autocannon({
        url: t.url,
        method: 'POST',
        headers: t.headers,
        body: t.body,
        connections: CONNECTIONS,
        duration: DURATION_SEC,
      });
      const cpu1 = t.pid === undefined ? undefined : readProcCpuSeconds(t.pid);
      const os1 = OPENSEARCH_PID === undefined ? undefined : readProcCpuSeconds(OPENSEARCH_PID);
      const total = r.requests.total;
      const perRequest = (a: number | undefined, b: number | undefined): number | undefined =>
        a === undefined || b === undefined || total === 0 ? undefined : Math.round(((b - a) / total) * 1e6);
      return {
        requestsPerSec: Math.round(r.requests.average),
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        total,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        processCpuUsPerRequest: perRequest(cpu0, cpu1),
        opensearchCpuUsPerRequest: perRequest(os0, os1),
      };
    };

    const rounds: Array<Record<Side, Figures> & { order: Side[]; ratio: number; ratioPassthrough: number }> =
      [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? [...SIDES] : [...SIDES].reverse();
      const figures = {} as Record<Side, Figures>;
      for (const side of order) {
        log(`round ${round}/${ROUNDS}: ${side}, ${CONNECTIONS} connections, ${DURATION_SEC}s`);
        const f = await measure(side);
        figures[side] = f;
        log(
          `  ${f.requestsPerSec} req/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, non-2xx ${f.non2xx}, errors ${f.errors}` +
            (f.processCpuUsPerRequest === undefined
              ? ''
              : `, process CPU ${f.processCpuUsPerRequest} µs/req`) +
            (f.opensearchCpuUsPerRequest === undefined
              ? ''
              : `, OpenSearch CPU ${f.opensearchCpuUsPerRequest} µs/req`),
        );
      }
      const ratio =
        figures.raw.requestsPerSec > 0 ? figures.api.requestsPerSec / figures.raw.requestsPerSec : 0;
      const ratioPassthrough =
        figures.passthrough.requestsPerSec > 0
          ? figures.api.requestsPerSec / figures.passthrough.requestsPerSec
          : 0;
      log(`  ratio vs raw ${ratio.toFixed(3)}, vs pass-through ${ratioPassthrough.toFixed(3)}`);
      rounds.push({ ...figures, order, ratio: round3(ratio), ratioPassthrough: round3(ratioPassthrough) });
    }

    await client.indices.refresh({ index: ordersIndex });
    const stored = ((await client.count({ index: ordersIndex })).body as { count: number }).count;
    const sideFigures = (side: Side) => {
      const pick = (k: keyof Figures) => summarize(rounds.map((r) => r[side][k] as number));
      return {
        requestsPerSec: pick('requestsPerSec'),
        p50Ms: pick('p50Ms'),
        p99Ms: pick('p99Ms'),
        processCpuUsPerRequest: pick('processCpuUsPerRequest'),
        opensearchCpuUsPerRequest: pick('opensearchCpuUsPerRequest'),
        non2xx: rounds.reduce((n, r) => n + r[side].non2xx, 0),
        errors: rounds.reduce((n, r) => n + r[side].errors, 0),
      };
    };
    await sidecar.stop();
    await pass.stop();
    let latency: { samples: number; p50Ms: number; p99Ms: number; maxMs: number } | undefined;
    if (LATENCY_SAMPLES > 0) {
      log(`(e) submit → accepted at idle: ${LATENCY_SAMPLES} single submissions, one at a time`);
      const lat = await submitToAccepted(sidecarEnv('latency'), token, targets.api.body);
      latency = {
        samples: lat.length,
        p50Ms: Number(percentile(lat, 50).toFixed(1)),
        p99Ms: Number(percentile(lat, 99).toFixed(1)),
        maxMs: Number(Math.max(...lat).toFixed(1)),
      };
      log(
        `  p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (goal p99 ≤ ${GOAL_P99_MS} ms)`,
      );
    }
    const ratio = summarize(rounds.map((r) => r.ratio));
    const ratioPassthrough = summarize(rounds.map((r) => r.ratioPassthrough));
    log(
      `median ratio vs raw ${ratio.median.toFixed(3)} (${ratio.min}–${ratio.max}; goal >= ${GOAL_RATIO}), ` +
        `vs pass-through ${ratioPassthrough.median.toFixed(3)} (${ratioPassthrough.min}–${ratioPassthrough.max}; goal >= ${GOAL_PASSTHROUGH_RATIO}); orders stored ${stored}`,
    );
    const result = {
      benchmark: 'api-submit',
      connections: CONNECTIONS,
      durationSec: DURATION_SEC,
      product: 'sidecar process (main.js serve)',
      saveRefresh: 'false',
      sides: {
        api: sideFigures('api'),
        passthrough: sideFigures('passthrough'),
        raw: sideFigures('raw'),
      },
      ordersStored: stored,
      ratio: round3(ratio.median),
      ratioPassthrough: round3(ratioPassthrough.median),
      spread: {
        ratio: [ratio.min, ratio.max],
        ratioPassthrough: [ratioPassthrough.min, ratioPassthrough.max],
      },
      rounds,
      goalRatio: GOAL_RATIO,
      goalPassthroughRatio: GOAL_PASSTHROUGH_RATIO,
      goalMet: ratio.median >= GOAL_RATIO && ratioPassthrough.median >= GOAL_PASSTHROUGH_RATIO,
      submitToAccepted: latency ? { ...latency, goalP99Ms: GOAL_P99_MS } : null,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await sidecar?.stop();
    await pass?.stop();
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
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
