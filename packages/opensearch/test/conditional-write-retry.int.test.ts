/**
 * Create-only and conditional writes are never resent by the OpenSearch client itself: a first answer that
 * comes too late must not turn into a 409 from the resent write (which reads as a lost race). A real
 * OpenSearch behind a proxy that holds the first answer of a chosen kind past the client's timeout. The client
 * speaks plain HTTP to the proxy (with the sidecar's credentials); the proxy speaks TLS to a secured node.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { markSent } from '@command-manager/core';
import {
  createOpenSearchClient,
  OpenSearchLockStore,
  OpenSearchOrderStore,
} from '@command-manager/opensearch';
import { opensearchClientOptions, opensearchUrl } from '@command-manager/test-support';
import { makeTestOrder } from '@command-manager/store-contract';
import { testIndices } from './helpers/test-indices';

jest.setTimeout(60_000);

const t = testIndices(__filename);

/** Forwards to OpenSearch; the first request whose path matches `slow` is answered `delayMs` late. */
class DelayingProxy {
  readonly hits: string[] = [];
  slow: RegExp | undefined;
  delayMs = 1500;
  private server: Server | undefined;
  private readonly target = new URL(opensearchUrl());
  /** A secured node is reached over TLS, its certificate verified against the test run's CA. */
  private readonly tls = this.target.protocol === 'https:';
  private readonly ca = opensearchClientOptions().caFile;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.hits.push(`${req.method} ${path.split('?')[0]}`);
        const hold = this.slow !== undefined && this.slow.test(path);
        if (hold) this.slow = undefined;
        const upstream = (this.tls ? httpsRequest : httpRequest)(
          {
            host: this.target.hostname,
            port: this.target.port,
            method: req.method,
            path,
            headers: { ...req.headers, host: this.target.host },
            ...(this.tls && this.ca !== undefined && { ca: readFileSync(this.ca) }),
          },
          (answer) => {
            const body: Buffer[] = [];
            answer.on('data', (c: Buffer) => body.push(c));
            answer.on('end', () => {
              const reply = (): void => {
                if (res.destroyed) return;
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                res.end(Buffer.concat(body));
              };
              if (hold) setTimeout(reply, this.delayMs);
              else reply();
            });
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  count(pattern: RegExp): number {
    return this.hits.filter((h) => pattern.test(h)).length;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const proxy = new DelayingProxy();
let proxied: ReturnType<typeof createOpenSearchClient>;

beforeAll(async () => {
  const url = await proxy.start();
  // The client's defaults otherwise: 3 transport retries. The sidecar's user, over the proxy's plain HTTP.
  const { auth } = opensearchClientOptions();
  proxied = createOpenSearchClient({ node: url, ...(auth !== undefined && { auth }), requestTimeoutMs: 400 });
});

afterAll(async () => {
  await proxied.close();
  await proxy.close();
  await t.close();
});

it('a conditional write answered too late is not resent: no false lost race', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const direct = new OpenSearchOrderStore({ client: t.client, ordersIndex, replicas: 0 });
  await direct.init();
  await direct.saveOrders([makeTestOrder(1, 1)]);
  const stored = (await direct.getOrder('1-1'))!;

  const store = new OpenSearchOrderStore({ client: proxied, ordersIndex, replicas: 0 });
  proxy.slow = /_bulk/;
  const before = proxy.count(/_bulk/);
  let outcome: unknown;
  try {
    outcome = await store.writeConditional([
      { id: stored.id, rev: stored.rev, order: markSent(stored.order, new Date()) },
    ]);
  } catch (e) {
    outcome = e;
  }
  // Sent once; the caller learns that the write's fate is unknown, not that it lost a race.
  expect(proxy.count(/_bulk/) - before).toBe(1);
  expect(JSON.stringify(outcome)).not.toContain('conflict');
  await new Promise((r) => setTimeout(r, 1500));
  expect((await direct.getOrder('1-1'))?.order.command.status).toBe('sent');
});

it('a lock create answered too late is not resent', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const direct = new OpenSearchLockStore({ client: t.client, ordersIndex, replicas: 0 });
  await direct.init();
  const locks = new OpenSearchLockStore({ client: proxied, ordersIndex, replicas: 0 });
  proxy.slow = /_create\//;
  const before = proxy.count(/_create\//);
  const acquired = await locks.acquire('retention', 'sidecar-a', 60_000, new Date()).catch((e: unknown) => e);
  expect(proxy.count(/_create\//) - before).toBe(1);
  // Not "held by someone else" (false): the outcome is an error the caller retries.
  expect(acquired).not.toBe(false);
});
