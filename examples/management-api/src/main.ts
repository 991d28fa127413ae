/**
 * The reference Management API as a process:
 *   node -r ts-node/register/transpile-only examples/management-api/src/main.ts --port 55000 --comms-url http://127.0.0.1:27000
 * or, pulling its orders from a command manager in pull delivery:
 *   … main.ts --mode pull --cm-url http://127.0.0.1:8080 --cm-token <wazuh-server token> --comms-url http://127.0.0.1:27000
 * Every flag can also be given as the environment variable shown in README.md.
 */
import { numberOption, option } from '@command-manager-examples/support';
import { commsClient, startManagementApi } from './management-api';
import { startPullConsumer } from './pull-consumer';

async function pullMain(argv: string[]): Promise<void> {
  const cmUrl = option(argv, 'cm-url', 'CM_URL');
  const cmToken = option(argv, 'cm-token', 'CM_TOKEN');
  const commsUrl = option(argv, 'comms-url', 'COMMS_URL');
  if (cmUrl === undefined || cmToken === undefined || commsUrl === undefined) {
    throw new Error('pull mode needs --cm-url, --cm-token and --comms-url');
  }
  const knownPattern = option(argv, 'known-agents', 'MGMT_KNOWN_AGENTS');
  const known = knownPattern === undefined ? undefined : new RegExp(knownPattern);
  const comms = commsClient(commsUrl, option(argv, 'comms-token', 'COMMS_TOKEN'));
  const consumer = startPullConsumer({
    commandManagerUrl: cmUrl,
    token: cmToken,
    consumer: option(argv, 'consumer', 'MGMT_CONSUMER') ?? 'management-api',
    size: numberOption(argv, 'size', 'MGMT_CLAIM_SIZE', 100),
    leaseMs: numberOption(argv, 'lease-ms', 'MGMT_LEASE_MS', 30_000),
    ...(known ? { isKnownAgent: (id: string) => known.test(id) } : {}),
    forward: comms.post,
    log: (message) => console.error(`[management-api] ${message}`),
  });
  console.error(`[management-api] pulling orders from ${cmUrl}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second signal forces
    stopping = true;
    void consumer.stop().then(() => {
      comms.agent.destroy();
      console.error(
        `[management-api] stopped: ${consumer.received.length} orders acked, ${consumer.rejected.length} refused`,
      );
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if ((option(argv, 'mode', 'MGMT_MODE') ?? 'push') === 'pull') return pullMain(argv);
  const username = option(argv, 'username', 'MGMT_USERNAME');
  const password = option(argv, 'password', 'MGMT_PASSWORD');
  const token = option(argv, 'token', 'MGMT_TOKEN');
  const knownPattern = option(argv, 'known-agents', 'MGMT_KNOWN_AGENTS');
  const known = knownPattern === undefined ? undefined : new RegExp(knownPattern);
  const commsUrl = option(argv, 'comms-url', 'COMMS_URL');
  const commsToken = option(argv, 'comms-token', 'COMMS_TOKEN');

  const api = await startManagementApi({
    port: numberOption(argv, 'port', 'MGMT_PORT', 55000),
    host: option(argv, 'host', 'MGMT_HOST') ?? '127.0.0.1',
    ...(username !== undefined && password !== undefined ? { credentials: { username, password } } : {}),
    ...(token !== undefined ? { bearerTokens: [token] } : {}),
    ...(known ? { isKnownAgent: (id: string) => known.test(id) } : {}),
    rejectShare: numberOption(argv, 'reject-share', 'MGMT_REJECT_SHARE', 0),
    failShare: numberOption(argv, 'fail-share', 'MGMT_FAIL_SHARE', 0),
    latencyMs: numberOption(argv, 'latency-ms', 'MGMT_LATENCY_MS', 0),
    ...(commsUrl !== undefined ? { commsUrl } : {}),
    ...(commsToken !== undefined ? { commsToken } : {}),
    log: (message) => console.error(`[management-api] ${message}`),
  });
  console.error(`[management-api] listening on ${api.url} (POST /accept_commands)`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second signal forces
    stopping = true;
    void api.close().then(() => {
      console.error(
        `[management-api] stopped: ${api.received.length} orders accepted, ${api.rejected.length} refused`,
      );
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`[management-api] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
