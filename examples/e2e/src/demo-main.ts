/**
 * `./scripts/start --demo`: the demo quick start (see `demo.ts`), until Ctrl-C.
 *   node -r ts-node/register/transpile-only examples/e2e/src/demo-main.ts [--agents 3000] [--port 8080]
 */
// First: resolve the workspace packages to their sources (see the file).
import './internal/register-source';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_GROUPS, startDemo } from './demo';
import { REPO_ROOT } from './internal/sidecar-process';

const USAGE = 'usage: scripts/start --demo [--agents N] [--failure-share 0..1] [--port PORT]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        agents: { type: 'string' },
        'failure-share': { type: 'string' },
        port: { type: 'string' },
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
  const numbers = { agents: values.agents, 'failure-share': values['failure-share'], port: values.port };
  for (const [name, raw] of Object.entries(numbers)) {
    if (raw !== undefined && !Number.isFinite(Number(raw))) {
      console.error(`--${name} must be a number, got "${raw}"\n${USAGE}`);
      return 2;
    }
  }
  const demo = await startDemo({
    ...(values.agents !== undefined && { agents: Number(values.agents) }),
    ...(values['failure-share'] !== undefined && { failureShare: Number(values['failure-share']) }),
    ...(values.port !== undefined && { port: Number(values.port) }),
    log: (m) => console.error(`[demo] ${m}`),
  });
  const cli = 'node packages/sidecar/dist/main.js';
  const url = demo.url === 'http://127.0.0.1:8080' ? '' : ` --url ${demo.url}`;
  console.log(`
The demo is running. Open the console and sign in with the API token in
  ${demo.consoleUrl}
  token: ${path.relative(REPO_ROOT, demo.tokenFile)} (mode 0600; the CLI reads it by itself)

Send a command to a group (${DEMO_GROUPS.map(([g]) => g).join(', ')}) and watch it reach 100%:
  ${cli} submit${url} --target-type group --target-id web --action fetch-config
  ${cli} status${url} 1 --watch

Ctrl-C stops everything.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.error('[demo] stopping');
  await demo.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[demo] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
