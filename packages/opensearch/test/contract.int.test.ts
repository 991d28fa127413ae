/**
 * The core storage contract suites, run against real OpenSearch through the adapter.
 */
import type { Order } from '@command-manager/core';
import {
  createAgentsIndex,
  OpenSearchAgentDirectory,
  OpenSearchLockStore,
  OpenSearchOrderStore,
  OpenSearchPartitionLeaseStore,
  OpenSearchRequestStore,
  seedAgents,
} from '@command-manager/opensearch';
import { ManualClock } from '@command-manager/test-support';
import {
  describeAgentDirectoryContract,
  describeLockStoreContract,
  describeOrderStoreContract,
  describePartitionLeaseStoreContract,
  describeOrderAggregationContract,
  describeRequestListingContract,
  describeRequestStoreContract,
} from '@command-manager/store-contract';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);

// Each contract test creates and drops its own indices; the default 5 s is too short for a real node.
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

describeOrderStoreContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  // Forced refreshes (`true`) only to keep the run short: 'wait_for' (the default, checked in
  // order-store.int.test.ts) gives the same visibility, waiting up to the 1 s refresh interval per write.
  const store = new OpenSearchOrderStore({
    client: t.client,
    ordersIndex,
    replicas: 0,
    saveRefresh: true,
    writeRefresh: true,
  });
  return {
    store,
    clock: new ManualClock(new Date('2025-06-01T12:00:00.000Z')),
    cleanup: () => t.dropLayout(ordersIndex),
    readArchived: async (id: string): Promise<Order | undefined> => {
      // Archiving does not refresh (nobody searches the archive right away): refresh before searching.
      await t.client.indices.refresh({ index: store.layout.archivePattern, allow_no_indices: true });
      const res = await t.client.search({
        index: store.layout.archivePattern,
        body: { query: { ids: { values: [id] } } },
      });
      const hit = (res.body.hits.hits as Array<{ _source?: Order }>)[0];
      return hit?._source;
    },
  };
});

describeRequestStoreContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  return {
    store: new OpenSearchRequestStore({ client: t.client, ordersIndex, replicas: 0 }),
    orders: new OpenSearchOrderStore({ client: t.client, ordersIndex, replicas: 0 }),
    cleanup: () => t.dropLayout(ordersIndex),
  };
});

describeRequestListingContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const store = new OpenSearchRequestStore({ client: t.client, ordersIndex, replicas: 0 });
  return {
    store,
    settle: async () => {
      await t.client.indices.refresh({ index: store.layout.requests });
    },
    cleanup: () => t.dropLayout(ordersIndex),
  };
});

describeOrderAggregationContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const store = new OpenSearchOrderStore({
    client: t.client,
    ordersIndex,
    replicas: 0,
    saveRefresh: true,
    writeRefresh: true,
  });
  return { store, cleanup: () => t.dropLayout(ordersIndex) };
});

describeLockStoreContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const store = new OpenSearchLockStore({ client: t.client, ordersIndex, replicas: 0 });
  await store.init();
  return { store, cleanup: () => t.dropLayout(ordersIndex) };
});

describePartitionLeaseStoreContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const store = new OpenSearchPartitionLeaseStore({ client: t.client, ordersIndex, replicas: 0 });
  await store.init();
  return { store, cleanup: () => t.dropLayout(ordersIndex) };
});

describeAgentDirectoryContract('OpenSearch', async (agents) => {
  const agentsIndex = `${t.prefix}agents-contract`;
  await createAgentsIndex(t.client, { index: agentsIndex });
  await seedAgents(t.client, agents, { index: agentsIndex });
  return {
    directory: new OpenSearchAgentDirectory({ client: t.client, agentsIndex }),
    cleanup: async () => {
      await t.client.indices.delete({ index: agentsIndex }, { ignore: [404] });
    },
  };
});
