/**
 * The end-to-end run as one command:
 *   node -r ts-node/register/transpile-only examples/e2e/src/main.ts [--agents 1000] [--failure-share 0.05]
 * Progress goes to stderr (one redrawn line on a terminal, a line per change otherwise); the last line of
 * stdout is the JSON report. Exit code 0 only when every order is terminal with the expected counts.
 */
// First: resolve the workspace packages to their sources (see the file).
import './internal/register-source';
import { parseArgs } from 'node:util';
import { runE2e } from './e2e';
import { renderProgressLine } from './progress-line';

const USAGE = `usage: e2e [--agents N] [--failure-share 0..1] [--delivery push|pull] [--group NAME] [--timeout-ms MS] [--keep-indices]
           [--offline-agents N] [--late-agents N] [--sidecars 1|2]
  environment: OPENSEARCH_URL (unset: a local OpenSearch is started), E2E_AGENTS, E2E_FAILURE_SHARE, E2E_DELIVERY`;

function numberOf(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new TypeError(`${name} must be a number, got "${raw}"`);
  return value;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        agents: { type: 'string' },
        'failure-share': { type: 'string' },
        delivery: { type: 'string' },
        group: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'keep-indices': { type: 'boolean', default: false },
        'offline-agents': { type: 'string' },
        'late-agents': { type: 'string' },
        sidecars: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let agents: number;
  let failureShare: number;
  let timeoutMs: number;
  let offlineAgents: number;
  let lateAgents: number;
  let sidecars: number;
  try {
    sidecars = numberOf(values.sidecars, '--sidecars', 1);
    offlineAgents = numberOf(values['offline-agents'], '--offline-agents', 0);
    lateAgents = numberOf(values['late-agents'], '--late-agents', 0);
    agents = numberOf(values.agents ?? process.env.E2E_AGENTS, '--agents', 1000);
    failureShare = numberOf(
      values['failure-share'] ?? process.env.E2E_FAILURE_SHARE,
      '--failure-share',
      0.05,
    );
    timeoutMs = numberOf(values['timeout-ms'], '--timeout-ms', 300_000);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  const delivery = values.delivery ?? process.env.E2E_DELIVERY ?? 'push';
  if (delivery !== 'push' && delivery !== 'pull') {
    console.error(`--delivery must be push or pull, got "${delivery}"\n${USAGE}`);
    return 2;
  }

  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C forces
    interrupted = true;
    console.error('\nstopping: cleaning up what was started (Ctrl-C again to force)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const tty = process.stderr.isTTY === true;
  let lastLine = '';
  let lastPrinted = 0;
  const report = await runE2e({
    agents,
    failureShare,
    delivery,
    timeoutMs,
    offlineAgents,
    lateAgents,
    sidecars,
    keepIndices: values['keep-indices'],
    ...(values.group !== undefined && { group: values.group }),
    signal: controller.signal,
    log: (message) => console.error(`[e2e] ${message}`),
    onProgress: (p) => {
      const line = renderProgressLine(p);
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K${p.done ? '\n' : ''}`);
        return;
      }
      // Not a terminal (CI logs): a line when the counts change, at most one a second, and the last one.
      const counts = line.replace(/ [\d.]+ s( done)?$/, '');
      if (p.done || (counts !== lastLine && Date.now() - lastPrinted >= 1000)) {
        console.error(line);
        lastLine = counts;
        lastPrinted = Date.now();
      }
    },
  });
  const c = report.counts;
  console.error(
    `[e2e] ${report.delivery}: ${report.orders} orders to ${report.agents} agents: ${c.success} success, ${c.failure} failure ` +
      `(expected ${report.expected.success} / ${report.expected.failure}, ${report.expected.offline} of them agent offline, ${report.expected.late} late); ` +
      `${c.pending + c.sent === 0 ? 'all terminal' : 'not all terminal'} ${(report.elapsedMs / 1000).toFixed(2)} s ` +
      `after submitting (submit ${report.submitMs} ms)`,
  );
  if (report.ok) console.error('[e2e] OK');
  else {
    for (const p of report.problems) console.error(`[e2e] FAILED: ${p}`);
    console.error(`[e2e] sidecar log: ${report.sidecarLog}`);
  }
  console.log(JSON.stringify(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`[e2e] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);
