#!/usr/bin/env node
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ErrorCodes,
  isCommandManagerError,
  type CommandManagerError,
  type StatusCounts,
} from '@command-manager/core';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { startLocalOpenSearch, stopLocalOpenSearch } from '@command-manager/test-support';
import { ApiClient, ApiError } from './cli/api-client';
import { CLAIM_USAGE, claimCommand } from './cli/claim-command';
import { CLIENT_OPTIONS } from './cli/client-options';
import { REQUESTS_USAGE, requestsCommand } from './cli/requests-command';
import { SETUP_USAGE, setupCommand } from './cli/setup-command';
import { renderProgress } from './cli/progress-bar';
import { requestFinished } from './cli/request-finished';
import { loadConfig, redactedConfig } from './config/load-config';
import type { SidecarConfig } from './config/sidecar-config';
import { createLogger, redactUrl } from './logging';
import { startSidecar, type RunningSidecar } from './sidecar';

/** Exit codes, for scripts. */
export const ExitCodes = {
  OK: 0,
  /** The API refused the call (4xx) or failed (5xx). */
  API_ERROR: 1,
  USAGE: 2,
  /** The API could not be reached. */
  UNREACHABLE: 3,
  /** Invalid configuration (every bad key is printed). */
  CONFIG: 4,
  /** `status --watch`: the request ended with failed orders. */
  ORDERS_FAILED: 5,
} as const;

const USAGE = `usage: command-manager <command> [options]

commands:
  serve                         run the sidecar (API + scheduler); --config <file.json>
${SETUP_USAGE}
  submit                        submit one command: --target-type agent|group|server --target-id ID
                                  --action NAME [--args JSON] [--action-version V] [--timeout S]
                                  [--source S] [--user U] [--max-concurrency N] [--max-errors N|N%]
                                or a Wazuh body: --file commands.json; [--idempotency-key K]
  status <request_id>           a request's progress; --watch redraws a progress bar until it ends
  orders                        list orders: [--request-id N] [--status S] [--target-type T] [--target-id ID]
                                  [--action A] [--source S] [--from ISO] [--to ISO] [--size N] [--cursor C]
${CLAIM_USAGE}
${REQUESTS_USAGE}
  hash-password                 read a password on stdin, print its scrypt hash for the users file
  new-token                     print a new API token and the sha256 to put in the users file

client options: --url URL (CM_API_URL, default http://127.0.0.1:8080), --token T (CM_API_TOKEN),
  --basic user:password (CM_API_BASIC), --json (machine-readable output)
exit codes: 0 ok, 1 API error, 2 usage, 3 unreachable, 4 invalid configuration, 5 orders failed (status --watch)`;

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DEV_DIR = path.join(ROOT, '.cache', 'command-manager');
const DEV_TOKEN_FILE = path.join(DEV_DIR, 'admin-token');

/**
 * The quick start runs without a users file: a fresh admin token is written to a private file (mode 0600,
 * never printed or logged) and the CLI picks it up from there.
 */
function devUsersFile(): string {
  mkdirSync(DEV_DIR, { recursive: true, mode: 0o700 });
  const token = generateApiToken();
  writeFileSync(DEV_TOKEN_FILE, `${token}\n`, { mode: 0o600 });
  chmodSync(DEV_TOKEN_FILE, 0o600);
  const usersFile = path.join(DEV_DIR, 'users.json');
  const users = { tokens: [{ name: 'admin', token_sha256: hashApiToken(token), roles: ['admin'] }] };
  writeFileSync(usersFile, JSON.stringify(users, null, 2), { mode: 0o600 });
  return usersFile;
}

function isConfigError(e: unknown): e is CommandManagerError {
  return isCommandManagerError(e, ErrorCodes.CONFIG_INVALID);
}

