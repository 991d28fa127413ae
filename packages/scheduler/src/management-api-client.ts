/**
 * Delivery to the Wazuh Management API: `POST <managementApiUrl>/accept_commands` with `{"orders":[…]}`.
 *
 * External behaviour relied on (Wazuh API conventions, e.g. `PUT /agents/group`):
 * - A 2xx answer may list per-item outcomes in `data.affected_items` (accepted items: document ids, or
 *   objects with `document_id`/`id`) and `data.failed_items` (`[{ error: { code, message }, id: [ids] }]`).
 *   When neither list is present the whole batch counts as accepted; when they are present, an order in
 *   neither list counts as not acknowledged and is retried.
 * - JWT auth: `POST /security/user/authenticate` with Basic credentials answers `{ data: { token } }`; the
 *   token is then sent as `Authorization: Bearer`. Tokens expire (900 s by default), so a 401 renews the
 *   token once and repeats the call.
 * - `Retry-After` (RFC 9110 §10.2.3) is seconds or an HTTP date.
 *
 * How answers map to verdicts: 2xx per order (above); 408, 429, 5xx and network errors are retried (they
 * count towards the breaker); 401/403 (after one re-authentication with JWT) and 404 are about this
 * dispatcher, not the orders: the breaker opens at once, an error is logged and
 * `scheduler_delivery_halted_total` counted, and the orders stay pending without an attempt counted; any
 * other 4xx (413 above all) is about the batch's content: the batch is split in two and each half sent
 * again, down to a single order, which then fails (ORDER_TOO_LARGE for 413).
 *
 * TLS is always verified (`rejectUnauthorized: true` is fixed, there is no option to turn it off); with
 * `tls.ca` the given CA replaces Node's default roots. Secrets (passwords, tokens) are never logged.
 */
import { Agent, request } from 'undici';
import { systemClock, noopLogger } from '@command-manager/core';
import type { Clock, Logger, StoredOrder } from '@command-manager/core';
import { BREAKER_STATE_VALUE, CircuitBreaker } from './circuit-breaker';
import type { BreakerState, CircuitBreakerOptions } from './circuit-breaker';
import { toAcceptCommandsOrder } from './order-delivery';
import type { DeliverOptions, OrderDelivery, OrderVerdict } from './order-delivery';
import { isRetryableStatus } from './internal/retryable-status';
import { noopSchedulerMetrics, SchedulerMetricNames } from './scheduler-metrics';
import type { SchedulerMetrics } from './scheduler-metrics';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';

export type ManagementApiAuth =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  /** Wazuh's flow: Basic to `authenticatePath` (default `/security/user/authenticate`) → JWT → Bearer. */
  | { type: 'jwt'; username: string; password: string; authenticatePath?: string };

type Pem = string | Buffer;

export interface ManagementApiTls {
  /** CA certificate(s) (PEM contents, not a path) the server certificate must chain to. */
  ca?: Pem | Pem[];
  /** Client certificate and key (PEM contents) for mutual TLS. */
  cert?: Pem;
  key?: Pem;
  passphrase?: string;
  /** Name to verify the server certificate against when it differs from the URL's host. */
  servername?: string;
}

export interface ManagementApiClientOptions {
  /** Base URL, e.g. `https://wazuh-server:55000`; `/accept_commands` is appended. */
  managementApiUrl: string;
  auth?: ManagementApiAuth;
  tls?: ManagementApiTls;
  /**
   * Bound on each HTTP exchange (connect, headers and body); default `SCHEDULER_DEFAULTS.requestTimeoutMs`.
   * Keep it below the lease.
   */
  requestTimeoutMs?: number;
  /** Connections kept to the Management API; default `SCHEDULER_DEFAULTS.maxConnections`. */
  maxConnections?: number;
  breaker?: CircuitBreakerOptions;
  clock?: Clock;
  logger?: Logger;
  metrics?: SchedulerMetrics;
}

const DEFAULT_AUTHENTICATE_PATH = '/security/user/authenticate';
/** Answers about the dispatcher (its credentials, its permissions, its endpoint), never about an order. */
const HALT_STATUSES: ReadonlySet<number> = new Set([401, 403, 404]);
const MAX_REASON_CHARS = 300;

