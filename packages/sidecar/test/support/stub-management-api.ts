import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubManagementApi {
  url: string;
  /** Authorization headers of the `/accept_commands` calls received, in order. */
  authorizations: string[];
  /** Document ids of the orders received. */
  received: string[];
  /** Resolves once `/accept_commands` has been called `n` times in all. */
  waitForCalls(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A stand-in for Wazuh's Management API (outside this product): `POST /accept_commands` accepts every order,
 * answering in Wazuh's shape (`data.affected_items`). With `hold`, calls are held unanswered (until the caller
 * gives up or the stub closes): a delivery stays in flight, which is what the shutdown tests need.
 */
export async function startStubManagementApi(
  options: {
    token?: string;
    hold?: boolean;
    /** Called with the orders of each call once it is answered (a test may report their results). */
    onAccepted?: (orders: Array<{ document_id: string; target: { type: string; id: string } }>) => void;
  } = {},
): Promise<StubManagementApi> {
  const authorizations: string[] = [];
  const received: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/accept_commands') {
        res.writeHead(404).end();
        return;
      }
      authorizations.push(req.headers.authorization ?? '');
      if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"title":"Unauthorized","error":6000}');
        return;
      }
      const orders =
        (
          JSON.parse(body) as {
            orders?: Array<{ document_id: string; target: { type: string; id: string } }>;
          }
        ).orders ?? [];
      const ids = orders.map((o) => o.document_id);
      received.push(...ids);
      for (const w of waiters.filter((w) => authorizations.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      if (options.hold) return;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          data: {
            affected_items: ids,
            total_affected_items: ids.length,
            total_failed_items: 0,
            failed_items: [],
          },
          message: 'All orders were accepted',
          error: 0,
        }),
      );
      options.onAccepted?.(orders);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    received,
    waitForCalls: (n) =>
      authorizations.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
