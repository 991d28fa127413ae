/**
 * A real HTTP(S) stub of the Wazuh Management API's `/accept_commands` (and its JWT login), for tests,
 * benchmarks and examples. Programmable: accept all, reject some ids, answer 5xx/429/4xx the next N times,
 * reset the connection, answer slowly, hold answers until released, require Basic/Bearer/JWT auth. It
 * records every order id it received (duplicates countable) and every id it accepted.
 *
 * Only node:http/https, so it can run as a standalone program too. Written to work even when compiled for
 * ES5 (ts-node under the root tsconfig): no iteration of Map/Set with for-of or spread.
 */
import { EventEmitter } from 'node:events';
// Named imports only: benchmarks load this file under ts-node without esModuleInterop.
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type StubAuth =
  | { type: 'none' }
  | { type: 'basic'; username: string; password: string }
  | { type: 'bearer'; token: string }
  | { type: 'jwt'; username: string; password: string };

export interface StubManagementApiOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer; ca?: string | Buffer; requestCert?: boolean };
  host?: string;
  port?: number;
  auth?: StubAuth;
}

interface Scripted {
  /** What to do with the next request(s). */
  action: 'status' | 'reset' | 'hold';
  status?: number;
  retryAfter?: string;
  body?: unknown;
  remaining: number;
}

interface AcceptBody {
  orders?: Array<{ document_id?: unknown }>;
}

/** Events: `orders` (ids: string[]) for every /accept_commands request received after auth; `change` on any progress. */
export class StubManagementApi extends EventEmitter {
  /** Every order id received, in arrival order (a re-delivery appears twice). */
  readonly received: string[] = [];
  /** Every order object received, as sent (for checking the payload). */
  readonly receivedOrders: unknown[] = [];
  /** Every order id answered as accepted. */
  readonly accepted: string[] = [];
  /** `/accept_commands` requests that reached the handler (including refused ones). */
  acceptRequests = 0;
  /** Successful JWT logins. */
  logins = 0;
  /** Order ids to reject, with the message to answer. */
  readonly rejectIds = new Map<string, string>();
  /** Larger batches are answered 413 Payload Too Large, as a proxy with a body limit would. */
  maxOrdersPerRequest = Number.POSITIVE_INFINITY;
  /** Order ids the server finds too large even alone: a batch holding one is answered 413. */
  readonly tooLargeIds = new Set<string>();
  /** Answer delay of `/accept_commands`, for slow-server tests. */
  delayMs = 0;
  auth: StubAuth;

  private readonly script: Scripted[] = [];
  private readonly tokens = new Set<string>();
  private readonly held: Array<() => void> = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: HttpServer | HttpsServer;
  private urlValue = '';

  private constructor(private readonly options: StubManagementApiOptions) {
    super();
    this.auth = options.auth ?? { type: 'none' };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    };
    this.server = options.tls
      ? createHttpsServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            ...(options.tls.ca ? { ca: options.tls.ca } : {}),
            ...(options.tls.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : createHttpServer(handler);
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // TLS handshakes fail when a client refuses our certificate; that is expected in TLS tests.
    this.server.on('tlsClientError', () => undefined);
  }

