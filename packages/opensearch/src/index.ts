/**
 * The OpenSearch adapter of core's ports, one file per concern: the stores (`opensearch-order-store.ts`,
 * `opensearch-request-store.ts`, `opensearch-lock-store.ts`, `opensearch-partition-lease-store.ts`), the
 * request id counter (`opensearch-request-id-allocator.ts`), the agents directory and its index
 * (`opensearch-agent-directory.ts`, `agents-index.ts`), index templates and indices (`opensearch-setup.ts`,
 * `index-layout.ts`), the client (`create-opensearch-client.ts`), the indexer half of `/ready`
 * (`opensearch-readiness.ts`) and the indexer's time for the clock-skew guard (`opensearch-server-time.ts`).
 * `internal/` holds what they share: bulk bodies and their one retry loop (`bulk.ts`, `bulk-retry.ts`),
 * mappings, queries, paging and the mapping of OpenSearch errors to core's error codes.
 */
export { createOpenSearchClient } from './create-opensearch-client';
export type { OpenSearchClientOptions } from './create-opensearch-client';
export { indexLayout, DEFAULT_ORDERS_INDEX, DEFAULT_AGENTS_INDEX } from './index-layout';
export type { IndexLayout } from './index-layout';
export { OpenSearchSetup } from './opensearch-setup';
export type { OpenSearchSetupOptions, IndexSettingsOptions } from './opensearch-setup';
export { OpenSearchOrderStore } from './opensearch-order-store';
export type { OpenSearchOrderStoreOptions, RefreshPolicy } from './opensearch-order-store';
export {
  OpenSearchAgentDirectory,
  DEFAULT_AGENT_PAGE_SIZE,
  DEFAULT_WALK_SEARCH_SIZE,
  MAX_AGENT_PAGE_SIZE,
} from './opensearch-agent-directory';
export type { OpenSearchAgentDirectoryOptions } from './opensearch-agent-directory';
export { createAgentsIndex, seedAgents } from './agents-index';
export type { AgentsIndexOptions, SeedAgentsOptions } from './agents-index';
export { OpenSearchRequestIdAllocator } from './opensearch-request-id-allocator';
export type { OpenSearchRequestIdAllocatorOptions } from './opensearch-request-id-allocator';
export { OpenSearchRequestStore } from './opensearch-request-store';
export type { OpenSearchRequestStoreOptions } from './opensearch-request-store';
export { opensearchReadiness } from './opensearch-readiness';
export type { OpenSearchReadiness } from './opensearch-readiness';
export { OpenSearchLockStore } from './opensearch-lock-store';
export type { OpenSearchLockStoreOptions } from './opensearch-lock-store';
export { OpenSearchServerTime } from './opensearch-server-time';
export { OpenSearchPartitionLeaseStore } from './opensearch-partition-lease-store';
export type { OpenSearchPartitionLeaseStoreOptions } from './opensearch-partition-lease-store';
export { toStoreError } from './internal/store-errors';
export { AUDIT_LOG_DEFAULTS, OpenSearchAuditLog } from './opensearch-audit-log';
export type { AuditLogOptions, OpenSearchAuditLogOptions } from './opensearch-audit-log';
export { OpenSearchLiveMembershipStore, MAX_LIVE_BATCH } from './opensearch-live-membership-store';
export type { OpenSearchLiveMembershipStoreOptions } from './opensearch-live-membership-store';
