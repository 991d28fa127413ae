/**
 * The contract suites every store implements in full: each `describe…Contract` runs the same behaviour
 * tests against whatever store a harness builds, so the in-memory twins (core's unit tests) and the
 * OpenSearch stores (the opensearch package's integration tests) are held to one set of rules. Also the
 * order fixtures those suites and the storage tests share. Test code only: it runs under Jest, from source.
 */
export * from './agent-directory-contract';
export * from './lock-store-contract';
export * from './order-fixtures';
export * from './order-store-contract';
export * from './partition-lease-store-contract';
export * from './request-history-contract';
export * from './request-store-contract';
export * from './live-membership-store-contract';