  static async start(options: StubManagementApiOptions = {}): Promise<StubManagementApi> {
    const stub = new StubManagementApi(options);
    await new Promise<void>((resolve, reject) => {
      stub.server.once('error', reject);
      stub.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = stub.server.address() as AddressInfo;
    stub.urlValue = `${options.tls ? 'https' : 'http'}://${options.host ?? '127.0.0.1'}:${port}`;
    return stub;
  }

  get url(): string {
    return this.urlValue;
  }

  /** The next `times` requests get HTTP `status` (e.g. 503), with an optional Retry-After and body. */
  failNext(times: number, status = 503, options: { retryAfter?: string; body?: unknown } = {}): this {
    this.script.push({ action: 'status', status, remaining: times, ...options });
    return this;
  }

  /** The next `times` requests get 429 Too Many Requests with `Retry-After: retryAfterSec`. */
  rateLimitNext(times: number, retryAfterSec?: number): this {
    return this.failNext(
      times,
      429,
      retryAfterSec === undefined ? {} : { retryAfter: String(retryAfterSec) },
    );
  }

  /** The next `times` requests have their connection destroyed without an answer. */
  resetNext(times: number): this {
    this.script.push({ action: 'reset', remaining: times });
    return this;
  }

  /** The next `times` requests are received (and recorded) but not answered until `releaseHeld()`. */
  holdNext(times: number): this {
    this.script.push({ action: 'hold', remaining: times });
    return this;
  }

  /** Answers the held requests normally. */
  releaseHeld(): void {
    for (const release of this.held.splice(0)) release();
  }

  /** Invalidates every JWT issued so far (the next call with one gets 401, as an expired token would). */
  expireTokens(): void {
    this.tokens.clear();
  }

  countReceived(id: string): number {
    return this.received.filter((x) => x === id).length;
  }

  countAccepted(id: string): number {
    return this.accepted.filter((x) => x === id).length;
  }

  /** Forgets what was received and accepted (a benchmark between rounds: keeps the stub's memory bounded). */
  clearRecords(): void {
    this.received.length = 0;
    this.receivedOrders.length = 0;
    this.accepted.length = 0;
    this.acceptRequests = 0;
  }

  /** Ids accepted more than once. */
  duplicatesAccepted(): string[] {
    const seen = new Map<string, number>();
    for (const id of this.accepted) seen.set(id, (seen.get(id) ?? 0) + 1);
    return Array.from(seen)
      .filter(([, n]) => n > 1)
      .map(([id]) => id);
  }

  /** Resolves once `predicate` holds, checked whenever a request arrives or is answered (no timers). */
  waitFor(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) {
          this.off('change', check);
          resolve();
        }
      };
      this.on('change', check);
    });
  }

  async close(): Promise<void> {
    this.releaseHeld();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.sockets.forEach((s) => s.destroy());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/security/user/authenticate') return this.login(req, res);
    if (req.method !== 'POST' || path !== '/accept_commands') {
      return send(res, 404, { title: 'Not Found', detail: `${req.method} ${path}` });
    }
    this.acceptRequests++;
    try {
      if (!this.authorized(req)) {
        return send(res, 401, { title: 'Unauthorized', detail: 'missing or invalid credentials' });
      }
      let parsed: AcceptBody;
      try {
        parsed = JSON.parse(body) as AcceptBody;
      } catch {
        return send(res, 400, { title: 'Bad Request', detail: 'body is not JSON' });
      }
      if (!Array.isArray(parsed.orders))
        return send(res, 400, { title: 'Bad Request', detail: 'orders missing' });
      const ids = parsed.orders.map((o) => String(o.document_id));
      if (ids.length > this.maxOrdersPerRequest || ids.some((id) => this.tooLargeIds.has(id)))
        return send(res, 413, { title: 'Payload Too Large', detail: `${ids.length} orders` });
      this.received.push(...ids);
      this.receivedOrders.push(...parsed.orders);
      this.emit('orders', ids);
      this.emit('change');
      const step = this.nextStep();
      if (step?.action === 'reset') {
        req.socket.destroy();
        return;
      }
      if (step?.action === 'status') {
        const headers: Record<string, string> = step.retryAfter ? { 'retry-after': step.retryAfter } : {};
        return send(res, step.status ?? 503, step.body ?? { title: 'Service Unavailable' }, headers);
      }
      if (step?.action === 'hold') await new Promise<void>((resolve) => this.held.push(resolve));
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      const affected: string[] = [];
      const failed = new Map<string, string[]>();
      for (const id of ids) {
        const reason = this.rejectIds.get(id);
        if (reason === undefined) affected.push(id);
        else failed.set(reason, [...(failed.get(reason) ?? []), id]);
      }
      if (res.destroyed) return;
      this.accepted.push(...affected);
      send(res, 200, {
        data: {
          affected_items: affected,
          total_affected_items: affected.length,
          failed_items: Array.from(failed).map(([message, idList]) => ({
            error: { code: 1760, message },
            id: idList,
          })),
          total_failed_items: ids.length - affected.length,
        },
        message: failed.size === 0 ? 'All orders were accepted' : 'Some orders were not accepted',
        error: failed.size === 0 ? 0 : 2,
      });
    } finally {
      this.emit('change');
    }
  }

  private nextStep(): Scripted | undefined {
    const step = this.script[0];
    if (!step) return undefined;
    if (--step.remaining <= 0) this.script.shift();
    return step;
  }

  private login(req: IncomingMessage, res: ServerResponse): void {
    const auth = this.auth;
    if (auth.type !== 'jwt' || req.headers.authorization !== basic(auth.username, auth.password)) {
      send(res, 401, { title: 'Unauthorized', detail: 'invalid credentials' });
      return;
    }
    const token = randomBytes(16).toString('hex');
    this.tokens.add(token);
    this.logins++;
    send(res, 200, { data: { token }, error: 0 });
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    switch (this.auth.type) {
      case 'none':
        return true;
      case 'basic':
        return header === basic(this.auth.username, this.auth.password);
      case 'bearer':
        return header === `Bearer ${this.auth.token}`;
      case 'jwt':
        return header !== undefined && header.startsWith('Bearer ') && this.tokens.has(header.slice(7));
    }
  }
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
