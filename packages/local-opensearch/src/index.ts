/**
 * A local single-node OpenSearch for development: `startLocalOpenSearch`/`stopLocalOpenSearch` drive the
 * repository's `scripts/opensearch` (the integ-test distribution, no container runtime). The quick start
 * (`serve` with no OpenSearch configured) and the test runs both use it; it has no dependencies, so the
 * sidecar's production image carries no test tooling.
 */
export { startLocalOpenSearch, stopLocalOpenSearch, OPENSEARCH_SCRIPT } from './local-opensearch';
export type { LocalOpenSearchOptions } from './local-opensearch';
