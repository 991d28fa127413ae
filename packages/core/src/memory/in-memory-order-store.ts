import { isClaimable, isClaimableById } from '../claim-rule';
import { CommandManagerError, ErrorCodes } from '../errors';
import { orderDocumentId, emptyCounts, TERMINAL_STATUSES } from '../model';
import type { Order, OrderStatus, StatusCounts, StoredOrder } from '../model';
import { isSameOrder, orderIdTaken } from '../order-identity';
import { partitionOfOrder } from '../partitions';
import { systemClock } from '../ports';
import type {
  ClaimByIdsRequest,
  ClaimRequest,
  Clock,
  ConditionalWrite,
  FailureBreakdown,
  FindDueRequest,
  FindDueResult,
  GetOrdersOptions,
  OrderFilter,
  OrderStore,
  Page,
  PageRequest,
  ReadArgsRequest,
  ReadArgsResult,
  SaveOrdersOptions,
  SaveOrdersResult,
  WriteOutcome,
} from '../ports';
import { clone } from './internal/clone';
import { decodePageCursor, encodePageCursor } from '../page-cursor';
import { checkPageSize } from './internal/page-size';

export interface InMemoryOrderStoreOptions {
  /** Stamps archive copies (`archivedAt`); claim and overdue queries take `now` explicitly instead. */
  clock?: Clock;
  /** Orders per save batch (`onProgress` is called after each); default 500. */
  batchSize?: number;
  /**
   * Fault injection for tests of partial writes: return a reason to make `saveOrders` fail that order
   * (it is then reported in `failed`, as a bulk item error would be), or undefined to store it.
   */
  rejectOrder?: (order: Order) => string | undefined;
  /**
   * Bytes of orders (as JSON) one listing page returns at most, like the OpenSearch adapter's bound on one
   * answer: a page of large orders holds fewer than `size` (at least one). Default 8 MiB.
   */
  maxResponseBytes?: number;
}

/** A copy kept by `removeOrders(…, 'archive')`. */
export interface ArchivedOrder {
  order: Order;
  /** ISO-8601 time of archiving, from the injected clock. */
  archivedAt: string;
}

interface Entry {
  /** Store-wide sequence number of the last write of this document (the revision). */
  seq: number;
  order: Order;
}

type SortKey = number[];

/**
 * The in-memory twin of the orders stream, for unit tests and embedding. It follows the same contract as
 * the OpenSearch adapter (`test/contract/order-store-contract.ts`):
 *
 * - Revisions are opaque strings; here a store-wide write sequence (like OpenSearch's `_seq_no`), so a
 *   document deleted and created again never reuses a revision that an old reader may still hold.
 * - `listOrders` sorts by `command.request_id` descending, then `command.order_id` ascending; cursors
 *   are search_after positions (the last item's sort key), so paging never repeats or skips an item that
 *   stays in the store. A cursor is returned only when more items follow.
 * - `claimDue` and `claimByIds` follow the claim rule (`claim-rule.ts`); `claimByIds` checks it for the ids
 *   given, in the order given.
 * - `claimDue` and `findOverdue` take the oldest first: `@timestamp` (resp. `delivery_timestamp`)
 *   ascending, then request id, then order id. `findDue` takes the order least recently written first (the
 *   write sequence, as OpenSearch's `_seq_no`), then request id, then order id. `findTerminalBefore` sorts
 *   by `scheduling.completed_at` ascending, then request id, then order id.
 *
 * Every operation runs synchronously inside its promise, so each is atomic with respect to others: two
 * claimers never receive the same order.
 */
export class InMemoryOrderStore implements OrderStore {
  private readonly docs = new Map<string, Entry>();
  private readonly archive = new Map<string, ArchivedOrder>();
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly rejectOrder: ((order: Order) => string | undefined) | undefined;
  private readonly maxResponseBytes: number;
  private seq = 0;

