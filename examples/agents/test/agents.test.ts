import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentId, runAgents } from '../src';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

/**
 * A minimal Comms API stand-in that counts TCP connections: each agent's first poll gets one order
 * (`<n>-1` for agent n), later polls get none; results are recorded.
 */
async function countingComms(): Promise<{
  url: string;
  connections: () => number;
  results: Array<{ id: string; status: string; result: { code: number; data?: { agent?: string } } }>;
  onResult: (listener: () => void) => void;
  close(): Promise<void>;
}> {
  let connections = 0;
  const served = new Set<string>();
  const results: Array<{ id: string; status: string; result: { code: number } }> = [];
  const listeners: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/commands') {
        const agent = url.searchParams.get('agent_id') ?? '';
        const first = !served.has(agent);
        served.add(agent);
        const n = Number(agent.slice('agent-'.length));
        res.end(
          JSON.stringify({ orders: first ? [{ document_id: `${n}-1`, action: { name: 'restart' } }] : [] }),
        );
        return;
      }
      results.push(
        ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { results: typeof results }).results,
      );
      res.statusCode = 202;
      res.end('{}');
      for (const l of listeners) l();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    results,
    onResult: (l) => listeners.push(l),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('agent simulator', () => {
  it('serves every agent over a bounded keep-alive pool and reports each order once', async () => {
    const comms = await countingComms();
    open.push(comms);
    const stop = new AbortController();
    comms.onResult(() => {
      if (comms.results.length === 30) stop.abort();
    });
    const report = await runAgents({ commsUrl: comms.url, count: 30, concurrency: 4, signal: stop.signal });

    expect(comms.results.map((r) => r.id).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `${i + 1}-1`).sort(),
    );
    for (const r of comms.results) {
      expect(r).toMatchObject({
        status: 'success',
        result: { code: 0, data: { agent: agentId('agent-', Number(r.id.split('-')[0])) } },
      });
    }
    expect(comms.connections()).toBeLessThanOrEqual(4);
    expect(report).toMatchObject({ agents: 30, orders: 30, succeeded: 30, failed: 0, lost: 0 });
  });

  it('reports failure for the configured share of orders', async () => {
    const comms = await countingComms();
    open.push(comms);
    const stop = new AbortController();
    comms.onResult(() => {
      if (comms.results.length === 5) stop.abort();
    });
    const report = await runAgents({
      commsUrl: comms.url,
      count: 5,
      prefix: 'agent-',
      failureShare: 1,
      signal: stop.signal,
    });
    expect(comms.results.map((r) => [r.status, r.result.code])).toEqual(
      Array.from({ length: 5 }, () => ['failure', 1]),
    );
    expect(report).toMatchObject({ failed: 5, succeeded: 0 });
  });

  it('offline agents never poll; late agents poll only after their delay, announced by onStart', async () => {
    const comms = await countingComms();
    open.push(comms);
    const stop = new AbortController();
    comms.onResult(() => {
      if (comms.results.length === 3) stop.abort();
    });
    const announced: Array<{ ids: string[]; results: number }> = [];
    const began = Date.now();
    const report = await runAgents({
      commsUrl: comms.url,
      count: 5,
      offline: 2,
      startAfterMs: 300,
      onStart: (ids) => {
        announced.push({ ids, results: comms.results.length });
      },
      signal: stop.signal,
    });
    expect(announced).toEqual([{ ids: [1, 2, 3].map((n) => agentId('agent-', n)), results: 0 }]);
    expect(Date.now() - began).toBeGreaterThanOrEqual(300);
    expect(comms.results.map((r) => r.id).sort()).toEqual(['1-1', '2-1', '3-1']);
    expect(report).toMatchObject({ agents: 5, offline: 2, orders: 3, succeeded: 3 });
  });

  it('a run of offline agents only waits for its stop', async () => {
    const comms = await countingComms();
    open.push(comms);
    const report = await runAgents({ commsUrl: comms.url, count: 2, offline: 2, idleExitMs: 50 });
    expect(report).toMatchObject({ agents: 2, offline: 2, polls: 0, orders: 0 });
    expect(comms.connections()).toBe(0);
  });

  it('stops by itself after the idle time when no order comes', async () => {
    const comms = await countingComms();
    open.push(comms);
    const report = await runAgents({ commsUrl: comms.url, count: 1, pollWaitMs: 0, idleExitMs: 0 });
    expect(report.orders).toBe(0);
  });
});
