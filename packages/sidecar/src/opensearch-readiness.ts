/** Readiness lives in the opensearch package; `sidecar.ts` still imports it from here. */
export { opensearchReadiness } from '@command-manager/opensearch';
export type { OpenSearchReadiness } from '@command-manager/opensearch';
