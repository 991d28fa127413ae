/**
 * The reference Comms API as a process:
 *   CM_TOKEN=<token of a `comms` principal> node -r ts-node/register/transpile-only examples/comms-api/src/main.ts \
 *     --port 27000 --command-manager-url http://127.0.0.1:8080
 * Every flag can also be given as the environment variable shown in README.md.
 */
import { readFileSync } from 'node:fs';
import { numberOption, option } from '@command-manager-examples/support';
import { startCommsApi } from './comms-api';
import type { CommandManagerTarget } from './comms-api';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const cmUrl = option(argv, 'command-manager-url', 'CM_URL');
  const token = option(argv, 'command-manager-token', 'CM_TOKEN');
  const username = option(argv, 'command-manager-username', 'CM_USERNAME');
  const password = option(argv, 'command-manager-password', 'CM_PASSWORD');
  const caFile = option(argv, 'command-manager-ca-file', 'CM_CA_FILE');
  const internalToken = option(argv, 'internal-token', 'COMMS_INTERNAL_TOKEN');
  const commandManager: CommandManagerTarget | undefined = cmUrl
    ? {
        url: cmUrl,
        ...(token !== undefined ? { token } : {}),
        ...(username !== undefined ? { username, password: password ?? '' } : {}),
        ...(caFile !== undefined ? { ca: readFileSync(caFile) } : {}),
      }
    : undefined;

  const comms = await startCommsApi({
    port: numberOption(argv, 'port', 'COMMS_PORT', 27000),
    host: option(argv, 'host', 'COMMS_HOST') ?? '127.0.0.1',
    ...(commandManager ? { commandManager } : {}),
    ...(internalToken !== undefined ? { internalToken } : {}),
    longPollMs: numberOption(argv, 'long-poll-ms', 'COMMS_LONG_POLL_MS', 30_000),
    maxResultsPerCall: numberOption(argv, 'max-results-per-call', 'COMMS_MAX_RESULTS_PER_CALL', 500),
    log: (message) => console.error(`[comms-api] ${message}`),
  });
  console.error(
    `[comms-api] listening on ${comms.url} (GET /commands, POST /results, POST /internal/orders)`,
  );
  if (!commandManager)
    console.error('[comms-api] no --command-manager-url: results are counted, not forwarded');

  const progress = setInterval(() => console.error(`[comms-api] ${JSON.stringify(comms.stats())}`), 5000);
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second signal forces
    stopping = true;
    clearInterval(progress);
    void comms.close().then(() => console.error(`[comms-api] stopped: ${JSON.stringify(comms.stats())}`));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`[comms-api] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
