import { parseArgs } from 'node:util';
import type { ApiClient } from './api-client';

interface ClaimAnswer {
  orders: Array<{
    id: string;
    order: {
      delivery_timestamp: string;
      command: { target: { type: string; id: string }; action: { name: string }; request_id: number };
    };
  }>;
  lease_expires_at?: string;
}

interface AckAnswer {
  results: Array<{ id: string; outcome: string; message?: string; status?: string }>;
}

export interface ClaimCommandDeps {
  /** The CLI's client, from the common client options; `timeoutMs` covers a long-poll. */
  client(values: { url?: string; token?: string; basic?: string }, options: { timeoutMs: number }): ApiClient;
  exitCodes: { OK: number; USAGE: number };
}

export const CLAIM_USAGE = `  claim                         claim due orders as a pull consumer and print them (for debugging a server):
                                  --consumer ID [--size N] [--lease-ms M] [--wait-ms W]
                                  [--target-type T --target-id ID] [--ack: mark them sent]`;

/**
 * `command-manager claim`: what a server in pull mode does, by hand. Claimed orders stay leased to the
 * consumer for `--lease-ms`; without `--ack` they become claimable again after it, so looking is harmless
 * beyond that delay.
 */
export async function claimCommand(args: string[], deps: ClaimCommandDeps): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      basic: { type: 'string' },
      json: { type: 'boolean', default: false },
      consumer: { type: 'string' },
      size: { type: 'string', default: '10' },
      'lease-ms': { type: 'string', default: '30000' },
      'wait-ms': { type: 'string', default: '0' },
      'target-type': { type: 'string' },
      'target-id': { type: 'string' },
      ack: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.consumer === undefined) {
    console.error('claim needs --consumer');
    return deps.exitCodes.USAGE;
  }
  if ((values['target-type'] === undefined) !== (values['target-id'] === undefined)) {
    console.error('--target-type and --target-id go together');
    return deps.exitCodes.USAGE;
  }
  const numbers = { size: values.size, lease_ms: values['lease-ms'], wait_ms: values['wait-ms'] };
  for (const [name, v] of Object.entries(numbers)) {
    if (!/^\d{1,9}$/.test(v)) {
      console.error(`--${name.replace('_', '-')} must be a whole number`);
      return deps.exitCodes.USAGE;
    }
  }
  const waitMs = Number(values['wait-ms']);
  const api = deps.client(values, { timeoutMs: waitMs + 30_000 });
  // The server validates the bounds and names a bad field; the CLI only passes them on.
  const answer = await api.request<ClaimAnswer>('POST', '/_plugins/_command_manager/orders/_claim', {
    consumer: values.consumer,
    size: Number(values.size),
    lease_ms: Number(values['lease-ms']),
    wait_ms: waitMs,
    ...(values['target-type'] !== undefined && {
      target: { type: values['target-type'], id: values['target-id'] },
    }),
  });
  let acked: AckAnswer | undefined;
  if (values.ack && answer.orders.length > 0) {
    acked = await api.request<AckAnswer>('POST', '/_plugins/_command_manager/orders/_ack', {
      consumer: values.consumer,
      orders: answer.orders.map((o) => o.id),
    });
  }
  if (values.json) {
    console.log(JSON.stringify(acked ? { ...answer, ack: acked } : answer));
    return deps.exitCodes.OK;
  }
  if (answer.orders.length === 0) console.log('no order due');
  const outcome = new Map(acked?.results.map((r) => [r.id, r.outcome]));
  for (const o of answer.orders) {
    const c = o.order.command;
    const ack = acked ? `\t${outcome.get(o.id) ?? '?'}` : '';
    console.log(
      `${o.id}\t${c.target.type}:${c.target.id}\t${c.action.name}\tdeadline ${o.order.delivery_timestamp}${ack}`,
    );
  }
  if (answer.orders.length > 0 && !acked) {
    console.log(`leased to ${values.consumer} until ${answer.lease_expires_at ?? '?'} (not acked)`);
  }
  return deps.exitCodes.OK;
}
