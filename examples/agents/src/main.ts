/**
 * The agent simulator as a process:
 *   node -r ts-node/register/transpile-only examples/agents/src/main.ts --comms-url http://127.0.0.1:27000 --count 1000
 * Prints progress to stderr and one JSON report on stdout when it stops (Ctrl-C, or --idle-exit-ms).
 */
import { numberOption, option } from '@command-manager-examples/support';
import { runAgents } from './agents';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const idleExit = option(argv, 'idle-exit-ms', 'AGENTS_IDLE_EXIT_MS');
  const pollWait = option(argv, 'poll-wait-ms', 'AGENTS_POLL_WAIT_MS');
  const controller = new AbortController();
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second signal forces
    stopping = true;
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const report = await runAgents({
    commsUrl: option(argv, 'comms-url', 'COMMS_URL') ?? 'http://127.0.0.1:27000',
    count: numberOption(argv, 'count', 'AGENTS_COUNT', 10),
    prefix: option(argv, 'prefix', 'AGENTS_PREFIX') ?? 'agent-',
    concurrency: numberOption(argv, 'concurrency', 'AGENTS_CONCURRENCY', 50),
    failureShare: numberOption(argv, 'failure-share', 'AGENTS_FAILURE_SHARE', 0),
    executeMinMs: numberOption(argv, 'execute-min-ms', 'AGENTS_EXECUTE_MIN_MS', 0),
    executeMaxMs: numberOption(argv, 'execute-max-ms', 'AGENTS_EXECUTE_MAX_MS', 20),
    offline: numberOption(argv, 'offline', 'AGENTS_OFFLINE', 0),
    startAfterMs: numberOption(argv, 'start-after-ms', 'AGENTS_START_AFTER_MS', 0),
    ...(idleExit !== undefined ? { idleExitMs: Number(idleExit) } : {}),
    ...(pollWait !== undefined ? { pollWaitMs: Number(pollWait) } : {}),
    signal: controller.signal,
    log: (message) => console.error(`[agents] ${message}`),
  });
  console.log(JSON.stringify(report));
}

main().catch((e: unknown) => {
  console.error(`[agents] ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
