import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { requestJson, sleep } from '@command-manager-examples/support';

export interface AgentsOptions {
  /** Base URL of the Comms API, e.g. `http://127.0.0.1:27000`. */
  commsUrl: string;
  /** Number of simulated agents; default 10. */
  count?: number;
  /** Agent ids are `<prefix><n>`, n zero-padded to 6 digits from 000001 (Wazuh-like); default `agent-`. */
  prefix?: string;
  /**
   * Polls in flight at once, which is also the number of connections (one keep-alive pool for every
   * agent); default min(count, 50). Each agent has at most one poll in flight.
   */
  concurrency?: number;
  /**
   * How long each poll asks the Comms API to hold (`wait_ms`). Default 30,000 when every agent has its own
   * connection, else 500, so that the pool cycles through all the agents.
   */
  pollWaitMs?: number;
  /** Share (0..1) of orders that report `failure`; default 0. */
  failureShare?: number;
  /** "Execution" takes a random time in [min, max] ms; default 0..20. */
  executeMinMs?: number;
  executeMaxMs?: number;
  /** Stop after this long without receiving any order. Unset: run until `signal` aborts. */
  idleExitMs?: number;
  /**
   * Offline agents: the last `offline` of the `count` agents never poll (a disconnected agent); their orders
   * stay with the Comms API. Default 0.
   */
  offline?: number;
  /**
   * Late agents: polling starts only this long after the call (an agent that connects, and joins its group,
   * later). Default 0.
   */
  startAfterMs?: number;
  /**
   * Called with the ids of the agents that poll, right before their first poll (after `startAfterMs`): a
   * harness registers them (e.g. adds them to a group in the agents index) as a server would on connection.
   */
  onStart?: (agentIds: string[]) => Promise<void> | void;
  /**
   * Stops the simulator. Stopping (signal or idle time) cuts the polls held open (the Comms API re-queues
   * orders whose answer did not arrive), lets orders already received be executed and reported, then resolves.
   */
  signal?: AbortSignal;
  /** Injected for deterministic tests; default Math.random. */
  random?: () => number;
  /** Progress lines (the CLI prints them to stderr); silent by default. */
  log?: (message: string) => void;
}

export interface AgentsReport {
  agents: number;
  /** Agents that never polled (`offline`). */
  offline: number;
  polls: number;
  /** Orders received. */
  orders: number;
  /** Results reported (and accepted by the Comms API) as success / failure. */
  succeeded: number;
  failed: number;
  /** Results the Comms API did not accept after retries. */
  lost: number;
  /** Polls or result posts that failed (network, non-2xx). */
  errors: number;
  elapsedMs: number;
}

interface Order {
  document_id: string;
  action?: { name?: string };
}

