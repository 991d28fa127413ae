import { sleep } from '@command-manager-examples/support';
import { checkOrder, OrderErrors } from './internal/accept-order';
import type { AcceptedOrder, OrderError } from './internal/accept-order';

export interface PullConsumerOptions {
  /** The command manager (sidecar) to claim from, e.g. `http://127.0.0.1:8080`. */
  commandManagerUrl: string;
  /** Bearer token of a user with the `wazuh-server` role (claims, acks, reports results). */
  token: string;
  /** This server's consumer id; default `management-api`. */
  consumer?: string;
  /** Orders per claim; default 100. */
  size?: number;
  /** Lease of claimed orders; default 30,000. */
  leaseMs?: number;
  /** Long-poll of each claim; default 20,000. */
  waitMs?: number;
  /** Agents this server knows; orders for any other agent fail with Wazuh's 1701. All known when unset. */
  isKnownAgent?: (agentId: string) => boolean;
  /** Where accepted orders go (e.g. a Comms API's `enqueue`), as in push mode. */
  forward: (orders: AcceptedOrder[]) => Promise<void> | void;
  /** Progress lines; silent by default. */
  log?: (message: string) => void;
}

export interface PullConsumerHandle {
  /** Document ids handed on and acknowledged, in order; an order claimed again is handed on once. */
  received: string[];
  /** Orders refused (reported to the command manager as failed results). */
  rejected: Array<{ id: string; code: number; message: string }>;
  /** Stops claiming; waits for the batch in hand to be handed on and acked. Idempotent. */
  stop(): Promise<void>;
}

const API = '/_plugins/_command_manager';

interface ClaimedOrder {
  id: string;
  order: {
    delivery_timestamp: string;
    command: {
      request_id: number;
      order_id: number;
      source: string;
      user: string;
      target: { type: string; id: string };
      action: { name: string; args: Record<string, unknown>; version?: string };
      timeout: number;
    };
  };
}

/** A claimed order in the layout `/accept_commands` receives, so the same checks apply in both modes. */
function asAcceptCommands(o: ClaimedOrder): Record<string, unknown> {
  const c = o.order.command;
  return {
    document_id: o.id,
    request_id: c.request_id,
    order_id: c.order_id,
    source: c.source,
    user: c.user,
    target: c.target,
    action: c.action,
    timeout: c.timeout,
    deadline: o.order.delivery_timestamp,
  };
}

/**
 * The reference Management API in pull mode: instead of receiving `/accept_commands`, it claims due orders
 * from the command manager (`POST …/orders/_claim`, long-polling), checks each as in push mode, hands the
 * accepted ones to the Comms API, acknowledges them (`POST …/orders/_ack`: now `sent`), and reports the
 * refused ones as failed results. An order that could not be handed on is not acked: its lease lapses and
 * it is claimed again. Handing on is idempotent per order id (an order claimed again after a lost ack is
 * acked again, not forwarded twice).
 */
export function startPullConsumer(options: PullConsumerOptions): PullConsumerHandle {
  const log = options.log ?? (() => undefined);
  const consumer = options.consumer ?? 'management-api';
  const received: string[] = [];
  const rejected: PullConsumerHandle['rejected'] = [];
  const forwarded = new Set<string>();
  const stopping = new AbortController();

  /** `interruptible`: a stop cancels the call (a waiting claim); acks and reports run to their end. */
  async function call<T>(route: string, body: unknown, timeoutMs: number, interruptible = false): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`${route}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onStop = (): void => controller.abort(new Error('stopping'));
    if (interruptible) stopping.signal.addEventListener('abort', onStop, { once: true });
    let res: Response;
    try {
      res = await fetch(new URL(route, options.commandManagerUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } finally {
      clearTimeout(timer);
      stopping.signal.removeEventListener('abort', onStop);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  async function handle(claimed: ClaimedOrder[]): Promise<void> {
    const at = new Date();
    const accepted: AcceptedOrder[] = [];
    const refused: Array<{ id: string; error: OrderError }> = [];
    for (const o of claimed) {
      const checked = checkOrder(asAcceptCommands(o), at);
      if ('error' in checked) refused.push({ id: o.id, error: checked.error });
      else if (
        checked.order.target.type === 'agent' &&
        options.isKnownAgent &&
        !options.isKnownAgent(checked.order.target.id)
      ) {
        refused.push({ id: o.id, error: OrderErrors.UNKNOWN_AGENT });
      } else accepted.push(checked.order);
    }
    const fresh = accepted.filter((o) => !forwarded.has(o.document_id));
    // Not handed on: no ack; the leases lapse and the orders are claimed again.
    if (fresh.length > 0) await options.forward(fresh);
    for (const o of fresh) forwarded.add(o.document_id);
    if (accepted.length > 0) {
      const ack = await call<{ results: Array<{ id: string; outcome: string }> }>(
        `${API}/orders/_ack`,
        { consumer, orders: accepted.map((o) => o.document_id) },
        30_000,
      );
      for (const r of ack.results) if (r.outcome === 'applied') received.push(r.id);
    }
    if (refused.length > 0) {
      await call(
        `${API}/results`,
        {
          results: refused.map(({ id, error }) => ({
            id,
            status: 'failure',
            result: { code: error.code, message: error.message },
          })),
        },
        30_000,
      );
      for (const { id, error } of refused) rejected.push({ id, ...error });
    }
    log(`claimed ${claimed.length}: ${accepted.length} handed on and acked, ${refused.length} refused`);
  }

  const loop = (async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        const waitMs = options.waitMs ?? 20_000;
        const answer = await call<{ orders: ClaimedOrder[] }>(
          `${API}/orders/_claim`,
          { consumer, size: options.size ?? 100, lease_ms: options.leaseMs ?? 30_000, wait_ms: waitMs },
          waitMs + 30_000,
          true,
        );
        if (answer.orders.length > 0) await handle(answer.orders);
        failures = 0;
      } catch (e) {
        if (stopping.signal.aborted) break;
        failures += 1;
        log(`claim round failed: ${e instanceof Error ? e.message : String(e)}`);
        await sleep(Math.min(5000, 100 * 2 ** failures), stopping.signal, 'stopping').catch(() => undefined);
      }
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    received,
    rejected,
    stop: () => {
      stopped ??= (async () => {
        stopping.abort();
        await loop;
      })();
      return stopped;
    },
  };
}
