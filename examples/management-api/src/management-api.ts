import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  closeServer,
  HttpError,
  listen,
  readJson,
  requestJson,
  sendJson,
  sleep,
} from '@command-manager-examples/support';
import { checkOrder, OrderErrors, orderIdOf } from './internal/accept-order';
import type { AcceptedOrder, OrderError } from './internal/accept-order';
import { signJwt, verifyJwt } from './internal/jwt';

export type { AcceptedOrder, OrderError } from './internal/accept-order';
export { OrderErrors } from './internal/accept-order';

export interface ManagementApiOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Basic credentials. When set (or `bearerTokens` is), every call needs `Authorization`: these Basic
   * credentials, a static bearer token, or a token from `POST /security/user/authenticate` (Wazuh's JWT flow).
   */
  credentials?: { username: string; password: string };
  /** Static bearer tokens accepted as they are. */
  bearerTokens?: readonly string[];
  /** Lifetime of tokens from `/security/user/authenticate`; Wazuh's default is 900 s. */
  tokenTtlMs?: number;
  /** Agents this API knows; orders for any other agent are refused with Wazuh's 1701. All known when unset. */
  isKnownAgent?: (agentId: string) => boolean;
  /** Share (0..1) of valid orders refused anyway (failure injection); default 0. */
  rejectShare?: number;
  /** Share (0..1) of `/accept_commands` calls answered 503 with `Retry-After: 1` (failure injection); default 0. */
  failShare?: number;
  /** Delay before each `/accept_commands` answer; default 0. */
  latencyMs?: number;
  /** Where accepted orders go, in-process (e.g. a Comms API's `enqueue`). Takes precedence over `commsUrl`. */
  forward?: (orders: AcceptedOrder[]) => Promise<void> | void;
  /** A Comms API to POST accepted orders to (`<commsUrl>/internal/orders`). */
  commsUrl?: string;
  /** Bearer token for `commsUrl`. */
  commsToken?: string;
  /** Largest body accepted; default 16 MiB (10,000 orders of a scheduler batch fit). */
  bodyLimitBytes?: number;
  /** Injected for deterministic tests; default Math.random. */
  random?: () => number;
  /** Injected clock; default the system clock. */
  now?: () => Date;
  /** Progress lines (the CLI prints them to stderr); silent by default. */
  log?: (message: string) => void;
}

export interface ManagementApiHandle {
  /** Base URL, e.g. `http://127.0.0.1:55000`. */
  url: string;
  /** Document ids accepted and handed on, in order of arrival; an order delivered twice appears once. */
  received: string[];
  /** Orders refused, with the error given. */
  rejected: Array<{ id: string; code: number; message: string }>;
  /** Stops listening, drops open connections and cancels pending delayed answers. Idempotent. */
  close(): Promise<void>;
}

/**
 * A reference Wazuh Management API for the command manager's scheduler: `POST /accept_commands`
 * validates each order, accepts or refuses it individually, hands accepted orders to a Comms API, and
 * answers in the shape of Wazuh's API (`data.affected_items` / `data.failed_items`), which the scheduler
 * reads per order.
 */
