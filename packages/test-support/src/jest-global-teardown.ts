import { SECURE_TEST_NODE_HOME, TEST_NODE_HOME } from './jest-global-setup';
// Jest loads global teardown with Node's resolver, not its module mapping: see jest-global-setup.ts.
import { stopLocalOpenSearch } from '../../local-opensearch/src';

export default async function globalTeardown(): Promise<void> {
  const stop = (globalThis as { __OPENSEARCH_STOP__?: () => Promise<void> }).__OPENSEARCH_STOP__;
  if (stop) await stop();
  if (process.env.COMMAND_MANAGER_TEST_NODE === 'script') {
    await stopLocalOpenSearch({ homeDir: TEST_NODE_HOME });
  }
  if (process.env.COMMAND_MANAGER_TEST_NODE === 'script-secure') {
    await stopLocalOpenSearch({ homeDir: SECURE_TEST_NODE_HOME });
  }
}
