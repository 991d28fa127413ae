/**
 * The pass-through baseline of bench/api-submit.bench.ts: the least any sidecar in Node can do per
 * submission. One `http` server, in a process of its own, that forwards each request body to OpenSearch's
 * index API (`POST <index>/_doc`) over a keep-alive agent and answers with OpenSearch's status and body.
 * Nothing else: no authentication, no parsing, no validation. Its throughput is the limit of any sidecar
 * design on the machine it runs on, where the load generator, a Node process and OpenSearch share the cores.
 *
 * Usage: node bench/lib/pass-through.mjs <OpenSearch URL> <index>
 * Prints `pass-through listening on <url>` on stdout once it listens; stops on SIGTERM.
 */
import http from 'node:http';
import https from 'node:https';

const [opensearchUrl, index] = process.argv.slice(2);
if (!opensearchUrl || !index) {
  process.stderr.write('usage: pass-through.mjs <OpenSearch URL> <index>\n');
  process.exit(2);
}
const target = new URL(opensearchUrl);
const transport = target.protocol === 'https:' ? https : http;
const agent = new transport.Agent({ keepAlive: true, maxSockets: 256 });
const authorization =
  target.username !== ''
    ? `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`
    : undefined;
const upstreamPath = `${target.pathname.replace(/\/$/, '')}/${encodeURIComponent(index)}/_doc`;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = { 'content-type': 'application/json', 'content-length': body.length };
    if (authorization) headers.authorization = authorization;
    const upstream = transport.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: upstreamPath,
        method: 'POST',
        headers,
      },
      (answer) => {
        const parts = [];
        answer.on('data', (chunk) => parts.push(chunk));
        answer.on('end', () => {
          const out = Buffer.concat(parts);
          res.writeHead(answer.statusCode ?? 502, {
            'content-type': 'application/json',
            'content-length': out.length,
          });
          res.end(out);
        });
      },
    );
    upstream.on('error', () => {
      res.writeHead(502, { 'content-length': 0 });
      res.end();
    });
    upstream.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`pass-through listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
});