export async function startManagementApi(options: ManagementApiOptions = {}): Promise<ManagementApiHandle> {
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const tokenTtlSec = Math.max(1, Math.round((options.tokenTtlMs ?? 900_000) / 1000));
  const bodyLimit = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  const jwtSecret = randomBytes(32);
  const authRequired = options.credentials !== undefined || (options.bearerTokens?.length ?? 0) > 0;
  const comms =
    !options.forward && options.commsUrl ? commsClient(options.commsUrl, options.commsToken) : undefined;
  const forward = options.forward ?? comms?.post;
  if (!forward) log('no Comms API configured: accepted orders are only counted');

  const received: string[] = [];
  const rejected: ManagementApiHandle['rejected'] = [];
  /** Orders already handed on: a re-delivery (the scheduler retries when an answer is lost) is acknowledged again, not forwarded twice. */
  const forwarded = new Set<string>();
  const closing = new AbortController();

  function basicMatches(header: string): boolean {
    const creds = options.credentials;
    if (!creds) return false;
    const given = Buffer.from(header.slice('Basic '.length).trim(), 'base64');
    const expected = Buffer.from(`${creds.username}:${creds.password}`, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  function authorized(req: IncomingMessage): boolean {
    if (!authRequired) return true;
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Basic ')) return basicMatches(header);
    if (header.startsWith('Bearer ')) {
      const token = header.slice('Bearer '.length).trim();
      if (options.bearerTokens?.includes(token)) return true;
      return verifyJwt(token, jwtSecret, Math.floor(now().getTime() / 1000)) !== undefined;
    }
    return false;
  }

  function authenticate(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic ') || !basicMatches(header)) {
      sendJson(res, 401, { title: 'Unauthorized', detail: 'Invalid credentials' });
      return;
    }
    const iat = Math.floor(now().getTime() / 1000);
    const token = signJwt({ sub: options.credentials?.username, iat, exp: iat + tokenTtlSec }, jwtSecret);
    sendJson(res, 200, { data: { token }, error: 0 });
  }

  async function acceptCommands(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req, bodyLimit);
    const orders = (body as { orders?: unknown } | undefined)?.orders;
    if (!Array.isArray(orders)) throw new HttpError(400, 'the body must be {"orders": [...]}');
    if (options.latencyMs) await sleep(options.latencyMs, closing.signal, 'closing');
    if ((options.failShare ?? 0) > 0 && random() < (options.failShare ?? 0)) {
      log(`injected failure: 503 for ${orders.length} orders`);
      sendJson(
        res,
        503,
        { title: 'Service Unavailable', detail: 'injected failure' },
        { 'retry-after': '1' },
      );
      return;
    }

    const at = now();
    const accepted: AcceptedOrder[] = [];
    const refused = new Map<string, { error: OrderError; ids: string[] }>();
    const refuse = (id: string, error: OrderError): void => {
      const key = `${error.code}\n${error.message}`;
      const entry = refused.get(key) ?? { error, ids: [] };
      entry.ids.push(id);
      refused.set(key, entry);
    };
    orders.forEach((raw: unknown, i) => {
      const checked = checkOrder(raw, at);
      if ('error' in checked) return refuse(orderIdOf(raw, i), checked.error);
      const { order } = checked;
      if (order.target.type === 'agent' && options.isKnownAgent && !options.isKnownAgent(order.target.id)) {
        return refuse(order.document_id, OrderErrors.UNKNOWN_AGENT);
      }
      if (
        !forwarded.has(order.document_id) &&
        (options.rejectShare ?? 0) > 0 &&
        random() < (options.rejectShare ?? 0)
      ) {
        return refuse(order.document_id, OrderErrors.REFUSED);
      }
      accepted.push(order);
    });

    const fresh = accepted.filter((o) => !forwarded.has(o.document_id));
    if (forward && fresh.length > 0) {
      try {
        await forward(fresh);
      } catch (e) {
        // Nothing of this call was handed on: answer retryable, the scheduler delivers the batch again.
        log(`could not hand orders to the Comms API: ${e instanceof Error ? e.message : String(e)}`);
        sendJson(
          res,
          503,
          { title: 'Service Unavailable', detail: 'Comms API unavailable' },
          { 'retry-after': '1' },
        );
        return;
      }
    }
    for (const o of fresh) {
      forwarded.add(o.document_id);
      received.push(o.document_id);
    }
    const failedItems = [...refused.values()].map(({ error, ids }) => ({ error, id: ids }));
    for (const { error, id } of failedItems) for (const one of id) rejected.push({ id: one, ...error });
    const failedCount = orders.length - accepted.length;
    log(`accept_commands: ${accepted.length} accepted (${fresh.length} new), ${failedCount} refused`);
    sendJson(res, 200, {
      data: {
        affected_items: accepted.map((o) => o.document_id),
        total_affected_items: accepted.length,
        total_failed_items: failedCount,
        failed_items: failedItems,
      },
      // Wazuh's convention: 0 all done, 1 nothing done, 2 partly done.
      message:
        failedCount === 0
          ? 'All orders were accepted'
          : accepted.length === 0
            ? 'No order was accepted'
            : 'Some orders were not accepted',
      error: failedCount === 0 ? 0 : accepted.length === 0 ? 1 : 2,
    });
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    void (async () => {
      if (route === 'GET /health') return sendJson(res, 200, { status: 'ok' });
      if (route === 'POST /security/user/authenticate' || route === 'GET /security/user/authenticate') {
        return authenticate(req, res);
      }
      if (!authorized(req))
        return sendJson(res, 401, { title: 'Unauthorized', detail: 'Invalid or missing credentials' });
      if (route === 'POST /accept_commands') return await acceptCommands(req, res);
      sendJson(res, 404, { title: 'Not Found', detail: `no route ${route}` });
    })().catch((e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) sendJson(res, e.status, { title: 'Bad Request', detail: e.message });
      else if (closing.signal.aborted) res.destroy();
      else sendJson(res, 500, { title: 'Internal Server Error', detail: String(e) });
    });
  });

  const url = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  let closed: Promise<void> | undefined;
  return {
    url,
    received,
    rejected,
    close: () => {
      closing.abort();
      comms?.agent.destroy();
      closed ??= closeServer(server);
      return closed;
    },
  };
}

/** Hands orders to a Comms API over HTTP (`post` rejects unless it answers 2xx), on kept-alive connections. */
export function commsClient(
  commsUrl: string,
  token: string | undefined,
): { post: (orders: AcceptedOrder[]) => Promise<void>; agent: http.Agent } {
  const AgentClass = new URL(commsUrl).protocol === 'https:' ? https.Agent : http.Agent;
  const agent = new AgentClass({ keepAlive: true, maxSockets: 8 });
  const base = commsUrl.replace(/\/+$/, '');
  const post = async (orders: AcceptedOrder[]): Promise<void> => {
    const answer = await requestJson(`${base}/internal/orders`, {
      body: { orders },
      headers: token ? { authorization: `Bearer ${token}` } : {},
      agent,
    });
    if (answer.status < 200 || answer.status >= 300)
      throw new Error(`Comms API answered HTTP ${answer.status}`);
  };
  return { post, agent };
}