  constructor(options: InMemoryOrderStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 500));
    this.rejectOrder = options.rejectOrder;
    this.maxResponseBytes = Math.max(1, Math.floor(options.maxResponseBytes ?? 8 * 1024 * 1024));
  }

  /** Copies of archived orders by document id (inspectable by tests; the archive index in OpenSearch). */
  get archived(): ReadonlyMap<string, ArchivedOrder> {
    return new Map([...this.archive].map(([id, a]) => [id, clone(a)]));
  }

  /** Number of orders stored (archived ones excluded). */
  get size(): number {
    return this.docs.size;
  }

  async init(): Promise<void> {
    // Nothing to set up; idempotent by construction.
  }

  async saveOrders(
    orders: AsyncIterable<Order> | Iterable<Order>,
    options: SaveOrdersOptions = {},
  ): Promise<SaveOrdersResult> {
    const result: SaveOrdersResult = { written: 0, existing: 0, failed: [] };
    let batch: Order[] = [];
    const flush = (): void => {
      for (const order of batch) this.saveOne(order, result);
      batch = [];
      // Progress is cumulative over the whole call, so the last report equals the result.
      options.onProgress?.({
        written: result.written,
        existing: result.existing,
        failed: result.failed.length,
      });
    };
    for await (const order of orders) {
      batch.push(order);
      if (batch.length >= this.batchSize) flush();
    }
    if (batch.length > 0) flush();
    return result;
  }

  private saveOne(order: Order, result: SaveOrdersResult): void {
    const requestId = order.command?.request_id;
    const orderId = order.command?.order_id;
    if (!Number.isSafeInteger(requestId) || !Number.isSafeInteger(orderId)) {
      result.failed.push({
        id: `${String(requestId)}-${String(orderId)}`,
        reason: 'order has no integer request_id/order_id',
      });
      return;
    }
    const id = orderDocumentId(requestId, orderId);
    // Create-only: a resumed or retried write finds the deterministic id taken and never overwrites it.
    const stored = this.docs.get(id);
    if (stored !== undefined) {
      // A repeated write of this order, or another request's order when the request id was handed out twice.
      if (isSameOrder(stored.order, order)) result.existing++;
      else result.failed.push(orderIdTaken(id));
      return;
    }
    const reason = this.rejectOrder?.(order);
    if (reason !== undefined) {
      result.failed.push({ id, reason });
      return;
    }
    this.docs.set(id, { seq: ++this.seq, order: clone(order) });
    result.written++;
  }

  async getOrder(id: string): Promise<StoredOrder | undefined> {
    const entry = this.docs.get(id);
    return entry && this.bounded(toStored(id, entry));
  }

  /**
   * An order larger than `maxResponseBytes` alone is read without its args, and one still larger without
   * them cannot be read (STORE_UNAVAILABLE naming it), as the OpenSearch adapter does.
   */
  private bounded(stored: StoredOrder): StoredOrder {
    if (jsonBytes(stored.order) <= this.maxResponseBytes) return stored;
    const without = withoutArgs(stored);
    if (jsonBytes(without.order) > this.maxResponseBytes) {
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        `order ${stored.id} of the orders index is larger than ${this.maxResponseBytes} bytes without its args; it cannot be read`,
      );
    }
    return without;
  }

  /** The known orders among `ids`, in the order asked; unknown ids are absent. */
  async getOrders(ids: readonly string[], options: GetOrdersOptions = {}): Promise<StoredOrder[]> {
    const out: StoredOrder[] = [];
    for (const id of ids) {
      const entry = this.docs.get(id);
      if (entry) {
        out.push(
          options.args === false ? withoutArgs(toStored(id, entry)) : this.bounded(toStored(id, entry)),
        );
      }
    }
    return out;
  }

  async listOrders(filter: OrderFilter, page: PageRequest): Promise<Page<StoredOrder>> {
    checkPageSize(page.size);
    // Sort key [-request_id, order_id] ascending == request_id desc, order_id asc.
    const after = page.cursor === undefined ? undefined : decodePageCursor(page.cursor, ['number', 'number']);
    const afterKey = after && [-(after[0] as number), after[1] as number];
    const matchFn = compileFilter(filter);
    const keyed = this.select(
      (o) => matchFn(o),
      (o) => [-o.command.request_id, o.command.order_id],
      afterKey,
    );
    return this.page(keyed, page.size, (o) => [o.command.request_id, o.command.order_id]);
  }

  async countByStatus(filter: OrderFilter): Promise<StatusCounts> {
    const counts = emptyCounts();
    const matchFn = compileFilter(filter);
    for (const { order } of this.docs.values()) {
      if (matchFn(order) && order.command.status in counts) counts[order.command.status]++;
    }
    return counts;
  }

  async countByRequests(requestIds: readonly number[]): Promise<Map<number, StatusCounts>> {
    const wanted = new Set(requestIds);
    const result = new Map<number, StatusCounts>();
    for (const { order } of this.docs.values()) {
      const id = order.command.request_id;
      if (!wanted.has(id)) continue;
      let counts = result.get(id);
      if (!counts) result.set(id, (counts = emptyCounts()));
      if (order.command.status in counts) counts[order.command.status]++;
    }
    return result;
  }

  async failureBreakdown(requestId: number, limit: number): Promise<FailureBreakdown> {
    const byCode = new Map<number, { count: number; orderId: number; message: string }>();
    let total = 0;
    for (const { order } of this.docs.values()) {
      const c = order.command;
      if (c.request_id !== requestId || c.status !== 'failure') continue;
      total++;
      if (!c.result) continue;
      const seen = byCode.get(c.result.code);
      if (!seen) byCode.set(c.result.code, { count: 1, orderId: c.order_id, message: c.result.message });
      else {
        seen.count++;
        if (c.order_id < seen.orderId)
          Object.assign(seen, { orderId: c.order_id, message: c.result.message });
      }
    }
    const codes = [...byCode.entries()]
      .sort(([a, x], [b, y]) => y.count - x.count || a - b)
      .slice(0, Math.max(0, limit))
      .map(([code, { count, message }]) => ({ code, count, message }));
    return { codes, other: total - codes.reduce((n, c) => n + c.count, 0) };
  }

  async writeConditional(writes: readonly ConditionalWrite[]): Promise<WriteOutcome[]> {
    // Applied in order, like a bulk request: a second write of one id with the same rev conflicts.
    return writes.map((w) => {
      const entry = this.docs.get(w.id);
      if (!entry) return { id: w.id, ok: false, reason: 'not_found' };
      if (String(entry.seq) !== w.rev) return { id: w.id, ok: false, reason: 'conflict' };
      entry.seq = ++this.seq;
      // `command.action.args` is written once, at save: the writer may have read the order without it.
      const next = clone(w.order);
      if (!w.withArgs)
        next.command.action = { ...next.command.action, args: entry.order.command.action.args };
      entry.order = next;
      return { id: w.id, ok: true, rev: String(entry.seq) };
    });
  }

  async claimDue(request: ClaimRequest): Promise<StoredOrder[]> {
    if (request.limit <= 0) return [];
    const now = request.now.getTime();
    const requestIds = request.requestIds && new Set(request.requestIds);
    const target = request.target;
    const due = this.select(
      (o) =>
        (requestIds === undefined || requestIds.has(o.command.request_id)) &&
        (target === undefined ||
          (o.command.target.type === target.type && o.command.target.id === target.id)) &&
        isClaimable(o, now),
      (o) => [time(o['@timestamp']), o.command.request_id, o.command.order_id],
    ).slice(0, request.limit);
    return due.map(({ id, entry }) => withoutArgs(this.lease(id, entry, request)));
  }

  async claimByIds(request: ClaimByIdsRequest): Promise<StoredOrder[]> {
    const now = request.now.getTime();
    const out: StoredOrder[] = [];
    // A repeated id is claimed once: its second occurrence finds the lease just written.
    for (const id of request.ids) {
      const entry = this.docs.get(id);
      if (entry && isClaimableById(entry.order, now)) out.push(withoutArgs(this.lease(id, entry, request)));
    }
    return out;
  }

  async findDue(request: FindDueRequest): Promise<FindDueResult> {
    if (request.limit <= 0 || request.partitions.length === 0) return { orders: [] };
    const now = request.now.getTime();
    const partitions = new Set(request.partitions);
    const after =
      request.after === undefined
        ? undefined
        : (decodePageCursor(request.after, ['number', 'number', 'number']) as SortKey);
    const due = this.select(
      (o) => partitions.has(partitionOfOrder(o)) && isClaimable(o, now),
      (o, seq) => [seq, o.command.request_id, o.command.order_id],
      after,
    ).slice(0, request.limit);
    const orders = due.map(({ id, entry }) =>
      request.args ? toStored(id, entry) : withoutArgs(toStored(id, entry)),
    );
    const last = due[due.length - 1];
    return due.length === request.limit && last ? { orders, next: encodePageCursor(last.key) } : { orders };
  }

  private lease(
    id: string,
    entry: Entry,
    request: { owner: string; leaseMs: number; now: Date },
  ): StoredOrder {
    entry.order.scheduling.lease_owner = request.owner;
    entry.order.scheduling.lease_expires_at = new Date(request.now.getTime() + request.leaseMs).toISOString();
    entry.seq = ++this.seq;
    return toStored(id, entry);
  }

  async findOverdue(now: Date, limit: number): Promise<StoredOrder[]> {
    if (limit <= 0) return [];
    const t = now.getTime();
    return this.select(
      (o) =>
        (o.command.status === 'pending' || o.command.status === 'sent') && time(o.delivery_timestamp) < t,
      (o) => [time(o.delivery_timestamp), o.command.request_id, o.command.order_id],
    )
      .slice(0, limit)
      .map(({ id, entry }) => withoutArgs(toStored(id, entry)));
  }

  async readArgs(request: ReadArgsRequest): Promise<ReadArgsResult> {
    const args = new Map<string, Record<string, unknown>>();
    let bytes = 0;
    let consumed = 0;
    for (const id of request.ids) {
      const entry = this.docs.get(id);
      const value = entry?.order.command.action.args;
      const size = value === undefined ? 0 : jsonBytes(value);
      if (consumed > 0 && bytes + size > request.maxBytes) break;
      consumed++;
      if (value === undefined) continue;
      if (size > request.maxBytes) return { consumed, args, tooLarge: [id] };
      bytes += size;
      args.set(id, clone(value));
    }
    return { consumed, args, tooLarge: [] };
  }

  async findTerminalBefore(before: Date, page: PageRequest): Promise<Page<StoredOrder>> {
    checkPageSize(page.size);
    const t = before.getTime();
    const after =
      page.cursor === undefined ? undefined : decodePageCursor(page.cursor, ['number', 'number', 'number']);
    const keyOf = (o: Order): SortKey => [
      time(o.scheduling.completed_at),
      o.command.request_id,
      o.command.order_id,
    ];
    const keyed = this.select(
      (o) =>
        TERMINAL_STATUSES.includes(o.command.status) &&
        o.scheduling.completed_at != null &&
        time(o.scheduling.completed_at) < t,
      keyOf,
      after as number[] | undefined,
    );
    return this.page(keyed, page.size, keyOf);
  }

  async removeOrders(orders: readonly StoredOrder[], mode: 'archive' | 'delete'): Promise<WriteOutcome[]> {
    return orders.map((o) => {
      const entry = this.docs.get(o.id);
      if (!entry) return { id: o.id, ok: false, reason: 'not_found' };
      // Conditional: an order changed since it was read (e.g. a late result) is kept.
      if (String(entry.seq) !== o.rev) return { id: o.id, ok: false, reason: 'conflict' };
      if (mode === 'archive' && o.order.command.action.args === undefined) {
        return { id: o.id, ok: false, reason: 'error', message: NOT_ARCHIVED };
      }
      if (mode === 'archive') {
        this.archive.set(o.id, { order: clone(entry.order), archivedAt: this.clock.now().toISOString() });
      }
      this.docs.delete(o.id);
      return { id: o.id, ok: true, rev: String(++this.seq) };
    });
  }

  /** Matching entries sorted by `keyOf` ascending, optionally only those strictly after `afterKey`. */
  private select(
    match: (o: Order) => boolean,
    keyOf: (o: Order, seq: number) => SortKey,
    afterKey?: SortKey,
  ): Array<{ id: string; entry: Entry; key: SortKey }> {
    const out: Array<{ id: string; entry: Entry; key: SortKey }> = [];
    for (const [id, entry] of this.docs) {
      if (!match(entry.order)) continue;
      const key = keyOf(entry.order, entry.seq);
      if (afterKey && compareKeys(key, afterKey) <= 0) continue;
      out.push({ id, entry, key });
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  private page(
    sorted: Array<{ id: string; entry: Entry }>,
    size: number,
    cursorKeyOf: (o: Order) => SortKey,
  ): Page<StoredOrder> {
    // At most `size` items and `maxResponseBytes` of them (at least one), as the OpenSearch adapter reads.
    let bytes = 0;
    let n = 0;
    for (const { entry } of sorted.slice(0, size)) {
      bytes += jsonBytes(entry.order);
      if (n > 0 && bytes > this.maxResponseBytes) break;
      n++;
    }
    const items = sorted.slice(0, n).map(({ id, entry }) => this.bounded(toStored(id, entry)));
    const last = sorted[n - 1];
    return sorted.length > n && last
      ? { items, cursor: encodePageCursor(cursorKeyOf(last.entry.order)) }
      : { items };
  }
}

/** Archive copies are whole orders: one read without its args is kept rather than archived without them. */
const NOT_ARCHIVED = 'not archived: the order was read without its args (too large to read whole); kept';

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** The order as the steps that do not need its args read it (see the `OrderStore` port). */
function withoutArgs(stored: StoredOrder): StoredOrder {
  const { args: _args, ...action } = stored.order.command.action;
  return {
    ...stored,
    order: {
      ...stored.order,
      command: { ...stored.order.command, action: action as Order['command']['action'] },
    },
  };
}

function toStored(id: string, entry: Entry): StoredOrder {
  return { id, rev: String(entry.seq), order: clone(entry.order) };
}

/** Milliseconds of an ISO-8601 time (compared as instants, not as strings); NaN when absent. */
function time(iso: string | null | undefined): number {
  return iso == null ? NaN : Date.parse(iso);
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function compileFilter(filter: OrderFilter): (o: Order) => boolean {
  const statuses: readonly OrderStatus[] | undefined =
    filter.status === undefined
      ? undefined
      : typeof filter.status === 'string'
        ? [filter.status]
        : filter.status;
  const from = filter.from === undefined ? undefined : Date.parse(filter.from);
  const to = filter.to === undefined ? undefined : Date.parse(filter.to);
  return (o) => {
    const c = o.command;
    if (filter.requestId !== undefined && c.request_id !== filter.requestId) return false;
    if (statuses !== undefined && !statuses.includes(c.status)) return false;
    if (filter.targetType !== undefined && c.target.type !== filter.targetType) return false;
    if (filter.targetId !== undefined && c.target.id !== filter.targetId) return false;
    if (filter.action !== undefined && c.action.name !== filter.action) return false;
    if (filter.source !== undefined && c.source !== filter.source) return false;
    if (from !== undefined || to !== undefined) {
      const t = Date.parse(o['@timestamp']);
      if (from !== undefined && !(t >= from)) return false;
      if (to !== undefined && !(t < to)) return false;
    }
    return true;
  };
}
