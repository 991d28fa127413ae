import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReportingManagementApi {
  url: string;
  /** Where results are reported: the sidecar's URL and a token of the `comms` role. */
  reportTo(commandManager: { url: string; token: string }): void;
  close(): Promise<void>;
}

/**
 * A stand-in for Wazuh's Management API, Comms API and agents together (all outside this product): accepts
 * every order of `POST /accept_commands`, then reports each one's result to the sidecar as the Comms API
 * does (`POST …/results`). Agents whose id starts with `failing-` fail with code 42 (`disk full`); those
 * starting with `silent-` never answer (their orders stay `sent`); the others succeed.
 */
export async function startReportingManagementApi(): Promise<ReportingManagementApi> {
  let target: { url: string; token: string } | undefined;
  const report = async (orders: Array<{ document_id: string; target: { id: string } }>): Promise<void> => {
    const results = orders
      .filter((o) => !o.target.id.startsWith('silent-'))
      .map((o) =>
        o.target.id.startsWith('failing-')
          ? { id: o.document_id, status: 'failure', result: { code: 42, message: 'disk full' } }
          : { id: o.document_id, status: 'success', result: { code: 0, message: 'done' } },
      );
    if (results.length === 0 || !target) return;
    await fetch(`${target.url}/_plugins/_command_manager/results`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ results }),
    });
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/accept_commands') {
        res.writeHead(404).end();
        return;
      }
      const orders =
        (JSON.parse(body) as { orders?: Array<{ document_id: string; target: { id: string } }> }).orders ??
        [];
      const ids = orders.map((o) => o.document_id);
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
      // After the answer: the sidecar marks them sent first, as with a real Comms API.
      setTimeout(() => void report(orders).catch(() => undefined), 200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reportTo: (commandManager) => {
      target = commandManager;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
