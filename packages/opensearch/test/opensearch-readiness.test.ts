import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenSearchClient, opensearchReadiness } from '@command-manager/opensearch';

/** A stand-in indexer answering every call with `status` and `body` (what a secured node says while starting). */
async function fakeIndexer(status: number, body: unknown): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('opensearchReadiness', () => {
  it('is not ready while the indexer answers 503 "OpenSearch Security not initialized."', async () => {
    const node = await fakeIndexer(503, 'OpenSearch Security not initialized.');
    const client = createOpenSearchClient({ node: node.url, maxRetries: 0 });
    try {
      expect(await opensearchReadiness(client, 'wazuh-commands', 'command-manager-wazuh-commands')).toEqual({
        ready: false,
        checks: { opensearch: false },
      });
    } finally {
      await client.close();
      await node.close();
    }
  });

  it('is not ready when the indexer refuses the credentials (401)', async () => {
    const node = await fakeIndexer(401, { error: { type: 'security_exception' }, status: 401 });
    const client = createOpenSearchClient({ node: node.url, auth: { username: 'u', password: 'p' } });
    try {
      expect((await opensearchReadiness(client, 'wazuh-commands', 't')).ready).toBe(false);
    } finally {
      await client.close();
      await node.close();
    }
  });
});
