/**
 * What the tests, the fault suite, the examples and the benchmarks share, so each lives once: the OpenSearch
 * a test run uses (its URL, credentials and per-file index prefixes, and `deleteTestIndices` to clean a
 * prefix up), `register-source` (the preload that runs the workspace's sources in a child process), a
 * `ManualClock`, a `RecordingLogger`, a `pkiBuilder` for throw-away TLS certificates, the base command
 * request tests start from, and `promtoolCheckMetrics` (Prometheus's linter run on a /metrics text).
 */
export {
  containerRuntimeAvailable,
  startContainerOpenSearch,
  OPENSEARCH_IMAGE,
} from './container-opensearch';
export { opensearchUrl, testIndexPrefix } from './test-env';
export {
  adminClientOptions,
  opensearchClientOptions,
  opensearchEnv,
  opensearchSecured,
  readEnvFile,
  useSecuredNodeHome,
} from './test-credentials';
export type { TestClientOptions } from './test-credentials';
export { REGISTER_SOURCE } from './workspace-source';
export { ManualClock } from './manual-clock';
export { RecordingLogger } from './recording-logger';
export type { RecordedLine } from './recording-logger';
export { pkiBuilder } from './test-pki';
export type { PkiBuilder } from './test-pki';
export { deleteTestIndices } from './index-cleanup';
export type { CleanupClient, IndexCleanupOptions } from './index-cleanup';
export { restartCommand } from './commands';
export { thrownBy } from './thrown-by';
export { promtoolCheckMetrics, promtoolMissing, promtoolPath } from './promtool';
