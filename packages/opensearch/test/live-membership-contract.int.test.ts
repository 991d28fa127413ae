/**
 * The live-membership store contract, run against real OpenSearch through the adapter.
 */
import {
  OpenSearchLiveMembershipStore,
  OpenSearchOrderStore,
  OpenSearchRequestStore,
} from '@command-manager/opensearch';
import { describeLiveMembershipStoreContract } from '@command-manager/store-contract';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);

jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

describeLiveMembershipStoreContract('OpenSearch', async () => {
  const ordersIndex = t.nextOrdersIndex();
  const common = { client: t.client, ordersIndex, replicas: 0 };
  const orders = new OpenSearchOrderStore({ ...common, saveRefresh: false });
  const requests = new OpenSearchRequestStore(common);
  const store = new OpenSearchLiveMembershipStore(common);
  await orders.init();
  await store.init();
  return {
    store,
    requests,
    orders,
    refreshRequests: async () => {
      await t.client.indices.refresh({ index: store.layout.requests });
    },
    cleanup: () => t.dropLayout(ordersIndex),
  };
});
