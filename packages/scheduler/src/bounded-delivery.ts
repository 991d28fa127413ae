/**
 * Hands a claimed batch to the Management API in calls bounded by bytes as well as by count. Claims read
 * orders without `command.action.args` (the `OrderStore` port), so that a batch of orders with large args
 * never sits in the heap whole; the args are read here, just before each call, as many as fit in
 * `maxBytes` (`OrderStore.readArgs`). Those of the first call are handed back with the verdicts (at most
 * `maxBytes` of them), so that the verdicts of those orders can replace the stored documents whole, which
 * costs the store less than merging into them; the others are dropped once their call is answered.
 */
import type { OrderStore, StoredOrder } from '@command-manager/core';
import type { DeliverOptions, OrderDelivery, OrderVerdict } from './order-delivery';

export interface BoundedDeliveryOptions extends DeliverOptions {
  /** Bytes of args one `/accept_commands` call carries at most (an order's own args may not exceed it). */
  maxBytes: number;
}

export interface BoundedDeliveryResult {
  /** One per order given; an order whose args alone are over `maxBytes` fails (it can never be sent). */
  verdicts: Map<string, OrderVerdict>;
  /** The args read by the first call, by order id (at most `maxBytes` of them). */
  args: Map<string, Record<string, unknown>>;
}

export async function deliverWithArgs(
  orders: OrderStore,
  delivery: OrderDelivery,
  batch: readonly StoredOrder[],
  options: BoundedDeliveryOptions,
): Promise<BoundedDeliveryResult> {
  const verdicts = new Map<string, OrderVerdict>();
  let kept: Map<string, Record<string, unknown>> | undefined;
  let rest = batch;
  // How many ids to offer the next read: twice what the last one settled, so that a batch of large orders
  // does not make every read start from the whole batch and halve its way down (each try costs the store
  // the whole answer it then refuses).
  let window = rest.length;
  while (rest.length > 0) {
    if (options.signal?.aborted) {
      for (const s of rest) verdicts.set(s.id, { kind: 'retry', reason: 'delivery aborted (shutdown)' });
      break;
    }
    const offered = rest.slice(0, window).map((s) => s.id);
    const read = await orders.readArgs({ ids: offered, maxBytes: options.maxBytes });
    kept ??= read.args;
    const consumed = Math.max(1, read.consumed);
    window = Math.max(1, consumed * 2);
    const chunk = rest.slice(0, consumed);
    rest = rest.slice(consumed);
    const tooLarge = new Set(read.tooLarge);
    const ready: StoredOrder[] = [];
    for (const s of chunk) {
      const args = read.args.get(s.id);
      if (tooLarge.has(s.id)) {
        verdicts.set(s.id, {
          kind: 'failed',
          reason: `its args are larger than the ${options.maxBytes} bytes one delivery may carry`,
        });
      } else if (args === undefined) {
        verdicts.set(s.id, { kind: 'retry', reason: 'the order could not be read' });
      } else {
        const { command } = s.order;
        ready.push({
          ...s,
          order: { ...s.order, command: { ...command, action: { ...command.action, args } } },
        });
      }
    }
    if (ready.length === 0) continue;
    const answered = await delivery.deliver(ready, options.signal ? { signal: options.signal } : {});
    for (const [id, verdict] of answered) verdicts.set(id, verdict);
  }
  return { verdicts, args: kept ?? new Map() };
}
