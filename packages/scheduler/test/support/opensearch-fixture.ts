/**
 * Per-file OpenSearch stores for integration tests: a unique index prefix, the adapter's stores on a fresh
 * orders index, and cleanup of every index and template created under the prefix.
 */
import type { Client } from '@opensearch-project/opensearch';
import {
  createOpenSearchClient,
  OpenSearchLockStore,
  OpenSearchOrderStore,
  OpenSearchRequestStore,
} from '@command-manager/opensearch';
import type { RefreshPolicy } from '@command-manager/opensearch';
import { deleteTestIndices, opensearchClientOptions, testIndexPrefix } from '@command-manager/test-support';

export interface Stores {
  ordersIndex: string;
  orders: OpenSearchOrderStore;
  requests: OpenSearchRequestStore;
  locks: OpenSearchLockStore;
}

export interface OpenSearchFixture {
  client: Client;
  prefix: string;
  /** Stores on a new orders index under the prefix (initialised). */
  stores(options?: {
    writeRefresh?: RefreshPolicy;
    /** Refresh of a submission's writes (orders and records); the sidecar forces none. Default: `wait_for`. */
    submitRefresh?: RefreshPolicy;
    ordersIndex?: string;
  }): Promise<Stores>;
  close(): Promise<void>;
}

export function openSearchFixture(file: string): OpenSearchFixture {
  const client = createOpenSearchClient({ ...opensearchClientOptions(), maxRetries: 1 });
  const prefix = testIndexPrefix(file);
  let n = 0;
  return {
    client,
    prefix,
    async stores(options = {}) {
      const ordersIndex = options.ordersIndex ?? `${prefix}${++n}`;
      const common = { client, ordersIndex, replicas: 0 };
      const stores: Stores = {
        ordersIndex,
        orders: new OpenSearchOrderStore({
          ...common,
          ...(options.writeRefresh !== undefined ? { writeRefresh: options.writeRefresh } : {}),
          ...(options.submitRefresh !== undefined ? { saveRefresh: options.submitRefresh } : {}),
        }),
        requests: new OpenSearchRequestStore({
          ...common,
          ...(options.submitRefresh !== undefined ? { ordersRefresh: options.submitRefresh } : {}),
        }),
        locks: new OpenSearchLockStore(common),
      };
      await stores.orders.init();
      await stores.requests.init();
      await stores.locks.init();
      return stores;
    },
    async close() {
      try {
        await deleteTestIndices(client, prefix, { hidden: true, templates: [`command-manager-${prefix}*`] });
      } finally {
        await client.close();
      }
    },
  };
}
