import type { Order, StoredOrder } from '@command-manager/core';
import { ManagementApiClient } from '@command-manager/scheduler';
import { FakeCommandManager } from '@command-manager-examples/support';
import { agentId, runAgents } from '../src';
import { spawnExample } from './support/spawn-example';
import type { RunningExample } from './support/spawn-example';

// Starting two example processes with ts-node takes a few seconds.
jest.setTimeout(60_000);

function stored(requestId: number, orderId: number, agent: string): StoredOrder {
  const order: Order = {
    '@timestamp': '2030-01-01T00:00:00.000Z',
    delivery_timestamp: '2100-01-01T00:00:00.000Z',
    agent: { groups: ['test'] },
    command: {
      source: 'Users/Services',
      user: 'wazuh',
      target: { type: 'agent', id: agent },
      action: { name: 'fetch-config', args: {} },
      timeout: 3600,
      status: 'pending',
      request_id: requestId,
      order_id: orderId,
    },
    scheduling: { principal: 'wazuh', attempts: 0, next_attempt_at: '2030-01-01T00:00:00.000Z' },
  };
  return { id: `${requestId}-${orderId}`, rev: '1', order };
}

const processes: RunningExample[] = [];
const closers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c.close();
  for (const p of processes.splice(0)) await p.stop();
});

describe('the example processes, chained over HTTP', () => {
  it('scheduler client → Management API → Comms API → agents → command manager', async () => {
    const cm = await FakeCommandManager.start();
    closers.push(cm);
    const comms = await spawnExample('comms-api', ['--port', '0', '--command-manager-url', cm.url], {
      CM_TOKEN: 'comms-token',
      COMMS_INTERNAL_TOKEN: 'internal',
    });
    processes.push(comms);
    const mgmt = await spawnExample(
      'management-api',
      ['--port', '0', '--comms-url', comms.url, '--known-agents', '^agent-0000(0[1-9]|1[0-9])$'],
      {
        MGMT_USERNAME: 'wazuh',
        MGMT_PASSWORD: 'wazuh-pw',
        COMMS_TOKEN: 'internal',
      },
    );
    processes.push(mgmt);
    const client = new ManagementApiClient({
      managementApiUrl: mgmt.url,
      auth: { type: 'jwt', username: 'wazuh', password: 'wazuh-pw' },
    });
    closers.push(client);

    // agent-000020 is not known to the Management API (the pattern covers 01..19).
    const verdicts = await client.deliver(
      Array.from({ length: 20 }, (_, i) => stored(42, i + 1, agentId('agent-', i + 1))),
    );
    expect([...verdicts.values()].filter((v) => v.kind === 'accepted')).toHaveLength(19);
    expect(verdicts.get('42-20')).toEqual({ kind: 'rejected', reason: 'Agent does not exist' });

    const stop = new AbortController();
    const allReported = cm.waitForResults(19).then(() => stop.abort());
    const report = await runAgents({ commsUrl: comms.url, count: 20, concurrency: 5, signal: stop.signal });
    await allReported;

    expect(cm.received.map((r) => r.id).sort()).toEqual(
      Array.from({ length: 19 }, (_, i) => `42-${i + 1}`).sort(),
    );
    expect(cm.received.every((r) => r.status === 'success')).toBe(true);
    expect(cm.calls.every((c) => c.authorization === 'Bearer comms-token')).toBe(true);
    expect(report.orders).toBe(19);

    // SIGTERM stops both processes cleanly.
    expect(await comms.stop()).toBe(0);
    expect(await mgmt.stop()).toBe(0);
  });
});
