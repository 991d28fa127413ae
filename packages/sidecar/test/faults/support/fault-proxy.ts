/**
 * A fault-injecting HTTP(S) proxy in front of the reference Management API (examples/management-api).
 * The sidecar is pointed at the proxy; the proxy forwards to the real stub and, on demand, answers slowly,
 * answers 5xx without forwarding, resets connections, or stops listening altogether (connection refused).
 *
 * It also counts, per order document id, how many times the stub saw the order (`seen`) and accepted it
 * (`accepted`): the stub itself hands an order on once and acknowledges re-deliveries silently, so
 * duplicates are only visible here.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  /** Forward at once, hold the stub's answer back this long (the client may time out: a lost answer). */
  | { kind: 'slow'; delayMs: number }
  /** Answer this status without forwarding. */
  | { kind: 'status'; status: number; retryAfterSec?: number }
  /** Destroy the connection as soon as the request arrives, without forwarding. */
  | { kind: 'reset' };

export interface FaultProxyOptions {
  /** Base URL of the stub (or of OpenSearch); an `https` target is reached over TLS. */
  target: string;
  /** CA (PEM) that an `https` target's certificate is verified against. */
  targetCa?: string | Buffer;
  /** Serve HTTPS with this key/certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface CallRecord {
  at: number;
  orders: number;
  /** Document ids of the orders in the call. */
  ids: string[];
  /** Request ids of the orders in the call. */
  requestIds: number[];
  /** What the proxy did: forwarded (and the status the stub gave), answered itself, or reset. */
  outcome: 'forwarded' | 'status' | 'reset';
  status?: number;
  /** Set when the stub's answer was held back this long (`slow`). */
  delayedMs?: number;
}

export class FaultProxy {
  /** What calls get once `script` is used up. */
  mode: FaultMode = { kind: 'pass' };
  /**
   * When set, only calls whose `<METHOD> <path>` matches get `script`/`mode`; the others are forwarded
   * untouched (e.g. in front of OpenSearch: fail one index, serve the rest).
   */
  only: RegExp | undefined = undefined;
  /** Modes for the next calls, one per call, in order (deterministic bursts: "the next 5 calls get 503"). */
  readonly script: FaultMode[] = [];
  /** Per order id: times the stub received it. */
  readonly seen = new Map<string, number>();
  /** Per order id: times the stub accepted it (listed in `affected_items`). */
  readonly accepted = new Map<string, number>();
  readonly calls: CallRecord[] = [];
  /** Connections attempted while up (the TLS test checks that none got as far as HTTP). */
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly agent: http.Agent;

  private constructor(
    private readonly server: http.Server,
    private readonly options: FaultProxyOptions,
    private port: number,
  ) {
    this.agent = options.target.startsWith('https:')
      ? new https.Agent({
          keepAlive: true,
          maxSockets: 32,
          ...(options.targetCa !== undefined && { ca: options.targetCa }),
        })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = options.tls ? https.createServer(options.tls) : http.createServer();
    const proxy = new FaultProxy(server, options, 0);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => proxy.handle(req, res));
    server.on('connection', (socket: Socket) => {
      proxy.connections++;
      proxy.sockets.add(socket);
      socket.once('close', () => proxy.sockets.delete(socket));
    });
    // TLS handshake failures (an untrusting client) must not crash the test process.
    server.on('tlsClientError', () => undefined);
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** The next `calls` calls get `mode`, then the proxy goes back to `this.mode`. */
  inject(mode: FaultMode, calls: number): void {
    for (let i = 0; i < calls; i++) this.script.push(mode);
  }

  /** Orders the stub accepted more than once, and how many extra acceptances that makes. */
  duplicates(): { orders: number; extra: number; ids: string[] } {
    const ids = [...this.accepted].filter(([, n]) => n > 1).map(([id]) => id);
    const extra = [...this.accepted.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
    return { orders: ids.length, extra, ids };
  }

  /** Stops listening and drops every open connection: callers now get ECONNREFUSED. */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    await this.listen();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { ids, requestIds } = parseOrders(body);
      const targeted = this.only === undefined || this.only.test(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
      const mode: FaultMode = targeted ? (this.script.shift() ?? this.mode) : { kind: 'pass' };
      const record: CallRecord = {
        at: Date.now(),
        orders: ids.length,
        ids,
        requestIds,
        outcome: 'forwarded',
      };
      if (mode.kind === 'slow') record.delayedMs = mode.delayMs;
      this.calls.push(record);
      if (mode.kind === 'reset') {
        record.outcome = 'reset';
        req.socket.destroy();
        return;
      }
      if (mode.kind === 'status') {
        record.outcome = 'status';
        record.status = mode.status;
        const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
        if (mode.retryAfterSec !== undefined) headers['retry-after'] = String(mode.retryAfterSec);
        res.writeHead(mode.status, headers);
        res.end(JSON.stringify({ title: 'injected', detail: `injected HTTP ${mode.status}` }));
        return;
      }
      for (const id of ids) this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
      this.forward(req, body, (status, headers, answer) => {
        record.status = status;
        if (status >= 200 && status < 300) {
          for (const id of affectedIds(answer)) this.accepted.set(id, (this.accepted.get(id) ?? 0) + 1);
        }
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(status, headers);
          res.end(answer);
        };
        if (mode.kind === 'slow') {
          const t = setTimeout(() => {
            this.timers.delete(t);
            send();
          }, mode.delayMs);
          this.timers.add(t);
        } else send();
      });
    });
  }

  private forward(
    req: http.IncomingMessage,
    body: Buffer,
    done: (status: number, headers: http.OutgoingHttpHeaders, answer: Buffer) => void,
  ): void {
    const target = new URL(req.url ?? '/', this.options.target);
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    const transport = target.protocol === 'https:' ? https : http;
    const out = transport.request(target, { method: req.method, headers, agent: this.agent }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (c: Buffer) => parts.push(c));
      answer.on('end', () => {
        const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...rest } = answer.headers;
        done(answer.statusCode ?? 502, rest, Buffer.concat(parts));
      });
    });
    out.on('error', (e) => done(502, { 'content-type': 'text/plain' }, Buffer.from(String(e))));
    out.end(body);
  }
}

function parseOrders(body: Buffer): { ids: string[]; requestIds: number[] } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      orders?: Array<{ document_id?: unknown; request_id?: unknown }>;
    };
    const orders = parsed.orders ?? [];
    return {
      ids: orders.map((o) => o.document_id).filter((id): id is string => typeof id === 'string'),
      requestIds: [
        ...new Set(orders.map((o) => o.request_id).filter((r): r is number => typeof r === 'number')),
      ],
    };
  } catch {
    return { ids: [], requestIds: [] };
  }
}

function affectedIds(answer: Buffer): string[] {
  try {
    const parsed = JSON.parse(answer.toString('utf8')) as { data?: { affected_items?: unknown } };
    const items = parsed.data?.affected_items;
    return Array.isArray(items) ? items.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}
