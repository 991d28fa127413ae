/**
 * `command-manager orders`: a page of orders (`GET /orders`) filtered by the options; one line per order
 * (id, status, target, action) and the cursor of the next page last. `--json` prints the API's answer.
 */
import { cliClient } from './cli-client';
import { parseListOptions } from './client-options';
import { ExitCodes } from './exit-codes';

export const ORDERS_USAGE = `  orders                        list orders: [--request-id N] [--status S] [--target-type T] [--target-id ID]
                                  [--action A] [--source S] [--from ISO] [--to ISO] [--size N] [--cursor C]`;

const FILTERS = [
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

interface OrdersAnswer {
  orders: Array<{
    id: string;
    order: { command: { status: string; target: { type: string; id: string }; action: { name: string } } };
  }>;
  cursor?: string;
}

export async function ordersCommand(args: string[]): Promise<number> {
  const { values, query } = parseListOptions(args, FILTERS);
  const answer = await cliClient(values).request<OrdersAnswer>(
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
