import http from 'node:http';
import path from 'node:path';
import { startLocalOpenSearch } from '@command-manager/test-support';

// Skeleton of the sidecar process (the composition root grows in the sidecar issue).
async function main(): Promise<void> {
  const [command = 'serve'] = process.argv.slice(2);
  if (command !== 'serve') {
    console.error(`unknown command: ${command}`);
    process.exit(2);
  }
  let url = process.env.OPENSEARCH_URL;
  if (!url) {
    console.error('OPENSEARCH_URL is not set: starting a local OpenSearch (scripts/opensearch)');
    url = await startLocalOpenSearch({
      homeDir: path.resolve(__dirname, '../../../.cache/opensearch/local'),
    });
  }
  const port = Number(process.env.PORT ?? 8080);
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/health' ? { status: 'ok' } : { error: 'not found' }));
  });
  server.listen(port, '127.0.0.1', () =>
    console.error(`command manager listening on :${port}, OpenSearch ${url}`),
  );
  const stop = (): void => void server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
