/**
 * Hands a claimed batch to the Management API in calls bounded by bytes as well as by count. A claim reads
 * orders with their `command.action.args` as far as its answer's byte bound allows (`OrderStore.findDue`);
 * an order read without them (the claim by id, or an answer too large with them) has them read here, just
 * before its call, as many as fit in `maxBytes` (`OrderStore.readArgs`). Each call carries at most
 * `maxBytes` of args. The args of the orders delivered are handed back with the verdicts (those read here
 * only from the first read, at most `maxBytes`), so that those orders' verdicts can replace the stored
 * documents whole, which costs the store less than merging into them.
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
  /** The stored args of orders delivered, by order id. */
  args: Map<string, Record<string, unknown>>;
}

type Args = Record<string, unknown>;

function tooLargeVerdict(maxBytes: number): OrderVerdict {
  return { kind: 'failed', reason: `its args are larger than the ${maxBytes} bytes one delivery may carry` };
}

function withArgs(s: StoredOrder, args: Args): StoredOrder {
  const { command } = s.order;
  return { ...s, order: { ...s.order, command: { ...command, action: { ...command.action, args } } } };
}

export async function deliverWithArgs(
  orders: OrderStore,
  delivery: OrderDelivery,
  batch: readonly StoredOrder[],
  options: BoundedDeliveryOptions,
): Promise<BoundedDeliveryResult> {
  const verdicts = new Map<string, OrderVerdict>();
  const args = new Map<string, Args>();
  const aborted = (left: readonly StoredOrder[]): boolean => {
    if (!options.signal?.aborted) return false;
    for (const s of left) verdicts.set(s.id, { kind: 'retry', reason: 'delivery aborted (shutdown)' });
    return true;
  };
  const send = async (ready: StoredOrder[]): Promise<void> => {
    if (ready.length === 0) return;
    const answered = await delivery.deliver(ready, options.signal ? { signal: options.signal } : {});
    for (const [id, verdict] of answered) verdicts.set(id, verdict);
  };

  // Orders that carry their args: in calls of at most `maxBytes` of them.
  const carrying = batch.filter((s) => s.order.command.action.args !== undefined);
  let chunk: StoredOrder[] = [];
  let bytes = 0;
  for (let i = 0; i < carrying.length; i++) {
    const s = carrying[i] as StoredOrder;
    const own = Buffer.byteLength(JSON.stringify(s.order.command.action.args));
    if (own > options.maxBytes) {
      verdicts.set(s.id, tooLargeVerdict(options.maxBytes));
      continue;
    }
    if (bytes + own > options.maxBytes && chunk.length > 0) {
      if (aborted(carrying.slice(i - chunk.length))) return { verdicts, args };
      await send(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(s);
    bytes += own;
    args.set(s.id, s.order.command.action.args);
  }
  if (chunk.length > 0 && !aborted(chunk)) await send(chunk);
  if (options.signal?.aborted) {
    aborted(batch.filter((s) => !verdicts.has(s.id)));
    return { verdicts, args };
  }

  // The others: their args read just before each call, as many as fit.
  let rest = batch.filter((s) => s.order.command.action.args === undefined);
  let kept = false;
  // How many ids to offer the next read: twice what the last one settled, so that a batch of large orders
  // does not make every read start from the whole batch and halve its way down (each try costs the store
  // the whole answer it then refuses).
  let window = rest.length;
  while (rest.length > 0) {
    if (aborted(rest)) break;
    const offered = rest.slice(0, window).map((s) => s.id);
    const read = await orders.readArgs({ ids: offered, maxBytes: options.maxBytes });
    const consumed = Math.max(1, read.consumed);
    window = Math.max(1, consumed * 2);
    const part = rest.slice(0, consumed);
    rest = rest.slice(consumed);
    const tooLarge = new Set(read.tooLarge);
    const ready: StoredOrder[] = [];
    for (const s of part) {
      const own = read.args.get(s.id);
      if (tooLarge.has(s.id)) verdicts.set(s.id, tooLargeVerdict(options.maxBytes));
      else if (own === undefined)
        verdicts.set(s.id, { kind: 'retry', reason: 'the order could not be read' });
      else {
        ready.push(withArgs(s, own));
        // Only the first read's args are kept for the verdicts: at most `maxBytes` of them.
        if (!kept) args.set(s.id, own);
      }
    }
    kept = true;
    await send(ready);
  }
  return { verdicts, args };
}