/** Names every bad key (the errors never carry a secret's value: see loadConfig and parseUsersFile). */
function reportConfigError(e: CommandManagerError): number {
  const details = e.details.length > 0 ? e.details : [{ pointer: '', message: e.message }];
  console.error(
    `invalid configuration: ${e.message}\n${details.map((d) => `  ${d.pointer || '(file)'}: ${d.message}`).join('\n')}`,
  );
  return ExitCodes.CONFIG;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, strict: true });
  let config: SidecarConfig;
  try {
    config = loadConfig(values.config !== undefined ? { file: values.config } : {});
  } catch (e) {
    if (isConfigError(e)) return reportConfigError(e);
    throw e;
  }
  const logger = createLogger({ level: config.log.level });
  let opensearchUrl = config.opensearch.url;
  const localNode = { homeDir: path.join(ROOT, '.cache', 'opensearch', 'local') };
  let startedLocalNode = false;
  if (opensearchUrl === undefined) {
    logger.info('OPENSEARCH_URL is not set: starting a local OpenSearch (scripts/opensearch)');
    opensearchUrl = await startLocalOpenSearch(localNode);
    startedLocalNode = true;
    if (config.auth?.usersFile === undefined) {
      const usersFile = devUsersFile();
      config = { ...config, auth: { ...config.auth, usersFile } };
      logger.info('development mode: an admin API token was written for the CLI', {
        tokenFile: DEV_TOKEN_FILE,
      });
    }
  }
  logger.info('configuration', { config: redactedConfig(config), opensearch: redactUrl(opensearchUrl) });
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(config, opensearchUrl, logger);
  } catch (e) {
    // The quick start's node goes with the process that started it, a failed start included.
    if (startedLocalNode) await stopLocalOpenSearch(localNode).catch(() => undefined);
    // The users file and the actions file are read at start: their errors are configuration errors too.
    if (isConfigError(e)) return reportConfigError(e);
    throw e;
  }
  console.error(`command manager listening on ${sidecar.url}`);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        logger.warn('second signal: forcing exit', { signal });
        process.exit(130);
      }
      logger.info('stopping: no new work; in-flight work finishes or is released', { signal });
      const force = setTimeout(() => {
        logger.error('shutdown bound exceeded: forcing exit');
        process.exit(1);
      }, config.scheduler.shutdownTimeoutMs + 5_000);
      force.unref();
      void sidecar
        .stop()
        .then(async () => {
          // The quick start's node goes with the process that started it.
          if (startedLocalNode) await stopLocalOpenSearch(localNode);
        })
        .then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return ExitCodes.OK;
}

function client(
  values: { url?: string; token?: string; basic?: string },
  options: { timeoutMs?: number } = {},
): ApiClient {
  let token = values.token ?? process.env.CM_API_TOKEN;
  if (
    token === undefined &&
    values.basic === undefined &&
    process.env.CM_API_BASIC === undefined &&
    existsSync(DEV_TOKEN_FILE)
  ) {
    token = readFileSync(DEV_TOKEN_FILE, 'utf8').trim();
  }
  const basic = values.basic ?? process.env.CM_API_BASIC;
  return new ApiClient({
    url: values.url ?? process.env.CM_API_URL ?? 'http://127.0.0.1:8080',
    ...(token !== undefined && { token }),
    ...(basic !== undefined && { basic }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });
}

interface SubmitAnswer {
  _index: string;
  commands: Array<{ request_id: number; orders: number; unresolved: string[]; write_state: string }>;
}

async function submit(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...CLIENT_OPTIONS,
      file: { type: 'string' },
      'target-type': { type: 'string' },
      'target-id': { type: 'string' },
      action: { type: 'string' },
      'action-version': { type: 'string' },
      args: { type: 'string' },
      timeout: { type: 'string', default: '300' },
      source: { type: 'string', default: 'Users/Services' },
      user: { type: 'string' },
      'max-concurrency': { type: 'string' },
      'max-errors': { type: 'string' },
      'idempotency-key': { type: 'string' },
    },
    strict: true,
  });
  let body: unknown;
  if (values.file !== undefined) {
    body = JSON.parse(readFileSync(values.file, 'utf8'));
  } else {
    if (!values['target-type'] || !values['target-id'] || !values.action) {
      console.error('submit needs --target-type, --target-id and --action (or --file)');
      return ExitCodes.USAGE;
    }
    const command: Record<string, unknown> = {
      source: values.source,
      user: values.user ?? 'admin',
      target: { type: values['target-type'], id: values['target-id'] },
      action: {
        name: values.action,
        args: values.args !== undefined ? (JSON.parse(values.args) as unknown) : {},
        ...(values['action-version'] !== undefined && { version: values['action-version'] }),
      },
      timeout: Number(values.timeout),
    };
    if (values['max-concurrency'] !== undefined) command.max_concurrency = Number(values['max-concurrency']);
    if (values['max-errors'] !== undefined) {
      const m = values['max-errors'];
      command.max_errors = /^\d+$/.test(m) ? Number(m) : m;
    }
    body = { commands: [command] };
  }
  const api = client(values);
  const key = values['idempotency-key'];
  const answer = await api.request<SubmitAnswer>(
    'POST',
    '/_plugins/_command_manager/commands?summary=true',
    body,
    key ? { 'idempotency-key': key } : {},
  );
  if (values.json) console.log(JSON.stringify(answer));
  else {
    for (const c of answer.commands) {
      console.log(
        `request ${c.request_id}: ${c.orders} order(s) in ${answer._index} (${c.write_state})` +
          (c.unresolved.length ? `; unresolved: ${c.unresolved.join(', ')}` : ''),
      );
    }
  }
  return ExitCodes.OK;
}

