/**
 * The orders stream in OpenSearch (`OrderStore` port). Only core features: bulk `create` with the
 * deterministic id `<request_id>-<order_id>` (a retried or resumed save never duplicates), bulk `index`/
 * `delete` with `if_seq_no`/`if_primary_term` for every transition (a lost race is a per-item 409, reported
 * as `conflict`), search with `search_after` and a unique sort for paging, a terms aggregation for counts.
 * No scripting, no `_update_by_query`: the minimal distribution has neither.
 */
import type {
  ClaimByIdsRequest,
  ClaimRequest,
  FindDueRequest,
  FindDueResult,
  ConditionalWrite,
  ReadArgsRequest,
  ReadArgsResult,
  ConditionalWriteOptions,
  FailureBreakdown,
  GetOrdersOptions,
  Logger,
  Order,
  OrderFilter,
  OrderStore,
  Page,
  PageRequest,
  SaveOrdersOptions,
  SaveOrdersResult,
  StatusCounts,
  StoredOrder,
  WriteOutcome,
} from '@command-manager/core';
import {
  CommandManagerError,
  ErrorCodes,
  emptyCounts,
  encodePageCursor,
  isClaimableById,
  ORDER_STATUSES,
  withLease,
  noopLogger,
  orderIdTaken,
} from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { IndexSettingsOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import type { BulkItemResult, BulkOp, EncodedOp, RefreshPolicy } from './internal/bulk';
import { bulkOp, chunkOps, EncodedLines, itemReason, itemRefusal, opBytes, sendBulk } from './internal/bulk';
import { bulkWithRetries } from './internal/bulk-retry';
import { claimRuleClauses, partitionClause } from './internal/claim-rule';
import { boolQuery, filterClauses } from './internal/order-query';
import { checkPageSize, decodeCursor, decodeRevision, encodeRevision } from './internal/paging';
import { assertDocsRead } from './internal/bulk-permissions';
import { guarded, WHOLE_ANSWER } from './internal/store-errors';
import { safeOrderId } from './internal/order-ids';
import { countByRequests, failureBreakdown } from './internal/request-aggregations';
import { sortCreateConflicts } from './internal/create-conflicts';
import { boundedJson, maxResponseBytesOption, ResponseTooLargeError } from './internal/bounded-read';
import { readHalving, readInHalves } from './internal/halving-read';

export type { RefreshPolicy } from './internal/bulk';

export interface OpenSearchOrderStoreOptions extends IndexSettingsOptions {
  client: Client;
  /** Orders index (default `wazuh-commands`). */
  ordersIndex?: string;
  /**
   * Refresh of `saveOrders`, applied to its LAST bulk request only (earlier ones use `false`), so that a
   * save is searchable when it returns at the cost of one refresh wait per save, not per batch.
   * `'wait_for'` (default) waits for the next periodic refresh (≤ `index.refresh_interval`, 1 s by
   * default) and adds no segment; `true` forces one (tests); `false` returns at once (searches may lag by
   * up to the refresh interval; reads by id never lag). With several primary shards, `'wait_for'`/`true`
   * cover the shards the last batch touched; other shards catch up within the refresh interval.
   */
  saveRefresh?: RefreshPolicy;
  /**
   * Refresh of transitions and removals (default `'wait_for'`). A `writeConditional` call made with
   * `{ searchable: false }` (the scheduler's verdicts, lease renewals and deferrals) uses `false` instead.
   */
  writeRefresh?: RefreshPolicy;
  /**
   * Refresh of the lease writes of `claimDue` (default `true`: one forced refresh per claim, whatever its
   * size). The next claim's search must not return orders this claim just leased: a stale hit is harmless (its
   * conditional write loses with 409) but wasted work, and a sequence of claims would re-read the same stale
   * orders until the periodic refresh (1 s). `'wait_for'` would make every claim wait up to that second.
   * `claimByIds` never refreshes: nobody needs to find its leases by search (a searching claimer that still
   * sees the order as free loses its conditional write).
   *
   * With `false`, the store instead leaves out of its claim searches the orders it leased itself within the
   * last `searchLagMs` (an `ids` exclusion), so that a run of claims does not re-read its own unrefreshed
   * leases. Orders leased by OTHER stores may still come back stale until the periodic refresh and lose their
   * conditional write (harmless, a wasted write). Caveat: a lease that expires before the index refreshed
   * can only be re-claimed after that refresh (irrelevant with leases of seconds; fake-clock tests need `true`).
   */
  claimRefresh?: RefreshPolicy;
  /**
   * How long an unrefreshed write may stay invisible to searches: `index.refresh_interval` (1 s by default)
   * plus a margin; default 2000. Only used with `claimRefresh: false`.
   */
  searchLagMs?: number;
  /**
   * Largest answer of one read (search or mget) the store parses, in bytes (default 8 MiB). A larger page is
   * asked again with half the hits (a listing then returns fewer items, with a cursor), so that a page of
   * large orders never has to fit in the heap at once; a single order larger than this is read without its
   * `command.action.args`.
   */
  maxResponseBytes?: number;
  /** Orders per bulk request (default 1,000). */
  batchMaxOrders?: number;
  /** Bytes per bulk request (default 5 MiB). */
  batchMaxBytes?: number;
  /**
   * Bulk requests of one save, or of one large conditional write or claim, in flight at once (default 2: the
   * next batch is built while one is sent).
   */
  maxInflightBatches?: number;
  /**
   * Retries of a batch whose request failed in transport or was refused as unavailable, and of items
   * rejected with 429 (full write queue); default 3. `create` makes a retried batch harmless.
   */
  batchRetries?: number;
  /** Delay before the first retry, doubled each time (default 200). */
  retryDelayMs?: number;
  logger?: Logger;
}

interface Hit {
  _id: string;
  _seq_no?: number;
  _primary_term?: number;
  _source?: Order;
  sort?: Array<string | number>;
  found?: boolean;
}

const STATUS_AGG = 'by_status';
/** Written once at save; left out of every read that does not need it (see the `OrderStore` port). */
const ARGS_FIELD = 'command.action.args';
/** Bound of the claim exclusion list (`claimRefresh: false`): ~20 bytes an id in each claim search. */
const MAX_RECENT_CLAIMS = 20_000;
/** Tiebreakers: `request_id` + `order_id` identify an order, so every sort below is total. */
const BY_ID_ASC = [{ 'command.request_id': 'asc' }, { 'command.order_id': 'asc' }] as const;
/**
 * `findDue`'s order: the order least recently written first (`_seq_no`, the shard's write sequence; the ids
 * break ties between shards). A unique number that grows with the writes lets OpenSearch skip, while it sorts,
 * every order behind the page already filled, and reads the hits in the order they lie in the segments;
 * `@timestamp` cannot (every order of a request has the same one). docs/benchmarks.md (d) has the figures.
 * With several shards their sequences interleave: an order written on a shard whose sequence is behind the
 * place a pass has reached is found when the pass starts over (a new submission is taken by id at once).
 */
const BY_WRITE_ASC = [{ _seq_no: 'asc' }, ...BY_ID_ASC] as const;

/**
 * Bytes a multi-get answer of `ids` may take when their args total `maxBytes`: each document comes in an
 * envelope (`_index`, `_id`, `_version`, `_seq_no`, `_primary_term`, `found`, the `_source` path down to the
 * args: under 200 bytes besides the index name and the id), the whole in `{"docs":[…]}`.
 */
function argsAnswerBound(index: string, ids: readonly string[], maxBytes: number): number {
  const perDoc = 256 + Buffer.byteLength(index);
  let bound = maxBytes + 64;
  for (const id of ids) bound += perDoc + Buffer.byteLength(id);
  return bound;
}

interface PendingOp extends BulkOp {
  id: string;
}

/** A save: the order is encoded at once and read back from its bytes only if its id turns out to be taken. */
interface SaveOp extends EncodedOp {
  id: string;
  /** Position in the stream, so that failures are reported in stream order whatever batch finished first. */
  seq: number;
}

interface ConditionalBulkOptions {
  refresh: RefreshPolicy;
  /** Names the operation in errors and logs. */
  operation: string;
  /** Tell `conflict` from `not_found` after a 409 (one real-time mget of the lost writes). */
  resolveConflicts: boolean;
}

interface SaveState {
  written: number;
  existing: number;
  failed: Array<{ seq: number; id: string; reason: string; code?: string }>;
}

export class OpenSearchOrderStore implements OrderStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;
  private readonly saveRefresh: RefreshPolicy;
  private readonly writeRefresh: RefreshPolicy;
  private readonly claimRefresh: RefreshPolicy;
  private readonly searchLagMs: number;
  /**
   * With `claimRefresh: false`: ids this store leased, with when (wall-clock ms), oldest first; excluded from
   * claim searches until `searchLagMs` has passed. Bounded by MAX_RECENT_CLAIMS (the oldest are forgotten
   * first, which only costs a lost conditional write if they come back stale).
   */
  private readonly recentClaims = new Map<string, number>();
  private readonly batchMaxOrders: number;
  private readonly batchMaxBytes: number;
  private readonly maxResponseBytes: number;
  private readonly maxInflight: number;
  private readonly batchRetries: number;
  private readonly retryDelayMs: number;
  private readonly logger: Logger;

  constructor(options: OpenSearchOrderStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
    this.saveRefresh = options.saveRefresh ?? 'wait_for';
    this.writeRefresh = options.writeRefresh ?? 'wait_for';
    this.claimRefresh = options.claimRefresh ?? true;
    this.searchLagMs = Math.max(0, options.searchLagMs ?? 2000);
    this.batchMaxOrders = Math.max(1, Math.floor(options.batchMaxOrders ?? 1000));
    this.maxResponseBytes = maxResponseBytesOption(options.maxResponseBytes);
    this.batchMaxBytes = Math.max(1024, Math.floor(options.batchMaxBytes ?? 5 * 1024 * 1024));
    this.maxInflight = Math.max(1, Math.floor(options.maxInflightBatches ?? 2));
    this.batchRetries = Math.max(0, Math.floor(options.batchRetries ?? 3));
    this.retryDelayMs = Math.max(0, options.retryDelayMs ?? 200);
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-order-store' });
  }

  async init(): Promise<void> {
    await this.setup.initOrders();
  }

  async saveOrders(
    orders: AsyncIterable<Order> | Iterable<Order>,
    options: SaveOrdersOptions = {},
  ): Promise<SaveOrdersResult> {
    const result: SaveState = { written: 0, existing: 0, failed: [] };
    const inflight = new Set<Promise<void>>();
    let fatal: unknown;
    let batch: SaveOp[] = [];
    // The first batch's buffer grows as it fills; each next one starts at the size of the batch before.
    let lines = new EncodedLines(0);
    let bytes = 0;
    let dispatched = 0;
    let seq = 0;

    const report = (): void =>
      options.onProgress?.({
        written: result.written,
        existing: result.existing,
        failed: result.failed.length,
      });
    const dispatch = async (ops: SaveOp[], refresh: RefreshPolicy): Promise<void> => {
      while (inflight.size >= this.maxInflight) await Promise.race(inflight);
      if (fatal !== undefined) return;
      dispatched++;
      const p = this.createBatch(ops, refresh, result)
        .then(report)
        .catch((e: unknown) => {
          fatal ??= e;
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };

    try {
      for await (const order of orders) {
        if (fatal !== undefined) break;
        const id = safeOrderId(order);
        if (id === undefined) {
          result.failed.push({
            seq: seq++,
            id: invalidId(order),
            reason: 'order has no integer command.request_id/order_id',
          });
          continue;
        }
        const head = JSON.stringify({ create: { _id: id } });
        const source = JSON.stringify(order);
        const size = opBytes(head, source);
        // A full batch is sent only once the next order exists: the batch still open when the stream
        // ends is the last one, which carries the refresh.
        if (batch.length > 0 && (batch.length >= this.batchMaxOrders || bytes + size > this.batchMaxBytes)) {
          await dispatch(batch, false);
          batch = [];
          lines = new EncodedLines(Math.min(bytes, this.batchMaxBytes));
          bytes = 0;
        }
        batch.push({ seq: seq++, id, ...lines.append(head, source, size) });
        bytes += size;
      }
    } finally {
      // Whatever happens to the stream, never leave a batch running behind the caller's back.
      await Promise.all(inflight);
    }
    if (fatal === undefined && batch.length > 0) {
      await dispatch(batch, this.saveRefresh);
      await Promise.all(inflight);
    }
    if (fatal !== undefined) throw fatal;
    // Orders rejected before any request (no valid id) still get their progress report.
    if (dispatched === 0 && result.failed.length > 0) report();
    const failed = result.failed
      .sort((a, b) => a.seq - b.seq)
      .map(({ id, reason, code }) => (code === undefined ? { id, reason } : { id, reason, code }));
    return { written: result.written, existing: result.existing, failed };
  }

  /** One bulk of operations on the orders index (`statusOnly`: see `sendBulk`). */
  private sendOrdersBulk(
    ops: readonly (BulkOp | EncodedOp)[],
    refresh: RefreshPolicy,
    operation: string,
    statusOnly?: boolean,
  ): Promise<BulkItemResult[]> {
    return sendBulk(this.client, {
      index: this.layout.orders,
      ops,
      refresh,
      operation,
      ...(statusOnly !== undefined && { statusOnly }),
    });
  }

  /** Writes one batch with `create`, retrying what may succeed later; records every outcome in `result`. */
  private async createBatch(ops: SaveOp[], refresh: RefreshPolicy, result: SaveState): Promise<void> {
    let conflicts: SaveOp[] = [];
    await bulkWithRetries(ops, {
      retries: this.batchRetries,
      delayMs: this.retryDelayMs,
      send: (pending) => this.sendOrdersBulk(pending, refresh, 'bulk create orders', true),
      retryRequest: isRetryable,
      onResendRequest: (attempt, orders) =>
        this.logger.warn('bulk create failed, retrying the batch', { attempt, orders }),
      settle: (op, item) => {
        if (item.status === 200 || item.status === 201) result.written++;
        // 409 on `create`: the deterministic id exists: an earlier (or retried) save of this order, or
        // another request's order if the request id was handed out twice.
        else if (item.status === 409) conflicts.push(op);
        else {
          this.logger.warn('order not written', { id: op.id, error: itemReason(item) });
          result.failed.push({ seq: op.seq, id: op.id, reason: itemRefusal(item) });
        }
      },
      afterRound: async () => {
        const round = conflicts;
        conflicts = [];
        const sorted = await sortCreateConflicts(
          round.map((op) => ({ id: op.id, order: JSON.parse(op.lines.sourceOf(op)) as Order })),
          (ids) => this.getOrders(ids),
        );
        result.existing += sorted.existing;
        const taken = new Set(sorted.taken);
        for (const op of round)
          if (taken.has(op.id)) result.failed.push({ seq: op.seq, ...orderIdTaken(op.id) });
      },
      onResendItems: (attempt, orders) =>
        this.logger.warn('bulk create rejected items as unavailable, retrying them', { attempt, orders }),
    });
  }

  async getOrder(id: string): Promise<StoredOrder | undefined> {
    // A multi-get of one id: real-time like GET, and its answer bounded like every other read (an order
    // larger than the bound is read without its args). No such document or no index yet is an answer.
    const [found] = await this.mgetOrders([id], false);
    return found;
  }

  async getOrders(ids: readonly string[], options: GetOrdersOptions = {}): Promise<StoredOrder[]> {
    return this.mgetOrders(ids, options.args === false);
  }

  /**
   * Real-time multi-get (it sees unrefreshed writes), in chunks of at most 1,000 ids, each answer bounded by
   * `maxResponseBytes` (a chunk whose answer is larger is split in halves).
   */
  private async mgetOrders(ids: readonly string[], excludeArgs: boolean): Promise<StoredOrder[]> {
    const out: StoredOrder[] = [];
    const params = excludeArgs ? { _source_excludes: ARGS_FIELD } : {};
    for (let i = 0; i < ids.length; i += 1000) {
      const docs = await readInHalves(
        ids.slice(i, i + 1000),
        (chunk) => this.mget(chunk, params),
        // One order larger than the bound: read without its args, unless they were left out already.
        async (id, e) => {
          if (excludeArgs) throw tooLargeToRead(`order ${id}`, e.maxBytes);
          try {
            return await this.mget([id], { _source_excludes: ARGS_FIELD });
          } catch (again) {
            if (again instanceof ResponseTooLargeError) throw tooLargeToRead(`order ${id}`, again.maxBytes);
            throw again;
          }
        },
      );
      for (const doc of docs) {
        const stored = toStored(doc);
        if (stored) out.push(stored);
      }
    }
    return out;
  }

  private async mget(ids: readonly string[], params: Record<string, unknown>): Promise<Hit[]> {
    const { body } = await boundedJson<{ docs?: Hit[] }>('get orders', this.maxResponseBytes, (options) =>
      this.client.mget({ index: this.layout.orders, body: { ids: [...ids] }, ...params }, options),
    );
    const docs = (body.docs ?? []) as Array<Hit & { error?: unknown }>;
    assertDocsRead(docs, 'get orders');
    return docs;
  }

  /**
   * The args of the longest prefix of `ids` whose args, as JSON, total at most `maxBytes` (the first id's
   * alone when they are larger: named in `tooLarge`). One multi-get of up to 1,000 ids, its answer bounded by
   * `maxBytes` plus each document's envelope (`argsAnswerBound`); an answer over that is asked again for half
   * the ids. The args themselves are then measured, so the bound is the same whatever the envelope costs.
   */
  async readArgs(request: ReadArgsRequest): Promise<ReadArgsResult> {
    const { ids } = request;
    const maxBytes = Math.max(1, Math.floor(request.maxBytes));
    if (ids.length === 0) return { consumed: 0, args: new Map(), tooLarge: [] };
    const { value: docs } = await readHalving<Hit[] | undefined>(
      Math.min(ids.length, 1000),
      async (n) => {
        const chunk = ids.slice(0, n);
        const bound = argsAnswerBound(this.layout.orders, chunk, maxBytes);
        const { body } = await boundedJson<{ docs?: Hit[] }>('read order args', bound, (options) =>
          this.client.mget(
            { index: this.layout.orders, body: { ids: chunk }, _source_includes: ARGS_FIELD },
            options,
          ),
        );
        const read = body.docs ?? [];
        assertDocsRead(read as Array<Hit & { error?: unknown }>, 'read order args');
        return read;
      },
      // The first order alone makes an answer over maxBytes plus its envelope: its args are larger.
      async () => undefined,
    );
    if (docs === undefined) return { consumed: 1, args: new Map(), tooLarge: [ids[0] as string] };
    const args = new Map<string, Record<string, unknown>>();
    let bytes = 0;
    let consumed = 0;
    for (const doc of docs) {
      const own =
        doc.found === false || !doc._source
          ? undefined
          : ((doc._source.command?.action?.args ?? {}) as Record<string, unknown>);
      const size = own === undefined ? 0 : Buffer.byteLength(JSON.stringify(own));
      if (consumed > 0 && bytes + size > maxBytes) break;
      consumed++;
      if (own === undefined) continue;
      if (size > maxBytes) return { consumed, args, tooLarge: [doc._id] };
      bytes += size;
      args.set(doc._id, own);
    }
    return { consumed, args, tooLarge: [] };
  }

  async listOrders(filter: OrderFilter, page: PageRequest): Promise<Page<StoredOrder>> {
    return this.searchPage(
      boolQuery(filterClauses(filter)),
      [{ 'command.request_id': 'desc' }, { 'command.order_id': 'asc' }],
      page,
      2,
    );
  }

  async countByStatus(filter: OrderFilter): Promise<StatusCounts> {
    const body: Record<string, unknown> = {
      size: 0,
      track_total_hits: false,
      query: boolQuery(filterClauses(filter)),
      aggs: { [STATUS_AGG]: { terms: { field: 'command.status', size: ORDER_STATUSES.length + 4 } } },
    };
    const response = await guarded('count orders by status', () =>
      this.client.search({ index: this.layout.orders, ignore_unavailable: true, ...WHOLE_ANSWER, body }),
    );
    const counts = emptyCounts();
    const aggs = (
      response.body as {
        aggregations?: Record<string, { buckets?: Array<{ key: string; doc_count: number }> }>;
      }
    ).aggregations;
    for (const bucket of aggs?.[STATUS_AGG]?.buckets ?? []) {
      if ((ORDER_STATUSES as readonly string[]).includes(bucket.key))
        counts[bucket.key as keyof StatusCounts] = bucket.doc_count;
    }
    return counts;
  }

  countByRequests(requestIds: readonly number[]): Promise<Map<number, StatusCounts>> {
    return countByRequests(this.client, this.layout.orders, requestIds);
  }

  failureBreakdown(requestId: number, limit: number): Promise<FailureBreakdown> {
    return failureBreakdown(this.client, this.layout.orders, requestId, limit);
  }

  async writeConditional(
    writes: readonly ConditionalWrite[],
    options: ConditionalWriteOptions = {},
  ): Promise<WriteOutcome[]> {
    return this.conditionalWrites(writes, {
      refresh: options.searchable === false ? false : this.writeRefresh,
      operation: 'bulk conditional write',
      resolveConflicts: true,
    });
  }

  private async conditionalWrites(
    writes: readonly ConditionalWrite[],
    how: ConditionalBulkOptions,
  ): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(writes.length);
    const ops: Array<PendingOp & { at: number }> = [];
    // A revision this store never issued cannot match: like a stale one, it is a conflict (or not_found).
    const unmatched: Array<{ at: number; id: string }> = [];
    writes.forEach((w, at) => {
      const rev = decodeRevision(w.rev);
      if (!rev) {
        unmatched.push({ at, id: w.id });
        return;
      }
      const cond = { _id: w.id, if_seq_no: rev.ifSeqNo, if_primary_term: rev.ifPrimaryTerm };
      // An order carrying its stored args replaces the document (`index`: no read of the stored source).
      // Any other is a partial update (`doc` is merged into the stored source, still conditional on the
      // revision) that leaves `command.action.args` as saved: the writer may have read the order without it.
      // Without noop detection, an unchanged document is still a write that moves the revision on, as an
      // `index` would: of two writers holding one revision, only the first wins.
      ops.push({
        at,
        id: w.id,
        ...(w.withArgs
          ? bulkOp({ index: cond }, w.order)
          : bulkOp({ update: cond }, { doc: withoutArgs(w.order), detect_noop: false })),
      });
    });
    await this.conditionalBulk(ops, outcomes, unmatched, how);
    return outcomes;
  }

  async claimDue(request: ClaimRequest): Promise<StoredOrder[]> {
    if (request.limit <= 0) return [];
    const now = request.now.toISOString();
    const clauses = claimRuleClauses(now);
    if (request.requestIds !== undefined) {
      if (request.requestIds.length === 0) return [];
      clauses.push({ terms: { 'command.request_id': [...request.requestIds] } });
    }
    if (request.target !== undefined) {
      clauses.push({ term: { 'command.target.type': request.target.type } });
      clauses.push({ term: { 'command.target.id': request.target.id } });
    }
    const exclude = this.claimRefresh === false ? this.recentClaimIds() : [];
    const { hits } = await this.search(
      exclude.length > 0
        ? { bool: { filter: clauses, must_not: [{ ids: { values: exclude } }] } }
        : { bool: { filter: clauses } },
      [{ '@timestamp': 'asc' }, ...BY_ID_ASC],
      Math.min(request.limit, 10_000),
      undefined,
      true,
    );
    // A search may lag behind the index (refresh interval) and other sidecars claim concurrently: the lease
    // is written conditionally on the revision the search returned, so a stale or contested order loses
    // with 409 and is skipped. Only orders whose lease write succeeded are returned.
    const expiresAt = new Date(request.now.getTime() + request.leaseMs);
    const candidates: ConditionalWrite[] = [];
    for (const hit of hits) {
      const stored = toStored(hit);
      if (stored)
        candidates.push({
          id: stored.id,
          rev: stored.rev,
          order: withLease(stored.order, request.owner, expiresAt),
        });
    }
    const claimed = await this.writeLeases(candidates, this.claimRefresh, 'bulk claim');
    if (this.claimRefresh === false) this.rememberClaims(claimed);
    return claimed;
  }

  /**
   * Ids leased by this store within `searchLagMs` (expired entries are dropped on the way). Wall-clock time,
   * not the claim's `now`: the lag is the real index's refresh, which runs in real time whatever clock the
   * caller injects.
   */
  private recentClaimIds(): string[] {
    const oldest = Date.now() - this.searchLagMs;
    for (const [id, at] of this.recentClaims) {
      if (at >= oldest) break;
      this.recentClaims.delete(id);
    }
    return [...this.recentClaims.keys()];
  }

  private rememberClaims(claimed: readonly StoredOrder[]): void {
    const now = Date.now();
    for (const c of claimed) {
      // Re-inserted at the end, so that the map stays in time order.
      this.recentClaims.delete(c.id);
      this.recentClaims.set(c.id, now);
    }
    for (const id of this.recentClaims.keys()) {
      if (this.recentClaims.size <= MAX_RECENT_CLAIMS) break;
      this.recentClaims.delete(id);
    }
  }

  async claimByIds(request: ClaimByIdsRequest): Promise<StoredOrder[]> {
    if (request.ids.length === 0) return [];
    // mget is real-time: a just-saved order is found although no refresh made it searchable yet. The rule
    // is then checked here, and the lease written conditionally on the revision read, as in `claimDue`.
    const nowMs = request.now.getTime();
    const expiresAt = new Date(nowMs + request.leaseMs);
    const seen = new Set<string>();
    const candidates: ConditionalWrite[] = [];
    for (const stored of await this.mgetOrders(request.ids, true)) {
      if (seen.has(stored.id) || !isClaimableById(stored.order, nowMs)) continue;
      seen.add(stored.id);
      candidates.push({
        id: stored.id,
        rev: stored.rev,
        order: withLease(stored.order, request.owner, expiresAt),
      });
    }
    return this.writeLeases(candidates, false, 'bulk claim by id');
  }

  async findDue(request: FindDueRequest): Promise<FindDueResult> {
    if (request.limit <= 0 || request.partitions.length === 0) return { orders: [] };
    const clauses = claimRuleClauses(request.now.toISOString());
    clauses.push(partitionClause(request.partitions));
    const asked = Math.min(request.limit, 10_000);
    const { hits, size } = await this.search(
      { bool: { filter: clauses } },
      BY_WRITE_ASC,
      asked,
      request.after === undefined ? undefined : decodeCursor(request.after, 3),
      request.args !== true,
      true,
    );
    const orders: StoredOrder[] = [];
    for (const hit of hits) {
      const stored = toStored(hit);
      if (stored) orders.push(stored);
    }
    // A full answer (of the size asked, or of the smaller size the byte bound allowed) may have more after it.
    const last = hits[hits.length - 1];
    return hits.length === size && last?.sort ? { orders, next: encodePageCursor(last.sort) } : { orders };
  }

  /** Writes claim leases; returns the orders whose lease write won, with their new revisions. */
  private async writeLeases(
    candidates: ConditionalWrite[],
    refresh: RefreshPolicy,
    operation: string,
  ): Promise<StoredOrder[]> {
    // A lost claim is simply skipped: whether the order changed or vanished does not matter, so the 409s are
    // not resolved (that would cost a real-time mget of every lost order).
    const outcomes = await this.conditionalWrites(candidates, {
      refresh,
      operation,
      resolveConflicts: false,
    });
    const claimed: StoredOrder[] = [];
    outcomes.forEach((outcome, i) => {
      const write = candidates[i];
      if (outcome.ok && write) claimed.push({ id: write.id, rev: outcome.rev, order: write.order });
    });
    return claimed;
  }

  async findOverdue(now: Date, limit: number): Promise<StoredOrder[]> {
    if (limit <= 0) return [];
    const { hits } = await this.search(
      {
        bool: {
          filter: [
            { terms: { 'command.status': ['pending', 'sent'] } },
            { range: { delivery_timestamp: { lt: now.toISOString() } } },
          ],
        },
      },
      [{ delivery_timestamp: 'asc' }, ...BY_ID_ASC],
      Math.min(limit, 10_000),
      undefined,
      true,
    );
    return hits.map(toStored).filter((s): s is StoredOrder => s !== undefined);
  }

  async findTerminalBefore(before: Date, page: PageRequest): Promise<Page<StoredOrder>> {
    return this.searchPage(
      {
        bool: {
          filter: [
            { terms: { 'command.status': ['success', 'failure'] } },
            { range: { 'scheduling.completed_at': { lt: before.toISOString() } } },
          ],
        },
      },
      [{ 'scheduling.completed_at': 'asc' }, ...BY_ID_ASC],
      page,
      3,
    );
  }

  /**
   * Archive mode copies each order to `<orders>-archive-YYYY.MM` (month of its `@timestamp`) with `index`
   * (idempotent: a retried or repeated archive overwrites the same copy), and deletes from the orders index
   * only what was archived, conditionally on the revision read: an order changed since (e.g. a late result)
   * is kept and reported as `conflict`; its archive copy is then stale and is overwritten when the order
   * is archived for good.
   */
  async removeOrders(orders: readonly StoredOrder[], mode: 'archive' | 'delete'): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array(orders.length);
    const unmatched: Array<{ at: number; id: string }> = [];
    let toDelete = orders.map((o, at) => ({ o, at }));
    if (mode === 'archive' && orders.length > 0) {
      // Archive only what is still at the revision read, so that neither a changed nor an unknown order
      // leaves a copy behind (the conditional delete below still settles a race after this check).
      const current = new Map(
        (
          await this.mgetOrders(
            orders.map((o) => o.id),
            true,
          )
        ).map((s) => [s.id, s.rev]),
      );
      toDelete = toDelete.filter(({ o, at }) => {
        // Archive copies are whole orders: one read without its args (too large to read whole) is kept.
        if (o.order.command.action.args === undefined) {
          outcomes[at] = { id: o.id, ok: false, reason: 'error', message: NOT_ARCHIVED };
          return false;
        }
        if (current.get(o.id) === o.rev) return true;
        outcomes[at] = current.has(o.id)
          ? { id: o.id, ok: false, reason: 'conflict' }
          : { id: o.id, ok: false, reason: 'not_found' };
        return false;
      });
      const archiveOps = toDelete.map(({ o, at }) => ({
        at,
        id: o.id,
        ...bulkOp(
          { index: { _index: this.layout.archiveIndexFor(o.order['@timestamp']), _id: o.id } },
          o.order,
        ),
      }));
      const archived = new Set<number>();
      for (const chunk of chunkOps(archiveOps, this.batchMaxOrders, this.batchMaxBytes)) {
        const items = await sendBulk(this.client, {
          ops: chunk,
          refresh: false,
          operation: 'bulk archive orders',
        });
        items.forEach((item, i) => {
          const op = chunk[i];
          if (!op) return;
          if (item.status === 200 || item.status === 201) archived.add(op.at);
          else
            outcomes[op.at] = {
              id: op.id,
              ok: false,
              reason: 'error',
              message: `not archived: ${itemReason(item)}`,
            };
        });
      }
      toDelete = toDelete.filter(({ at }) => archived.has(at));
    }
    const deleteOps: Array<PendingOp & { at: number }> = [];
    for (const { o, at } of toDelete) {
      const rev = decodeRevision(o.rev);
      if (!rev) {
        unmatched.push({ at, id: o.id });
        continue;
      }
      deleteOps.push({
        at,
        id: o.id,
        ...bulkOp({ delete: { _id: o.id, if_seq_no: rev.ifSeqNo, if_primary_term: rev.ifPrimaryTerm } }),
      });
    }
    await this.conditionalBulk(deleteOps, outcomes, unmatched, {
      refresh: this.writeRefresh,
      operation: 'bulk conditional delete',
      resolveConflicts: true,
    });
    return outcomes;
  }

  /**
   * Runs conditional operations (index or delete with if_seq_no/if_primary_term) in bounded bulks and fills
   * `outcomes[op.at]`. A 409 means the revision did not match: with `resolveConflicts`, `conflict` if the
   * document still exists, `not_found` if it is gone (OpenSearch answers 409, not 404, for a conditional write
   * on a missing document, so the 409s, and the `unmatched` writes whose revision was malformed, are checked
   * with one real-time mget); without it, always `conflict`. Items refused as unavailable (429) were not
   * applied and are retried; transport errors are thrown (a retry could not tell our own applied write from
   * another writer's).
   *
   * Several bulks run in parallel (`maxInflightBatches`), which a large claim or verdict write needs to keep
   * the node busy; they carry no refresh, and the requested refresh is then done once for the whole call
   * (`true`: one explicit refresh; `'wait_for'`: the last bulk waits, once the others are done). Operations on
   * the same id must apply in the order given (the first of two writes with one revision wins), so a call that
   * names an id twice is sent one bulk at a time.
   */
  private async conditionalBulk(
    ops: Array<PendingOp & { at: number }>,
    outcomes: WriteOutcome[],
    unmatched: ReadonlyArray<{ at: number; id: string }>,
    how: ConditionalBulkOptions,
  ): Promise<void> {
    const conflicted: Array<{ at: number; id: string }> = [...unmatched];
    const chunks = [...chunkOps(ops, this.batchMaxOrders, this.batchMaxBytes)];
    const runChunk = (chunk: typeof ops, refresh: RefreshPolicy): Promise<void> =>
      bulkWithRetries(chunk, {
        retries: this.batchRetries,
        delayMs: this.retryDelayMs,
        send: (pending) => this.sendOrdersBulk(pending, refresh, how.operation),
        settle: (op, item) => {
          if (
            (item.status === 200 || item.status === 201) &&
            item.seqNo !== undefined &&
            item.primaryTerm !== undefined
          ) {
            outcomes[op.at] = { id: op.id, ok: true, rev: encodeRevision(item.seqNo, item.primaryTerm) };
          } else if (item.status === 409) {
            conflicted.push({ at: op.at, id: op.id });
          } else if (item.status === 404) {
            outcomes[op.at] = { id: op.id, ok: false, reason: 'not_found' };
          } else {
            this.logger.warn('conditional write refused', { id: op.id, error: itemReason(item) });
            outcomes[op.at] = { id: op.id, ok: false, reason: 'error', message: itemRefusal(item) };
          }
        },
      });
    if (chunks.length === 1) {
      await runChunk(chunks[0] as typeof ops, how.refresh);
    } else if (chunks.length > 1) {
      const ordered = new Set(ops.map((o) => o.id)).size !== ops.length;
      const last = chunks.pop() as typeof ops;
      const lastRefresh = how.refresh === 'wait_for' ? 'wait_for' : false;
      if (lastRefresh === 'wait_for' || ordered) {
        await inParallel(chunks, ordered ? 1 : this.maxInflight, (c) => runChunk(c, false));
        await runChunk(last, lastRefresh);
      } else {
        await inParallel([...chunks, last], this.maxInflight, (c) => runChunk(c, false));
      }
      if (how.refresh === true) {
        await guarded(`${how.operation} (refresh)`, () =>
          this.client.indices.refresh({ index: this.layout.orders }),
        );
      }
    }
    if (conflicted.length === 0) return;
    if (!how.resolveConflicts) {
      for (const { at, id } of conflicted) outcomes[at] = { id, ok: false, reason: 'conflict' };
      return;
    }
    const existing = new Set(
      (
        await this.mgetOrders(
          conflicted.map((c) => c.id),
          true,
        )
      ).map((s) => s.id),
    );
    for (const { at, id } of conflicted) {
      outcomes[at] = existing.has(id)
        ? { id, ok: false, reason: 'conflict' }
        : { id, ok: false, reason: 'not_found' };
    }
  }

  /**
   * One page of orders, bounded in bytes: an answer over `maxResponseBytes` is asked again with half the
   * hits, down to one, then without args. With `argsFirst`, an answer too large with the args is asked again
   * at once without them (same size): the caller reads large args in bounded steps itself.
   */
  private async search(
    query: Record<string, unknown>,
    sort: ReadonlyArray<Record<string, string>>,
    size: number,
    searchAfter?: unknown[],
    excludeArgs = false,
    argsFirst = false,
  ): Promise<{ hits: Hit[]; size: number }> {
    const read = async (n: number, exclude: boolean): Promise<Hit[]> => {
      const body: Record<string, unknown> = {
        size: n,
        query,
        sort,
        seq_no_primary_term: true,
        track_total_hits: false,
      };
      if (searchAfter) body.search_after = searchAfter;
      if (exclude) body._source = { excludes: [ARGS_FIELD] };
      const response = await boundedJson<{ hits?: { hits?: Hit[] } }>(
        'search orders',
        this.maxResponseBytes,
        (options) =>
          this.client.search(
            { index: this.layout.orders, ignore_unavailable: true, ...WHOLE_ANSWER, body },
            options,
          ),
      );
      return response.body.hits?.hits ?? [];
    };
    let exclude = excludeArgs;
    if (argsFirst && !exclude) {
      try {
        return { hits: await read(size, false), size };
      } catch (e) {
        if (!(e instanceof ResponseTooLargeError)) throw e;
        exclude = true;
      }
    }
    const withoutArgs = exclude;
    const { value, size: asked } = await readHalving(
      size,
      (n) => read(n, withoutArgs),
      // One hit larger than the bound: read without its args, unless they were left out already.
      async (e) => {
        if (withoutArgs) throw tooLargeToRead('a hit', e.maxBytes);
        try {
          return await read(1, true);
        } catch (again) {
          if (again instanceof ResponseTooLargeError) throw tooLargeToRead('a hit', again.maxBytes);
          throw again;
        }
      },
    );
    return { hits: value, size: asked };
  }

  /** One page of a `search_after` walk; fetches one extra hit to know whether another page follows. */
  private async searchPage(
    query: Record<string, unknown>,
    sort: ReadonlyArray<Record<string, string>>,
    page: PageRequest,
    sortLength: number,
  ): Promise<Page<StoredOrder>> {
    const asked = checkPageSize(page.size);
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, sortLength);
    const found = await this.search(query, sort, asked + 1, after);
    const { hits } = found;
    // Clamped to fit the byte bound: one hit fewer than asked is the page, the extra one says more follow.
    // Clamped down to one hit, that hit is the page and a cursor follows it (the next page may be empty).
    const size = found.size > asked ? asked : Math.max(1, found.size - 1);
    const items = hits
      .slice(0, size)
      .map(toStored)
      .filter((s): s is StoredOrder => s !== undefined);
    const last = hits[size - 1];
    const more = hits.length > size || (found.size === 1 && hits.length === 1);
    return more && last?.sort ? { items, cursor: encodePageCursor(last.sort) } : { items };
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure, after all settle. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

function toStored(hit: Hit | undefined): StoredOrder | undefined {
  if (
    !hit ||
    hit.found === false ||
    !hit._source ||
    hit._seq_no === undefined ||
    hit._primary_term === undefined
  ) {
    return undefined;
  }
  return { id: hit._id, rev: encodeRevision(hit._seq_no, hit._primary_term), order: hit._source };
}

const NOT_ARCHIVED = 'not archived: the order was read without its args (too large to read whole); kept';

/** The order without `command.action.args`, for partial updates that must leave the stored args alone. */
function withoutArgs(order: Order): unknown {
  const { args: _args, ...action } = order.command.action;
  return { ...order, command: { ...order.command, action } };
}

function tooLargeToRead(what: string, maxBytes: number): CommandManagerError {
  return new CommandManagerError(
    ErrorCodes.STORE_UNAVAILABLE,
    `${what} of the orders index is larger than ${maxBytes} bytes without its args; it cannot be read`,
  );
}

function invalidId(order: Order): string {
  return `${String(order?.command?.request_id)}-${String(order?.command?.order_id)}`;
}

function isRetryable(e: unknown): boolean {
  return e instanceof CommandManagerError && e.code === ErrorCodes.STORE_UNAVAILABLE;
}
