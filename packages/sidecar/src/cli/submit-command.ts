/**
 * `command-manager submit`: one command from options, or a Wazuh body from `--file`, posted to
 * `POST /commands?summary=true`; prints one line per request (`--json`: the API's answer).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cliClient } from './cli-client';
import { CLIENT_OPTIONS } from './client-options';
import { ExitCodes } from './exit-codes';

export const SUBMIT_USAGE = `  submit                        submit one command: --target-type agent|group|server --target-id ID
                                  --action NAME [--args JSON] [--action-version V] [--timeout S]
                                  [--source S] [--user U] [--max-concurrency N] [--max-errors N|N%]
                                or a Wazuh body: --file commands.json; [--idempotency-key K]`;

interface SubmitAnswer {
  _index: string;
  commands: Array<{ request_id: number; orders: number; unresolved: string[]; write_state: string }>;
}

export async function submitCommand(args: string[]): Promise<number> {
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
  const api = cliClient(values);
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