/** Agent id `n` (1-based): `<prefix>` and n padded to 6 digits. */
export function agentId(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(6, '0')}`;
}

/**
 * Simulates `count` agents: each long-polls the Comms API's `GET /commands?agent_id=…`, "executes" the
 * orders it gets (a short random delay) and reports `success`, or `failure` for `failureShare` of them, to
 * `POST /results`. Resolves with counts once stopped (signal or idle time).
 */
export async function runAgents(options: AgentsOptions): Promise<AgentsReport> {
  const count = Math.max(1, Math.floor(options.count ?? 10));
  const prefix = options.prefix ?? 'agent-';
  const offline = Math.max(0, Math.min(count, Math.floor(options.offline ?? 0)));
  const online = count - offline;
  const concurrency = Math.max(1, Math.min(online, Math.floor(options.concurrency ?? 50)));
  const pollWaitMs = options.pollWaitMs ?? (online <= concurrency ? 30_000 : 500);
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const minMs = options.executeMinMs ?? 0;
  const maxMs = Math.max(minMs, options.executeMaxMs ?? 20);
  const base = options.commsUrl.replace(/\/+$/, '');
  const AgentClass = new URL(base).protocol === 'https:' ? https.Agent : http.Agent;
  const pool = new AgentClass({ keepAlive: true, maxSockets: concurrency });

  const report: AgentsReport = {
    agents: count,
    offline,
    polls: 0,
    orders: 0,
    succeeded: 0,
    failed: 0,
    lost: 0,
    errors: 0,
    elapsedMs: 0,
  };
  const started = Date.now();
  let lastOrderAt = started;
  const stop = new AbortController();
  // Every poll in flight (one per connection) and a late start listen to it.
  setMaxListeners(0, stop.signal);
  const onAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  // Agents not being served right now; a worker takes one, serves it, and puts it back at the end. The
  // offline agents (the last ones) are never in it.
  const idle: string[] = Array.from({ length: online }, (_, i) => agentId(prefix, i + 1));

  async function serve(agent: string): Promise<void> {
    report.polls++;
    const answer = await requestJson(
      `${base}/commands?agent_id=${encodeURIComponent(agent)}&wait_ms=${pollWaitMs}`,
      {
        agent: pool,
        timeoutMs: pollWaitMs + 10_000,
        signal: stop.signal,
      },
    );
    const orders = (answer.body as { orders?: Order[] } | undefined)?.orders;
    if (answer.status !== 200 || !Array.isArray(orders)) {
      report.errors++;
      await sleep(200, stop.signal, 'stopped');
      return;
    }
    if (orders.length === 0) return;
    report.orders += orders.length;
    lastOrderAt = Date.now();
    // Orders received are executed and reported even when a stop comes meanwhile (a stop only ends polling).
    const results = await Promise.all(
      orders.map(async (order) => {
        await new Promise((resolve) => setTimeout(resolve, minMs + random() * (maxMs - minMs)));
        const fail = random() < (options.failureShare ?? 0);
        return {
          id: order.document_id,
          status: fail ? 'failure' : 'success',
          result: fail
            ? {
                code: 1,
                message: `simulated failure of ${order.action?.name ?? 'the action'}`,
                data: { agent },
              }
            : { code: 0, message: 'done', data: { agent } },
        };
      }),
    );
    await postResults(results);
  }

  async function postResults(results: Array<{ status: string }>): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const answer = await requestJson(`${base}/results`, {
          body: { results },
          agent: pool,
          timeoutMs: 10_000,
        });
        if (answer.status >= 200 && answer.status < 300) {
          for (const r of results) {
            if (r.status === 'success') report.succeeded++;
            else report.failed++;
          }
          return;
        }
        report.errors++;
        if (answer.status >= 400 && answer.status < 500) break; // refused: retrying will not help
      } catch {
        report.errors++;
      }
      if (stop.signal.aborted) break;
      await sleep(200 * attempt, stop.signal, 'stopped').catch(() => undefined);
    }
    report.lost += results.length;
  }

  async function worker(): Promise<void> {
    while (!stop.signal.aborted) {
      if (options.idleExitMs !== undefined && Date.now() - lastOrderAt >= options.idleExitMs) {
        stop.abort();
        break;
      }
      const agent = idle.shift();
      if (agent === undefined) break;
      try {
        await serve(agent);
      } catch {
        if (!stop.signal.aborted) {
          report.errors++;
          await sleep(200, stop.signal, 'stopped').catch(() => undefined);
        }
      } finally {
        idle.push(agent);
      }
    }
  }

  log(
    `${count} agents (${agentId(prefix, 1)} … ${agentId(prefix, count)}, ${offline} offline), ${concurrency} connections, polls held ${pollWaitMs} ms`,
  );
  const progress = options.log ? setInterval(() => log(JSON.stringify(report)), 5000) : undefined;
  const startAfterMs = Math.max(0, options.startAfterMs ?? 0);
  // Late agents wait before their first poll; a stop meanwhile ends the run.
  const polling =
    startAfterMs > 0
      ? await sleep(startAfterMs, stop.signal, 'stopped').then(
          () => true,
          () => false,
        )
      : !stop.signal.aborted;
  if (polling && online > 0) {
    await options.onStart?.([...idle]);
    lastOrderAt = Date.now();
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } else if (polling) {
    // Every agent is offline: nothing polls until the stop (or the idle time).
    await sleep(options.idleExitMs ?? 2 ** 31 - 1, stop.signal, 'stopped').catch(() => undefined);
  }
  clearInterval(progress);
  options.signal?.removeEventListener('abort', onAbort);
  pool.destroy();
  report.elapsedMs = Date.now() - started;
  return report;
}
