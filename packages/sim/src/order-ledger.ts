/**
 * The orders index of the simulated cluster: core's in-memory twin, with every applied write also noted in a
 * ledger (the truth the invariants read, without going through any process's faults). A terminal order's
 * state is remembered the first time it is seen; a later write that changes it is a violation unless it is the
 * lifecycle's one exit from a terminal state (`markDeliveredAfterStop`: a stopped order that did go out).
 */
import { InMemoryOrderStore, isStopped, isTerminal } from '@command-manager/core';
import type {
  ConditionalWrite,
  Order,
  SaveOrdersOptions,
  SaveOrdersResult,
  WriteOutcome,
} from '@command-manager/core';

export interface LedgerEntry {
  id: string;
  requestId: number;
  status: Order['command']['status'];
  /**
   * Deadline (ms since the epoch, indexer time) after which a pending or sent order must have been decided:
   * its `delivery_timestamp`, or when it was written if that is later (a writer's clock may be off).
   */
  deadlineMs: number;
  /** The terminal state first written, as JSON. */
  terminal?: string;
  /** Whether that terminal state was a stop (cancel, rollout stop). */
  stopped?: boolean;
  /** Times the stop was undone because the order had gone out. */
  deliveredAfterStop: number;
}

export interface TerminalChange {
  id: string;
  before: string;
  after: string;
}

function terminalKey(o: Order): string {
  return JSON.stringify([o.command.status, o.command.result, o.scheduling.completed_at]);
}

export class LedgerOrderStore extends InMemoryOrderStore {
  /** The indexer's time (ms since the epoch). */
  constructor(private readonly indexerNowMs: () => number) {
    super();
  }

  readonly entries = new Map<string, LedgerEntry>();
  readonly terminalChanges: TerminalChange[] = [];
  /** Orders written since the invariants last looked. */
  readonly touched = new Set<string>();
  /** Orders pending or sent. */
  live = 0;
  /** Status counts per request, kept current on every write. */
  readonly counts = new Map<number, Record<Order['command']['status'], number>>();

  override async saveOrders(
    orders: AsyncIterable<Order> | Iterable<Order>,
    options?: SaveOrdersOptions,
  ): Promise<SaveOrdersResult> {
    const list: Order[] = [];
    for await (const o of orders) list.push(o);
    const result = await super.saveOrders(list, options);
    const failed = new Set(result.failed.map((f) => f.id));
    for (const o of list) {
      const id = `${o.command.request_id}-${o.command.order_id}`;
      if (!failed.has(id) && !this.entries.has(id)) this.note(id, o);
    }
    return result;
  }

  override async writeConditional(
    writes: readonly ConditionalWrite[],
    options?: { searchable?: boolean },
  ): Promise<WriteOutcome[]> {
    const outcomes = await super.writeConditional(writes);
    void options;
    outcomes.forEach((outcome, i) => {
      const w = writes[i];
      if (outcome.ok && w) this.note(w.id, w.order);
    });
    return outcomes;
  }

  private note(id: string, order: Order): void {
    const c = order.command;
    const before = this.entries.get(id);
    const entry: LedgerEntry = before ?? {
      id,
      requestId: c.request_id,
      status: c.status,
      deadlineMs: Math.max(Date.parse(order.delivery_timestamp), this.indexerNowMs()),
      deliveredAfterStop: 0,
    };
    const counts = this.counts.get(c.request_id) ?? { pending: 0, sent: 0, success: 0, failure: 0 };
    this.counts.set(c.request_id, counts);
    if (before) counts[before.status]--;
    counts[c.status]++;
    if (before && !isTerminal(before.status)) this.live--;
    if (!isTerminal(c.status)) this.live++;
    if (before?.terminal !== undefined) {
      const after = terminalKey(order);
      if (before.stopped && c.status === 'sent' && before.deliveredAfterStop === 0) {
        // The lifecycle's one exit from a terminal state; it may happen once.
        entry.deliveredAfterStop++;
        entry.terminal = undefined;
        entry.stopped = false;
      } else if (after !== before.terminal) {
        this.terminalChanges.push({ id, before: before.terminal, after });
      }
    }
    entry.status = c.status;
    entry.deadlineMs = Math.max(entry.deadlineMs, Date.parse(order.delivery_timestamp));
    if (isTerminal(c.status) && entry.terminal === undefined) {
      entry.terminal = terminalKey(order);
      entry.stopped = isStopped(order);
    }
    this.entries.set(id, entry);
    this.touched.add(id);
  }
}
