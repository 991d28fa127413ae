#!/usr/bin/env node
/**
 * The `command-manager` CLI: dispatches to one module per command (`cli/*-command.ts`) and turns the errors
 * every command shares (API errors, bad arguments, invalid JSON) into exit codes (`cli/exit-codes.ts`).
 */
import { ApiError } from './cli/api-client';
import { AUDIT_USAGE, auditCommand } from './cli/audit-command';
import { CLAIM_USAGE, claimCommand } from './cli/claim-command';
import { cliClient } from './cli/cli-client';
import { ExitCodes } from './cli/exit-codes';
import { HASH_PASSWORD_USAGE, hashPasswordCommand } from './cli/hash-password-command';
import { NEW_TOKEN_USAGE, newTokenCommand } from './cli/new-token-command';
import { ORDERS_USAGE, ordersCommand } from './cli/orders-command';
import { REQUESTS_USAGE, requestsCommand } from './cli/requests-command';
import { SERVE_USAGE, serveCommand } from './cli/serve-command';
import { SETUP_USAGE, setupCommand } from './cli/setup-command';
import { STATUS_USAGE, statusCommand } from './cli/status-command';
import { SUBMIT_USAGE, submitCommand } from './cli/submit-command';

export { ExitCodes } from './cli/exit-codes';

const USAGE = `usage: command-manager <command> [options]

commands:
${SERVE_USAGE}
${SETUP_USAGE}
${SUBMIT_USAGE}
${STATUS_USAGE}
${ORDERS_USAGE}
${CLAIM_USAGE}
${REQUESTS_USAGE}
${AUDIT_USAGE}
${HASH_PASSWORD_USAGE}
${NEW_TOKEN_USAGE}

client options: --url URL (CM_API_URL, default http://127.0.0.1:8080), --token T (CM_API_TOKEN),
  --basic user:password (CM_API_BASIC), --json (machine-readable output)
exit codes: 0 ok, 1 API error, 2 usage, 3 unreachable, 4 invalid configuration, 5 orders failed (status --watch)`;

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest);
      case 'setup':
        return await setupCommand(rest, ExitCodes);
      case 'submit':
        return await submitCommand(rest);
      case 'status':
        return await statusCommand(rest);
      case 'orders':
        return await ordersCommand(rest);
      case 'claim':
        return await claimCommand(rest, { client: cliClient, exitCodes: ExitCodes });
      case 'requests':
        return await requestsCommand(rest, cliClient);
      case 'audit':
        return await auditCommand(rest, cliClient);
      case 'hash-password':
        return await hashPasswordCommand();
      case 'new-token':
        return newTokenCommand();
      case undefined:
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? ExitCodes.USAGE : ExitCodes.OK;
      default:
        console.error(`unknown command: ${command}\n\n${USAGE}`);
        return ExitCodes.USAGE;
    }
  } catch (e) {
    if (e instanceof ApiError) {
      console.error(`error ${e.status} ${e.code}: ${e.message}`);
      for (const d of e.details) console.error(`  ${d.pointer || '(body)'}: ${d.message}`);
      return e.status === 0 ? ExitCodes.UNREACHABLE : ExitCodes.API_ERROR;
    }
    if (
      e instanceof TypeError &&
      'code' in e &&
      String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`${e.message}\n\n${USAGE}`);
      return ExitCodes.USAGE;
    }
    if (e instanceof SyntaxError) {
      console.error(`invalid JSON: ${e.message}`);
      return ExitCodes.USAGE;
    }
    throw e;
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    },
  );
}
