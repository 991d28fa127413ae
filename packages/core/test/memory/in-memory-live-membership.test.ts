import { InMemoryLiveMembershipStore, InMemoryOrderStore, InMemoryRequestStore } from '@command-manager/core';
import { describeLiveMembershipStoreContract } from '@command-manager/store-contract';

describeLiveMembershipStoreContract('in-memory', async () => {
  const orders = new InMemoryOrderStore();
  const requests = new InMemoryRequestStore({ orders });
  return {
    store: new InMemoryLiveMembershipStore({ requests, orders }),
    requests,
    orders,
    refreshRequests: async () => undefined,
    cleanup: async () => undefined,
  };
});
