import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ResultsCall {
  authorization: string | undefined;
  results: Array<{ id: string; status: string; result: { code: number; message: string } }>;
}

/**
 * Stands in for the command manager's `POST /_plugins/_command_manager/results` in the tests of the Comms
 * API and of the agents' chain (what reaches it is under test, not the command manager). Answers with
 * `statuses` in turn (then 200), and records every call.
 */
export class FakeCommandManager {
  readonly calls: ResultsCall[] = [];
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(statuses: number[] = []): Promise<FakeCommandManager> {
    const ref: { fake?: FakeCommandManager } = {};
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = statuses.shift() ?? 200;
        if (req.url === '/_plugins/_command_manager/results' && status === 200 && ref.fake) {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
            results: ResultsCall['results'];
          };
          const fake = ref.fake;
          fake.calls.push({ authorization: req.headers.authorization, results: body.results });
          fake.notify();
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ applied: body.results.length }));
          return;
        }
        res.writeHead(status === 200 ? 404 : status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ref.fake = new FakeCommandManager(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return ref.fake;
  }

  get received(): ResultsCall['results'] {
    return this.calls.flatMap((c) => c.results);
  }

  /** Resolves once at least `count` results were received. */
  waitForResults(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private notify(): void {
    const n = this.received.length;
    for (const w of this.waiters.splice(0)) {
      if (n >= w.count) w.resolve();
      else this.waiters.push(w);
    }
  }
}
