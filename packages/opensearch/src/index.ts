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
export { toStoreError } from './internal/store-errors';