interface ProgressAnswer {
  request: { request_id: number; total_orders: number; write_state: string };
  counts: StatusCounts;
  progress: number;
  done: boolean;
  rollout: { stopped: boolean };
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...CLIENT_OPTIONS,
      watch: { type: 'boolean', default: false },
      'interval-ms': { type: 'string', default: '500' },
    },
    allowPositionals: true,
    strict: true,
  });
  const id = positionals[0];
  if (id === undefined || !/^\d+$/.test(id)) {
    console.error('status needs a numeric request id');
    return ExitCodes.USAGE;
  }
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 10) {
    console.error('--interval-ms must be an integer of at least 10');
    return ExitCodes.USAGE;
  }
  const api = client(values);
  const tty = process.stderr.isTTY === true && !values.json;
  for (;;) {
    const p = await api.request<ProgressAnswer>('GET', `/_plugins/_command_manager/requests/${id}`);
    const finished = requestFinished(p);
    const view = {
      requestId: p.request.request_id,
      total: p.request.total_orders,
      counts: p.counts,
      done: finished,
      rolloutStopped: p.rollout.stopped,
    };
    if (values.json) console.log(JSON.stringify(p));
    else if (tty) process.stderr.write(`\r${renderProgress(view)}\x1b[K`);
    else console.log(renderProgress(view));
    if (!values.watch || finished) {
      if (tty) process.stderr.write('\n');
      return finished && p.counts.failure > 0 && values.watch ? ExitCodes.ORDERS_FAILED : ExitCodes.OK;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface OrdersAnswer {
  orders: Array<{
    id: string;
    order: { command: { status: string; target: { type: string; id: string }; action: { name: string } } };
  }>;
  cursor?: string;
}

async function orders(args: string[]): Promise<number> {
  const filters = [
    'request-id',
    'status',
    'target-type',
    'target-id',
    'action',
    'source',
    'from',
    'to',
    'size',
    'cursor',
  ] as const;
  const { values } = parseArgs({
    args,
    options: {
      ...CLIENT_OPTIONS,
      ...Object.fromEntries(filters.map((f) => [f, { type: 'string' as const }])),
    },
    strict: true,
  });
  const query = new URLSearchParams();
  for (const f of filters) {
    const v = (values as unknown as Record<string, string | undefined>)[f];
    if (v !== undefined) query.set(f.replace(/-/g, '_'), v);
  }
  const answer = await client(values).request<OrdersAnswer>(
    'GET',
    `/_plugins/_command_manager/orders?${query.toString()}`,
  );
  if (values.json) console.log(JSON.stringify(answer));
  else {
    for (const o of answer.orders) {
      const c = o.order.command;
      console.log(`${o.id}\t${c.status}\t${c.target.type}:${c.target.id}\t${c.action.name}`);
    }
    if (answer.cursor) console.log(`(more: --cursor ${answer.cursor})`);
  }
  return ExitCodes.OK;
}

async function readStdin(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) data += String(chunk);
  return data.replace(/\r?\n$/, '');
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'setup':
        return await setupCommand(rest, ExitCodes);
      case 'submit':
        return await submit(rest);
      case 'status':
        return await status(rest);
      case 'orders':
        return await orders(rest);
      case 'claim':
        return await claimCommand(rest, { client, exitCodes: ExitCodes });
      case 'requests':
        return await requestsCommand(rest, client);
      case 'hash-password': {
        const { hashPassword } = await import('@command-manager/express');
        console.log(await hashPassword(await readStdin()));
        return ExitCodes.OK;
      }
      case 'new-token': {
        const token = generateApiToken();
        console.log(JSON.stringify({ token, token_sha256: hashApiToken(token) }));
        return ExitCodes.OK;
      }
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