interface HttpAnswer {
  status: number;
  retryAfter: string | undefined;
  text: string;
}

/** A delivery problem that is worth retrying; carries the reason for operators. */
class RetryableDeliveryError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The Management API refuses this dispatcher (credentials, permissions, endpoint): not about the orders. */
class AuthRefusedError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

export class ManagementApiClient implements OrderDelivery {
  private readonly baseUrl: string;
  private readonly auth: ManagementApiAuth;
  private readonly timeoutMs: number;
  private readonly agent: Agent;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: SchedulerMetrics;
  readonly breaker: CircuitBreaker;
  private token: string | undefined;
  private tokenPromise: Promise<string> | undefined;
  private closed = false;

  constructor(options: ManagementApiClientOptions) {
    const url = new URL(options.managementApiUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`managementApiUrl must be http(s), got ${url.protocol}`);
    }
    this.baseUrl = options.managementApiUrl.replace(/\/+$/, '');
    this.auth = options.auth ?? { type: 'none' };
    this.timeoutMs = Math.max(1, options.requestTimeoutMs ?? SCHEDULER_DEFAULTS.requestTimeoutMs);
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? noopLogger).child({ component: 'management-api-client' });
    this.metrics = options.metrics ?? noopSchedulerMetrics;
    const tls = options.tls ?? {};
    this.agent = new Agent({
      connections: Math.max(1, options.maxConnections ?? SCHEDULER_DEFAULTS.maxConnections),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      connect: {
        // Fixed: certificates are always verified; there is deliberately no trust-all switch.
        rejectUnauthorized: true,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
        ...(tls.key !== undefined ? { key: tls.key } : {}),
        ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      },
    });
    this.breaker = new CircuitBreaker(options.breaker, this.clock, (state: BreakerState) => {
      this.metrics.set(SchedulerMetricNames.BREAKER_STATE, BREAKER_STATE_VALUE[state]);
      this.logger.warn('management API circuit breaker changed state', { state });
    });
    this.metrics.set(SchedulerMetricNames.BREAKER_STATE, BREAKER_STATE_VALUE.closed);
  }

  isBlocked(): boolean {
    return this.breaker.isBlocked();
  }

  async deliver(
    orders: readonly StoredOrder[],
    options: DeliverOptions = {},
  ): Promise<Map<string, OrderVerdict>> {
    const ids = orders.map((o) => o.id);
    if (ids.length === 0) return new Map();
    if (this.closed) return uniform(ids, { kind: 'retry', reason: 'delivery client closed' });
    if (!this.breaker.tryAcquire()) {
      // Refused without trying: says nothing about the orders, so no attempt is counted.
      return uniform(ids, {
        kind: 'halted',
        reason: 'management API circuit breaker is open',
        retryAfterMs: this.breaker.remainingOpenMs(),
      });
    }
    const verdicts = new Map<string, OrderVerdict>();
    try {
      await this.sendSplitting(orders, options.signal, verdicts);
      this.breaker.success();
      return verdicts;
    } catch (e) {
      const rest = ids.filter((id) => !verdicts.has(id));
      for (const [id, v] of this.verdictOfError(e, rest.length, options.signal)(rest)) verdicts.set(id, v);
      return verdicts;
    }
  }

  /**
   * Sends `orders` and records a verdict per order in `out`. A 4xx that is not about the dispatcher splits
   * the batch in halves, sent one after the other; a single order then fails. Throws for what concerns the
   * whole call (network, retryable status, refused dispatcher), leaving the orders not yet decided out of `out`.
   */
  private async sendSplitting(
    orders: readonly StoredOrder[],
    signal: AbortSignal | undefined,
    out: Map<string, OrderVerdict>,
  ): Promise<void> {
    const ids = orders.map((o) => o.id);
    const body = JSON.stringify({ orders: orders.map(toAcceptCommandsOrder) });
    const answer = await this.sendWithAuth('/accept_commands', body, signal);
    if (answer.status >= 200 && answer.status < 300) {
      for (const [id, v] of parseAcceptAnswer(ids, answer.text)) out.set(id, v);
      return;
    }
    const reason = `management API answered HTTP ${answer.status}${excerpt(answer.text)}`;
    if (isRetryableStatus(answer.status)) {
      throw new RetryableDeliveryError(reason, parseRetryAfter(answer.retryAfter, this.clock.now()));
    }
    if (HALT_STATUSES.has(answer.status)) throw new AuthRefusedError(reason, answer.status);
    const [first, ...others] = orders;
    if (first !== undefined && others.length === 0) {
      out.set(first.id, {
        kind: 'failed',
        reason:
          answer.status === 413
            ? `the management API refuses this order alone as too large (HTTP 413)${excerpt(answer.text)}`
            : reason,
        httpStatus: answer.status,
      });
      return;
    }
    this.metrics.inc(SchedulerMetricNames.BATCH_SPLITS);
    this.logger.info('management API refused a whole batch; splitting it', {
      status: answer.status,
      orders: orders.length,
    });
    const half = Math.ceil(orders.length / 2);
    await this.sendSplitting(orders.slice(0, half), signal, out);
    await this.sendSplitting(orders.slice(half), signal, out);
  }

  /** The verdict for orders a failed call left undecided, with the breaker and metrics updated once. */
  private verdictOfError(
    e: unknown,
    count: number,
    signal: AbortSignal | undefined,
  ): (ids: readonly string[]) => Map<string, OrderVerdict> {
    if (signal?.aborted) {
      this.breaker.cancel();
      return (ids) => uniform(ids, { kind: 'retry', reason: 'delivery aborted (shutdown)' });
    }
    if (e instanceof AuthRefusedError) {
      this.breaker.trip();
      const kind = e.httpStatus === 404 ? 'not_found' : 'auth';
      this.metrics.inc(SchedulerMetricNames.DELIVERY_HALTED, { reason: kind });
      const retryAfterMs = this.breaker.remainingOpenMs();
      this.logger.error(
        kind === 'auth'
          ? 'management API refuses the dispatcher (credentials or permissions): dispatch stopped, orders stay pending'
          : 'management API endpoint not found (check scheduler.managementApiUrl): dispatch stopped, orders stay pending',
        { status: e.httpStatus, reason: e.message, orders: count, retryInMs: retryAfterMs },
      );
      return (ids) => uniform(ids, { kind: 'halted', reason: e.message, retryAfterMs });
    }
    this.breaker.failure();
    const reason = e instanceof RetryableDeliveryError ? e.message : describeNetworkError(e);
    this.logger.warn('delivery to the management API failed; will retry', { reason, orders: count });
    return (ids) =>
      uniform(ids, {
        kind: 'retry',
        reason,
        ...(e instanceof RetryableDeliveryError && e.retryAfterMs !== undefined
          ? { retryAfterMs: e.retryAfterMs }
          : {}),
      });
  }

  /** Closes the connections. Deliveries after `close()` get a `retry` verdict. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  /** POSTs with the configured auth; with JWT, a 401 renews the token once and repeats the call. */
  private async sendWithAuth(
    path: string,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<HttpAnswer> {
    const auth = this.auth;
    if (auth.type !== 'jwt') return this.post(path, body, authHeader(auth), signal);
    const token = await this.getToken(signal);
    const answer = await this.post(path, body, `Bearer ${token}`, signal);
    if (answer.status !== 401) return answer;
    this.logger.info('management API refused the token (401); authenticating again');
    if (this.token === token) this.token = undefined;
    const renewed = await this.getToken(signal);
    return this.post(path, body, `Bearer ${renewed}`, signal);
  }

  /** One authenticate call at a time, shared by concurrent batches. */
  private getToken(signal: AbortSignal | undefined): Promise<string> {
    if (this.token !== undefined) return Promise.resolve(this.token);
    if (!this.tokenPromise) {
      this.tokenPromise = this.authenticate(signal).finally(() => {
        this.tokenPromise = undefined;
      });
    }
    return this.tokenPromise;
  }

  private async authenticate(signal: AbortSignal | undefined): Promise<string> {
    const auth = this.auth;
    if (auth.type !== 'jwt') throw new Error('authenticate() needs jwt auth');
    const basic = authHeader({ type: 'basic', username: auth.username, password: auth.password });
    const answer = await this.post(
      auth.authenticatePath ?? DEFAULT_AUTHENTICATE_PATH,
      undefined,
      basic,
      signal,
    );
    if (answer.status < 200 || answer.status >= 300) {
      const message = `management API authentication answered HTTP ${answer.status}${excerpt(answer.text)}`;
      if (isRetryableStatus(answer.status)) {
        throw new RetryableDeliveryError(message, parseRetryAfter(answer.retryAfter, this.clock.now()));
      }
      throw new AuthRefusedError(message, answer.status);
    }
    const token = (safeJson(answer.text) as { data?: { token?: unknown } } | undefined)?.data?.token;
    if (typeof token !== 'string' || token.length === 0) {
      throw new RetryableDeliveryError('management API authentication answered without data.token');
    }
    this.token = token;
    return token;
  }

  private async post(
    path: string,
    body: string | undefined,
    authorization: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpAnswer> {
    // undici's own timeouts cover connect, headers and body separately; this bounds the whole exchange.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) controller.abort();
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (authorization !== undefined) headers.authorization = authorization;
      const res = await request(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers,
        ...(body !== undefined ? { body } : {}),
        dispatcher: this.agent,
        signal: controller.signal,
      });
      const text = await res.body.text();
      const retryAfter = res.headers['retry-after'];
      return {
        status: res.statusCode,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        text,
      };
    } catch (e) {
      if (timedOut)
        throw new RetryableDeliveryError(`management API did not answer within ${this.timeoutMs} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function authHeader(auth: ManagementApiAuth): string | undefined {
  switch (auth.type) {
    case 'none':
      return undefined;
    case 'basic':
      return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
    case 'bearer':
      return `Bearer ${auth.token}`;
    case 'jwt':
      throw new Error('jwt auth has no static header');
  }
}

function uniform(ids: readonly string[], verdict: OrderVerdict): Map<string, OrderVerdict> {
  return new Map(ids.map((id) => [id, verdict]));
}

/** Per-order verdicts from a 2xx answer (see the file comment for the Wazuh conventions). */
export function parseAcceptAnswer(ids: readonly string[], text: string): Map<string, OrderVerdict> {
  const data = (safeJson(text) as { data?: { affected_items?: unknown; failed_items?: unknown } } | undefined)
    ?.data;
  const affected = Array.isArray(data?.affected_items) ? data.affected_items : undefined;
  const failed = Array.isArray(data?.failed_items) ? data.failed_items : undefined;
  if (!affected && !failed) return uniform(ids, { kind: 'accepted' });
  const known = new Set(ids);
  const verdicts = new Map<string, OrderVerdict>();
  for (const item of failed ?? []) {
    const reason = failedReason(item);
    for (const id of itemIds(item)) if (known.has(id)) verdicts.set(id, { kind: 'rejected', reason });
  }
  for (const item of affected ?? []) {
    for (const id of itemIds(item))
      if (known.has(id) && !verdicts.has(id)) verdicts.set(id, { kind: 'accepted' });
  }
  for (const id of ids) {
    if (!verdicts.has(id))
      verdicts.set(id, { kind: 'retry', reason: 'not acknowledged by the management API' });
  }
  return verdicts;
}

function itemIds(item: unknown): string[] {
  if (typeof item === 'string') return [item];
  if (item === null || typeof item !== 'object') return [];
  const o = item as Record<string, unknown>;
  const raw = o.document_id ?? o.id ?? o.ids;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.filter((x): x is string => typeof x === 'string');
}

function failedReason(item: unknown): string {
  const error = (item as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string' && message.length > 0) return message.slice(0, MAX_REASON_CHARS);
  return 'rejected by the management API';
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function excerpt(text: string): string {
  const t = text.trim();
  return t.length === 0 ? '' : `: ${t.slice(0, MAX_REASON_CHARS)}`;
}

function describeNetworkError(e: unknown): string {
  const err = e as {
    code?: unknown;
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  } | null;
  const code = err?.code ?? err?.cause?.code;
  const message = err?.message ?? err?.cause?.message ?? String(e);
  return `management API unreachable${typeof code === 'string' ? ` (${code})` : ''}: ${String(message)}`;
}
