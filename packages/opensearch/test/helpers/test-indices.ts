/**
 * Per-file OpenSearch fixtures: one client, a unique index prefix, and cleanup of every index and template
 * created under it (so the shared dev node keeps only what others created).
 */
import type { Client } from '@opensearch-project/opensearch';
import { createOpenSearchClient, indexLayout } from '@command-manager/opensearch';
import {
  adminClientOptions,
  deleteTestIndices,
  opensearchClientOptions,
  testIndexPrefix,
} from '@command-manager/test-support';

export interface TestIndices {
  /** The product's client: the sidecar's user on a secured node. */
  client: Client;
  /** An administrator's client, for what a fixture does beyond the sidecar's role (e.g. every PIT). */
  admin: Client;
  prefix: string;
  /** A fresh orders index name under the prefix. */
  nextOrdersIndex(): string;
  /** Deletes the indices and templates derived from one orders index. */
  dropLayout(ordersIndex: string): Promise<void>;
  /** Deletes everything under the prefix and closes the client. */
  close(): Promise<void>;
}

export function testIndices(file: string): TestIndices {
  const client = createOpenSearchClient({ ...opensearchClientOptions(), maxRetries: 1 });
  const admin = createOpenSearchClient({ ...adminClientOptions(), maxRetries: 1 });
  const prefix = testIndexPrefix(file);
  let n = 0;
  const dropLayout = async (ordersIndex: string): Promise<void> => {
    const layout = indexLayout(ordersIndex);
    await client.indices.delete(
      {
        index: [layout.orders, layout.requests, layout.archivePattern],
        ignore_unavailable: true,
        allow_no_indices: true,
      },
      { ignore: [404] },
    );
    for (const name of Object.values(layout.templates)) {
      await client.indices.deleteIndexTemplate({ name }, { ignore: [404] });
    }
  };
  return {
    client,
    admin,
    prefix,
    nextOrdersIndex: () => `${prefix}${++n}`,
    dropLayout,
    close: async () => {
      try {
        await deleteTestIndices(client, prefix, { templates: [`command-manager-${prefix}*`] });
      } finally {
        await client.close();
        await admin.close();
      }
    },
  };
}
