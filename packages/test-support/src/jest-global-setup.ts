import path from 'node:path';
import { containerRuntimeAvailable, startContainerOpenSearch } from './container-opensearch';
// Jest loads global setup with Node's resolver, not its module mapping: the launcher's source is imported
// directly, so that the tests still need no build.
import { startLocalOpenSearch } from '../../local-opensearch/src';
import { useSecuredNodeHome } from './test-credentials';

/**
 * One OpenSearch per test run: the secured node whose home `OPENSEARCH_NODE_HOME` names; else
 * `OPENSEARCH_URL` when set (with OPENSEARCH_USERNAME/PASSWORD/CA_FILE when it is secured); else with
 * OPENSEARCH_SECURE=1 a secured node through `scripts/opensearch --secure`; else Testcontainers' OpenSearch
 * when a container runtime answers; else the integ-test distribution through scripts/opensearch. The URL reaches the test
 * workers through the environment (Jest starts them after global setup).
 */
export const TEST_NODE_HOME = path.resolve(__dirname, '..', '..', '..', '.cache', 'opensearch', 'jest');
/** The secured node's home (OPENSEARCH_SECURE=1): its CA and credential files are read from there. */
export const SECURE_TEST_NODE_HOME = `${TEST_NODE_HOME}-secure`;

export default async function globalSetup(): Promise<void> {
  // A running secured node started by hand: its home names the URL, CA and credentials.
  if (process.env.OPENSEARCH_NODE_HOME) {
    useSecuredNodeHome(process.env.OPENSEARCH_NODE_HOME);
    log(`using the secured node of OPENSEARCH_NODE_HOME at ${redact(process.env.OPENSEARCH_URL ?? '')}`);
    return;
  }
  if (process.env.OPENSEARCH_URL) {
    log(`using OPENSEARCH_URL=${redact(process.env.OPENSEARCH_URL)}`);
    return;
  }
  if (process.env.OPENSEARCH_SECURE === '1') {
    log('starting a secured node (scripts/opensearch --secure): TLS, security plugin, user cm-sidecar');
    process.env.OPENSEARCH_URL = await startLocalOpenSearch({ homeDir: SECURE_TEST_NODE_HOME, secure: true });
    useSecuredNodeHome(SECURE_TEST_NODE_HOME);
    process.env.COMMAND_MANAGER_TEST_NODE = 'script-secure';
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
