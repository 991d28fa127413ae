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
