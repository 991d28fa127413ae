import { OpenSearchAuditLog, OpenSearchSetup, createAgentsIndex } from '@command-manager/opensearch';
import { testIndices } from './helpers/test-indices';

// Several sidecars starting at once: one creates an index, the others find it existing, possibly before its
// primary shard has started. An index whose primary cannot be allocated yet stands for that moment: each
// creator must wait for it rather than read it (a search then answers 503) and fail its start.

const t = testIndices(__filename);
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

/** Creates `index` with its primary held unassigned; the returned function lets it start. */
async function createUnstarted(
  index: string,
  mappings: Record<string, unknown> = {},
): Promise<() => Promise<void>> {
  await t.admin.indices.create({
    index,
    body: {
      settings: {
        number_of_shards: 1,
        number_of_replicas: 0,
        'index.routing.allocation.require._name': 'no-such-node',
      },
      mappings,
    },
    wait_for_active_shards: '0',
  } as never);
  return async () => {
    await t.admin.indices.putSettings({
      index,
      body: { 'index.routing.allocation.require._name': null },
    });
  };
}

function settleState<T>(promise: Promise<T>): { settled: () => boolean } {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { settled: () => settled };
}

describe('an index another sidecar created whose primary has not started', () => {
  it('the audit trail waits for it, then reads the end of its chain and writes', async () => {
    const index = `${t.prefix}audit-unstarted`;
    // The fields the chain's end is read by (the rest is mapped as written).
    const start = await createUnstarted(index, {
      properties: { sidecar: { type: 'keyword' }, seq: { type: 'long' } },
    });
    const audit = new OpenSearchAuditLog({
      client: t.client,
      index,
      sidecar: 'race-a',
      flushIntervalMs: 60_000,
    });
    const init = audit.init();
    const state = settleState(init);
    await new Promise((r) => setTimeout(r, 1500));
    expect(state.settled()).toBe(false);
    await start();
    await init;
    audit.record({
      '@timestamp': new Date().toISOString(),
      client_ip: '127.0.0.1',
      operation: 'submit',
      route: 'POST /x',
      status: 201,
      outcome: 'ok',
    });
    await audit.close();
    await t.client.indices.refresh({ index });
    const count = await t.client.count({ index });
    expect(count.body.count).toBe(1);
  });

  it('setup waits for the orders index before it returns', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const start = await createUnstarted(ordersIndex);
    const init = new OpenSearchSetup({ client: t.client, ordersIndex, replicas: 0 }).init();
    const state = settleState(init);
    await new Promise((r) => setTimeout(r, 1500));
    expect(state.settled()).toBe(false);
    await start();
    await init;
    const search = await t.client.search({ index: ordersIndex, body: { size: 0 } });
    expect(search.statusCode).toBe(200);
    await t.dropLayout(ordersIndex);
  });

  it('three audit trails starting at once on a new index all start (a search just after yellow may still fail)', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 8; round++) {
      const index = `${t.prefix}audit-race-${round}`;
      const logs = ['a', 'b', 'c'].map(
        (sidecar) => new OpenSearchAuditLog({ client: t.client, index, sidecar, flushIntervalMs: 60_000 }),
      );
      for (const r of await Promise.allSettled(logs.map((l) => l.init())))
        if (r.status === 'rejected') failures.push(String(r.reason));
      await Promise.all(logs.map((l) => l.close(100)));
    }
    expect(failures).toEqual([]);
  });

  it('gives up after its bound with a clear error', async () => {
    const index = `${t.prefix}agents-never`;
    await createUnstarted(index);
    await expect(createAgentsIndexBounded(index)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining(`index ${index} has primary shards that did not start`),
    });
  });
});

function createAgentsIndexBounded(index: string): Promise<void> {
  return createAgentsIndex(t.client, { index, activeTimeoutMs: 1000 });
}
