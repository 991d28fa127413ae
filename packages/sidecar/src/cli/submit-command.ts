/**
 * `command-manager submit`: one command from options, or a Wazuh body from `--file`, posted to
 * `POST /commands?summary=true`; prints one line per request (`--json`: the API's answer). `--dry-run`
 * posts to `?dry_run=true` instead (nothing written) and prints per command what would be written, then
 * the plan token; `--plan-token T` sends the body only if it still resolves to the targets of that dry run.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cliClient } from './cli-client';
import { CLIENT_OPTIONS } from './client-options';
import { ExitCodes } from './exit-codes';

export const SUBMIT_USAGE = `  submit                        submit one command: --target-type agent|group|server|agents --target-id ID
                                  (agents: comma-separated ids) --action NAME [--args JSON]
                                  [--action-version V] [--timeout S] [--delivery-window S]
                                  [--membership snapshot|live]
                                  [--source S] [--user U]
                                  [--max-concurrency N] [--max-errors N|N%]
                                  [--agent-status S,S...] [--exclude-agents ID,ID...]
                                or a Wazuh body: --file commands.json; [--idempotency-key K]
                                [--dry-run: write nothing, print the orders and a plan token]
                                [--plan-token T: send only if the targets are those of that dry run]`;

interface LeftOut {
  excluded?: number;
  ineligible?: number;
}

interface SubmitAnswer {
  _index: string;
  commands: Array<
    { request_id: number; orders: number; unresolved: string[]; write_state: string } & LeftOut
  >;
}

interface PlanAnswer {
  plan_token: string;
  commands: Array<{ orders: number; sample: string[]; unresolved: string[] } & LeftOut>;
}

const list = (v: string): string[] => v.split(',').filter((s) => s.length > 0);

/** `; unresolved: …; excluded 2, ineligible 1` (only what is there). */
function leftOutText(c: { unresolved: string[] } & LeftOut): string {
  let text = c.unresolved.length ? `; unresolved: ${c.unresolved.join(', ')}` : '';
  if (c.excluded !== undefined) text += `; excluded ${c.excluded}, ineligible ${c.ineligible ?? 0}`;
  return text;
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
      'delivery-window': { type: 'string' },
      membership: { type: 'string' },
      source: { type: 'string', default: 'Users/Services' },
      user: { type: 'string' },
      'max-concurrency': { type: 'string' },
      'max-errors': { type: 'string' },
      'idempotency-key': { type: 'string' },
      'agent-status': { type: 'string' },
      'exclude-agents': { type: 'string' },
      'dry-run': { type: 'boolean' },
      'plan-token': { type: 'string' },
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
      target:
        values['target-type'] === 'agents'
          ? { type: 'agents', ids: list(values['target-id']) }
          : { type: values['target-type'], id: values['target-id'] },
      action: {
        name: values.action,
        args: values.args !== undefined ? (JSON.parse(values.args) as unknown) : {},
        ...(values['action-version'] !== undefined && { version: values['action-version'] }),
      },
      timeout: Number(values.timeout),
    };
    if (values['delivery-window'] !== undefined)
      command.delivery_window_s = Number(values['delivery-window']);
    if (values.membership !== undefined) command.membership = values.membership;
    if (values['max-concurrency'] !== undefined) command.max_concurrency = Number(values['max-concurrency']);
    if (values['max-errors'] !== undefined) {
      const m = values['max-errors'];
      command.max_errors = /^\d+$/.test(m) ? Number(m) : m;
    }
    if (values['agent-status'] !== undefined) command.agent_status = list(values['agent-status']);
    if (values['exclude-agents'] !== undefined) command.exclude_agents = list(values['exclude-agents']);
    body = { commands: [command] };
  }
  const api = cliClient(values);
  const path = '/_plugins/_command_manager/commands';
  if (values['dry-run']) {
    const plan = await api.request<PlanAnswer>('POST', `${path}?dry_run=true`, body, {});
    if (values.json) console.log(JSON.stringify(plan));
    else {
      plan.commands.forEach((c, i) => {
        const sample = c.sample.length
          ? `: ${c.sample.join(', ')}${c.orders > c.sample.length ? ', …' : ''}`
          : '';
        console.log(`command ${i}: ${c.orders} order(s) would be written${sample}${leftOutText(c)}`);
      });
      console.log(`plan token: ${plan.plan_token}`);
    }
    return ExitCodes.OK;
  }
  const key = values['idempotency-key'];
  const planToken = values['plan-token'];
  const answer = await api.request<SubmitAnswer>('POST', `${path}?summary=true`, body, {
    ...(key && { 'idempotency-key': key }),
    ...(planToken && { 'plan-token': planToken }),
  });
  if (values.json) console.log(JSON.stringify(answer));
  else {
    for (const c of answer.commands) {
      console.log(
        `request ${c.request_id}: ${c.orders} order(s) in ${answer._index} (${c.write_state})${leftOutText(c)}`,
      );
    }
  }
  return ExitCodes.OK;
}
