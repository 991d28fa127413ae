import { timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, HttpError, listen, readJson, sendJson } from '@command-manager-examples/support';
import { OrderQueues } from './internal/order-queues';
import type { QueuedOrder } from './internal/order-queues';
import { ResultForwarder } from './internal/result-forwarder';
import type { CommandManagerTarget, ForwarderStats } from './internal/result-forwarder';
import { parseResultReports } from './internal/result-report';

export type { QueuedOrder } from './internal/order-queues';
export type { CommandManagerTarget, ForwarderStats } from './internal/result-forwarder';
export type { ResultReport } from './internal/result-report';

export interface CommsApiOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where agents' results go. Unset: results are checked and counted, not forwarded. */
  commandManager?: CommandManagerTarget;
  /** Bearer token the Management API must present on `POST /internal/orders`; open when unset. */
  internalToken?: string;
  /** Longest a `GET /commands` poll is held when no order is queued; default 30,000. */
  longPollMs?: number;
  /** Most orders one poll returns; default 100. */
  maxOrdersPerPoll?: number;
  /** Results per call to the command manager; default 500 (keep it <= the sidecar's CM_MAX_RESULTS_PER_REPORT). */
  maxResultsPerCall?: number;
  /** How long results are gathered before a call (unless a full batch is ready); default 100. */
  flushDelayMs?: number;
  /** Delay before a failed results call is repeated; default 1,000. */
  retryDelayMs?: number;
  /** Largest body accepted; default 16 MiB. */
  bodyLimitBytes?: number;
  /** Injected clock; default the system clock. */
  now?: () => Date;
  /** Progress lines (the CLI prints them to stderr); silent by default. */
  log?: (message: string) => void;
}

export interface CommsApiStats extends ForwarderStats {
  /** Orders waiting for their agent's next poll. */
  queued: number;
  /** Long polls being held (agents waiting). */
  held: number;
  /** Orders handed to agents. */
  delivered: number;
  /** Results agents posted (and that passed the check). */
  received: number;
}

export interface CommsApiHandle {
  /** Base URL, e.g. `http://127.0.0.1:27000`. */
  url: string;
  /** Queues orders in-process (what `POST /internal/orders` does); a Management API's `forward`. */
  enqueue(orders: readonly QueuedOrder[]): void;
  stats(): CommsApiStats;
  /** Forwards buffered results now. */
  flushResults(): Promise<void>;
  /** Answers held polls, stops listening, forwards what is buffered (one attempt), then closes. Idempotent. */
  close(): Promise<void>;
}

/**
 * A reference Wazuh Comms API: the Management API hands it orders, agents long-poll `GET /commands` for
 * theirs and post their results to `POST /results`, and it forwards those results in bulk to the command
 * manager, which moves each order to `success` or `failure`.
 */
export async function startCommsApi(options: CommsApiOptions = {}): Promise<CommsApiHandle> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const longPollMs = options.longPollMs ?? 30_000;
  const bodyLimit = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  const queues = new OrderQueues(options.maxOrdersPerPoll ?? 100, now);
  const forwarder = new ResultForwarder(options.commandManager, {
    maxPerCall: options.maxResultsPerCall ?? 500,
    flushDelayMs: options.flushDelayMs ?? 100,
    retryDelayMs: options.retryDelayMs ?? 1000,
    log,
  });
  const counts = { delivered: 0, received: 0 };
  let closing = false;

  function enqueue(orders: readonly QueuedOrder[]): void {
    queues.push(orders);
  }

  function internalAuthorized(req: IncomingMessage): boolean {
    if (options.internalToken === undefined) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${options.internalToken}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  async function receiveOrders(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!internalAuthorized(req)) return sendJson(res, 401, { error: 'unauthorized' });
    const body = await readJson(req, bodyLimit);
    const orders = (body as { orders?: unknown } | undefined)?.orders;
    const valid =
      Array.isArray(orders) &&
      orders.every(
        (o: Partial<QueuedOrder> | null) =>
          typeof o?.document_id === 'string' && typeof o.target?.id === 'string',
      );
    if (!valid)
      throw new HttpError(400, 'the body must be {"orders": [{"document_id", "target": {"id"}, ...}]}');
    enqueue(orders as QueuedOrder[]);
    sendJson(res, 202, { queued: orders.length });
  }

  /** Answers a poll with orders; if the answer does not reach the agent, they go back to its queue. */
  function answerPoll(res: ServerResponse, orders: QueuedOrder[]): void {
    counts.delivered += orders.length;
    res.on('close', () => {
      if (!res.writableFinished && orders.length > 0) {
        counts.delivered -= orders.length;
        queues.putBack(orders);
      }
    });
    sendJson(res, 200, { orders });
  }

  function poll(res: ServerResponse, query: URLSearchParams): void {
    const agentId = query.get('agent_id');
    if (!agentId) throw new HttpError(400, 'agent_id is required');
    const waitParam = query.get('wait_ms');
    const waitMs = Math.min(
      longPollMs,
      waitParam === null ? longPollMs : Math.max(0, Number(waitParam) || 0),
    );
    const ready = queues.take(agentId);
    if (ready.length > 0 || waitMs === 0 || closing) return answerPoll(res, ready);
    const withdraw = queues.wait(agentId, (orders) => {
      clearTimeout(timer);
      answerPoll(res, orders);
    });
    const timer = setTimeout(() => {
      withdraw();
      answerPoll(res, []);
    }, waitMs);
    // The agent went away while waiting: stop waiting, so no order is handed to a closed socket. (The
    // response's 'close', not the request's: since Node 16 the request's fires once its body is read.)
    res.on('close', () => {
      if (!res.headersSent) {
        clearTimeout(timer);
        withdraw();
      }
    });
  }

  async function receiveResults(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = parseResultReports(await readJson(req, bodyLimit));
    if ('problems' in parsed)
      return sendJson(res, 400, { error: 'invalid results', details: parsed.problems });
    counts.received += parsed.reports.length;
    forwarder.add(parsed.reports);
    sendJson(res, 202, { accepted: parsed.reports.length });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    void (async () => {
      if (route === 'GET /health') return sendJson(res, 200, { status: 'ok' });
      if (route === 'GET /commands') return poll(res, url.searchParams);
      if (route === 'POST /results') return await receiveResults(req, res);
      if (route === 'POST /internal/orders') return await receiveOrders(req, res);
      sendJson(res, 404, { error: `no route ${route}` });
    })().catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) sendJson(res, e.status, { error: e.message });
      else sendJson(res, 500, { error: String(e) });
    });
  });

  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  let closed: Promise<void> | undefined;
  return {
    url,
    enqueue,
    stats: () => ({ ...forwarder.stats(), ...counts, queued: queues.queued, held: queues.held }),
    flushResults: () => forwarder.flush(),
    close: () => {
      closed ??= (async () => {
        closing = true;
        queues.releaseAll();
        await closeServer(server);
        await forwarder.close();
      })();
      return closed;
    },
  };
}
