import path from 'node:path';
import { containerRuntimeAvailable, startContainerOpenSearch } from './container-opensearch';
import { startLocalOpenSearch } from './local-opensearch';

/**
 * One OpenSearch per test run: `OPENSEARCH_URL` when set; else Testcontainers' OpenSearch when a container
 * runtime answers; else the integ-test distribution through scripts/opensearch. The URL reaches the test
 * workers through the environment (Jest starts them after global setup).
 */
export const TEST_NODE_HOME = path.resolve(__dirname, '..', '..', '..', '.cache', 'opensearch', 'jest');

export default async function globalSetup(): Promise<void> {
  if (process.env.OPENSEARCH_URL) {
    log(`using OPENSEARCH_URL=${redact(process.env.OPENSEARCH_URL)}`);
    return;
  }
  if (await containerRuntimeAvailable()) {
    log('starting OpenSearch with Testcontainers');
    const started = await startContainerOpenSearch();
    process.env.OPENSEARCH_URL = started.url;
    (globalThis as { __OPENSEARCH_STOP__?: () => Promise<void> }).__OPENSEARCH_STOP__ = started.stop;
    return;
  }
  log('no container runtime: starting the integ-test distribution (scripts/opensearch)');
  process.env.OPENSEARCH_URL = await startLocalOpenSearch({ homeDir: TEST_NODE_HOME });
  process.env.COMMAND_MANAGER_TEST_NODE = 'script';
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function log(message: string): void {
  process.stderr.write(`\n[integration] ${message}\n`);
}
