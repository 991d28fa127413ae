export { InMemoryOrderStore } from './in-memory-order-store';
export type { InMemoryOrderStoreOptions, ArchivedOrder } from './in-memory-order-store';
export { InMemoryRequestStore } from './in-memory-request-store';
export { InMemoryLockStore } from './in-memory-lock-store';
export {
  InMemoryAgentDirectory,
  DEFAULT_AGENT_PAGE_SIZE,
  MAX_AGENT_PAGE_SIZE,
} from './in-memory-agent-directory';
export { InMemoryPartitionLeaseStore } from './in-memory-partition-lease-store';
export { InMemoryLiveMembershipStore } from './in-memory-live-membership-store';
