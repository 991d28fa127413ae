/**
 * Request records and idempotency keys in `<orders>-requests` (layout: internal/mappings.ts). Records are
 * read by id with real-time GET, so no refresh is needed for read-after-write: record writes never ask for
 * one. `createRequest` and `reserveIdempotency` use `create`: of concurrent callers exactly one gets 201, the
 * others 409.
 *
 * `createRequestsWithOrders` writes records AND the orders of small commands in one `_bulk` (the orders go
 * to the orders index, as `OpenSearchOrderStore.saveOrders` writes them: `create` with their deterministic
 * id, the order as the document); the orders index must be set up (`OpenSearchOrderStore.init` or
 * `OpenSearchSetup.init`).
 */
import { createHash } from 'node:crypto';
import type {
  Order,
  IdempotencyEntry,
  IdempotencyReservation,
  Logger,
  RequestFilter,
  RequestListPage,
  RequestRecord,
  RequestStore,
  RequestWithOrders,
  RequestWithOrdersOutcome,
  RetentionBounds,
} from '@command-manager/core';
import { CommandManagerError, ErrorCodes, noopLogger, orderIdTaken, sameJson } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { OpenSearchSetupOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import type { BulkItemResult, BulkOp, RefreshPolicy } from './internal/bulk';
import { bulkOp, itemReason, itemRefusal, sendBulk } from './internal/bulk';
import { bulkWithRetries } from './internal/bulk-retry';
import { boundedJson, maxResponseBytesOption } from './internal/bounded-read';
import { readHalving } from './internal/halving-read';
import { GroupCommit } from './internal/group-commit';
import { NO_TRANSPORT_RETRY } from './internal/no-transport-retry';
import { guarded, responseErrorInfo, toStoreError, WHOLE_ANSWER } from './internal/store-errors';
import { safeOrderId } from './internal/order-ids';
import { readOrders, sortCreateConflicts } from './internal/create-conflicts';

export interface OpenSearchRequestStoreOptions extends OpenSearchSetupOptions {
  /**
   * Refresh of a `createRequestsWithOrders` call that carries orders (one without orders never refreshes):
   * give it the order store's `saveRefresh` so that orders are searchable when a submission returns in the
   * same way. Default `'wait_for'`, as `OpenSearchOrderStore`'s; the sidecar uses `false` (reads by id are
   * real time; searches catch up within the refresh interval).
   */
  ordersRefresh?: RefreshPolicy;
  /** Retries of items refused as unavailable (429, full write queue) in `createRequestsWithOrders`; default 3. */
  itemRetries?: number;
  /** Delay before the first such retry, doubled each time (default 100). */
  retryDelayMs?: number;
  /**
   * `createRequestsWithOrders` bulks in flight at once (default 1). Calls made meanwhile wait and share the
   * next bulk (group commit: see internal/group-commit.ts). Why one: under load the batches grow rather than
   * the number of requests; with 2 in flight the batches halved and bench (c) lost a fifth of its
   * throughput, the sidecar's CPU (a request's cost in the client) being the limit.
   */
  maxInflightBulks?: number;
  /** Records + orders in one such bulk, at most (default 2,000; a larger single call goes alone). */
  maxBulkItems?: number;
  /**
   * Bytes of one `listRequests` answer read at most (default 8 MiB, as the orders store's): a larger one is
   * asked again with half as many records. A record carries its whole command (target ids, args), so a
   * page of 1,000 can be hundreds of megabytes.
   */
  maxResponseBytes?: number;
}

interface IdempotencySource {
  kind: 'idempotency';
  idempotency: {
    key: string;
    fingerprint: string;
    response_json?: string;
    created_at: string;
    completed_at?: string;
  };
}

/** One item of the combined bulk: a record or an order of entry `entry`. */
interface TogetherOp extends BulkOp {
  entry: number;
  kind: 'record' | 'order';
  id: string;
  /** An order op's order, to tell a repeated write from another request's order when its id is taken. */
  order?: Order;
}

export class OpenSearchRequestStore implements RequestStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;
  private readonly ordersRefresh: RefreshPolicy;
  private readonly itemRetries: number;
  private readonly retryDelayMs: number;
  private readonly logger: Logger;
  private readonly maxResponseBytes: number;
  private readonly together: GroupCommit<RequestWithOrders, RequestWithOrdersOutcome>;

  constructor(options: OpenSearchRequestStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
    this.ordersRefresh = options.ordersRefresh ?? 'wait_for';
    this.itemRetries = Math.max(0, Math.floor(options.itemRetries ?? 3));
    this.retryDelayMs = Math.max(0, options.retryDelayMs ?? 100);
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-request-store' });
    this.maxResponseBytes = maxResponseBytesOption(options.maxResponseBytes);
    this.together = new GroupCommit((entries) => this.writeTogether(entries), {
      maxInflight: options.maxInflightBulks ?? 1,
      maxWeight: options.maxBulkItems ?? 2000,
      weight: (entry) => 1 + entry.orders.length,
    });
  }

  async init(): Promise<void> {
    await this.setup.initRequests();
  }

  async createRequest(record: RequestRecord): Promise<boolean> {
    try {
      await this.client.create(
        {
          index: this.layout.requests,
          id: requestDocId(record.request_id),
          body: { kind: 'request', request: record },
        },
        NO_TRANSPORT_RETRY,
      );
      return true;
    } catch (e) {
      if (responseErrorInfo(e)?.status === 409) return false;
      throw toStoreError(e, 'create request record');
    }
  }

  /**
   * One `_bulk` for every entry: its record (`create` in the requests index), then its orders (`create` in
   * the orders index). Per item: 201 created; 409 on an order: it exists (a repeated call), counted
   * `existing`; 409 on a record: if the stored record is this very one (a transport retry of this call
   * stored it already) it counts as created, otherwise the id was allocated twice: `exists`, and the orders
   * this call created for the entry are deleted again, conditionally on the seq_no/primary_term they got (a
   * document changed since is left alone). Items refused as unavailable (429 …) are retried (`itemRetries`).
   * Throws STORE_UNAVAILABLE or INTERNAL when the bulk itself failed (nothing is known of its items).
   *
   * Concurrent calls share bulks (group commit, `maxInflightBulks`): each call's entries still travel in one
   * bulk body, so what a crash can leave is the same as for a call alone.
   */
  createRequestsWithOrders(entries: readonly RequestWithOrders[]): Promise<RequestWithOrdersOutcome[]> {
    return this.together.run(entries);
  }

  private async writeTogether(entries: readonly RequestWithOrders[]): Promise<RequestWithOrdersOutcome[]> {
    const outcomes: RequestWithOrdersOutcome[] = entries.map(() => ({
      record: 'failed',
      written: 0,
      existing: 0,
      failed: [],
    }));
    const created = entries.map((): Array<{ id: string; seqNo: number; primaryTerm: number }> => []);
    const sameRecordChecks: number[] = [];
    const pending: TogetherOp[] = [];
    entries.forEach(({ record, orders }, entry) => {
      pending.push({
        entry,
        kind: 'record',
        id: String(record.request_id),
        ...bulkOp(
          { create: { _index: this.layout.requests, _id: requestDocId(record.request_id) } },
          { kind: 'request', request: record },
        ),
      });
      for (const order of orders) {
        const id = safeOrderId(order);
        if (id === undefined) {
          (outcomes[entry] as RequestWithOrdersOutcome).failed.push({
            id: `${String(order?.command?.request_id)}-${String(order?.command?.order_id)}`,
            reason: 'order has no integer command.request_id/order_id',
          });
          continue;
        }
        pending.push({
          entry,
          kind: 'order',
          id,
          order,
          ...bulkOp({ create: { _index: this.layout.orders, _id: id } }, order),
        });
      }
    });
    const hasOrders = pending.some((op) => op.kind === 'order');
    const conflicts: TogetherOp[] = [];

    await bulkWithRetries(pending, {
      retries: this.itemRetries,
      delayMs: this.retryDelayMs,
      send: (ops) =>
        sendBulk(this.client, {
          ops,
          // Records alone never refresh (read by id, real time); orders follow the order store's policy.
          refresh: hasOrders ? this.ordersRefresh : false,
          operation: 'bulk create requests with orders',
        }),
      settle: (op, item) => {
        const outcome = outcomes[op.entry] as RequestWithOrdersOutcome;
        if (op.kind === 'record') {
          if (item.status === 200 || item.status === 201) outcome.record = 'created';
          else if (item.status === 409) sameRecordChecks.push(op.entry);
          else {
            outcome.record = 'failed';
            this.logger.warn('request record not written', { id: op.id, error: itemReason(item) });
            outcome.reason = itemRefusal(item);
          }
        } else if (item.status === 200 || item.status === 201) {
          outcome.written++;
          const entryCreated = created[op.entry] as Array<{ id: string; seqNo: number; primaryTerm: number }>;
          if (item.seqNo !== undefined && item.primaryTerm !== undefined)
            entryCreated.push({ id: op.id, seqNo: item.seqNo, primaryTerm: item.primaryTerm });
        } else if (item.status === 409) conflicts.push(op);
        else {
          this.logger.warn('order not written', { id: op.id, error: itemReason(item) });
          outcome.failed.push({ id: op.id, reason: itemRefusal(item) });
        }
      },
      onResendItems: (attempt, items) =>
        this.logger.warn('bulk items refused as unavailable, retrying them', { attempt, items }),
    });

    // An order id found taken: a repeated write of this order, or another request's order (the request id
    // was handed out twice, e.g. after the requests index holding the counter was lost): never "written".
    const sorted = await sortCreateConflicts(
      conflicts.map((op) => ({ id: op.id, order: op.order as Order })),
      (ids) => readOrders(this.client, this.layout.orders, ids),
    );
    const taken = new Set(sorted.taken);
    for (const op of conflicts) {
      const outcome = outcomes[op.entry] as RequestWithOrdersOutcome;
      if (taken.has(op.id)) outcome.failed.push(orderIdTaken(op.id));
      else outcome.existing++;
    }

    for (const entry of sameRecordChecks) {
      const { record } = entries[entry] as RequestWithOrders;
      const outcome = outcomes[entry] as RequestWithOrdersOutcome;
      const stored = await this.getRequest(record.request_id);
      if (stored !== undefined && sameJson(stored, record)) {
        outcome.record = 'created';
        continue;
      }
      outcome.record = 'exists';
      outcome.written -= await this.deleteCreated(created[entry] ?? []);
    }
    return outcomes;
  }

  /** Conditional deletes of orders this store just created; returns how many are gone. */
  private async deleteCreated(
    orders: ReadonlyArray<{ id: string; seqNo: number; primaryTerm: number }>,
  ): Promise<number> {
    if (orders.length === 0) return 0;
    const items: BulkItemResult[] = await sendBulk(this.client, {
      index: this.layout.orders,
      ops: orders.map((o) =>
        bulkOp({ delete: { _id: o.id, if_seq_no: o.seqNo, if_primary_term: o.primaryTerm } }),
      ),
      refresh: false,
      operation: 'remove orders written under a duplicated request id',
      statusOnly: true,
    });
    return items.filter((item) => item.status === 200).length;
  }

  async getRequest(requestId: number): Promise<RequestRecord | undefined> {
    const response = await guarded('get request record', () =>
      this.client.get({ index: this.layout.requests, id: requestDocId(requestId) }, { ignore: [404] }),
    );
    const body = response.body as { found?: boolean; _source?: { request?: RequestRecord } };
    return body.found ? body._source?.request : undefined;
  }

  /**
   * Requests still `writing` whose heartbeat (`updated_at`, else `created_at`) is older than `before`.
   * Searches may lag a refresh interval behind: a record finalised a moment ago can still show `writing`;
   * the caller's rewrite is harmless then (the service re-reads nothing from it but the id).
   */
  async findStaleWrites(before: Date, limit: number): Promise<RequestRecord[]> {
    const iso = before.toISOString();
    const response = await guarded('find stale writes', () =>
      this.client.search({
        index: this.layout.requests,
        ...WHOLE_ANSWER,
        body: {
          size: limit,
          query: {
            bool: {
              filter: [
                { term: { kind: 'request' } },
                { term: { 'request.write_state': 'writing' } },
                {
                  bool: {
                    should: [
                      { range: { 'request.updated_at': { lt: iso } } },
                      {
                        bool: {
                          must_not: { exists: { field: 'request.updated_at' } },
                          filter: { range: { 'request.created_at': { lt: iso } } },
                        },
                      },
                    ],
                    minimum_should_match: 1,
                  },
                },
              ],
            },
          },
          sort: [{ 'request.request_id': 'asc' }],
        },
      }),
    );
    const hits = (
      response.body as { hits: { hits: Array<{ _id: string; _source?: { request?: RequestRecord } }> } }
    ).hits.hits;
    const found: RequestRecord[] = [];
    for (const hit of hits) {
      // Re-read by id (real time): the search may be a refresh behind a final write.
      const current = hit._source?.request
        ? await this.getRequest(hit._source.request.request_id)
        : undefined;
      const beat = current ? Date.parse(current.updated_at ?? current.created_at) : Infinity;
      if (current?.write_state === 'writing' && beat < before.getTime()) found.push(current);
    }
    return found;
  }

  /**
   * Newest first: `request.created_at` then `request.request_id`, both descending, paged with `search_after`
   * on that pair (unique: the id is). Only documents of kind `request`. The answer is read within
   * `maxResponseBytes`: a larger one is asked again for half as many records, so fewer than asked may come
   * back although more follow (the port allows it; only an empty answer ends a listing).
   */
  async listRequests(filter: RequestFilter, page: RequestListPage): Promise<RequestRecord[]> {
    const size = Math.min(Math.max(0, Math.floor(page.size)), MAX_LIST_SIZE);
    if (size === 0) return [];
    const clauses: Array<Record<string, unknown>> = [{ term: { kind: 'request' } }];
    if (filter.source !== undefined) clauses.push({ term: { 'request.command.source': filter.source } });
    if (filter.user !== undefined) clauses.push({ term: { 'request.command.user': filter.user } });
    if (filter.action !== undefined) clauses.push({ term: { 'request.command.action.name': filter.action } });
    if (filter.from !== undefined || filter.to !== undefined) {
      const range: Record<string, string> = {};
      if (filter.from !== undefined) range.gte = filter.from;
      if (filter.to !== undefined) range.lt = filter.to;
      clauses.push({ range: { 'request.created_at': range } });
    }
    type Answer = { hits?: { hits?: Array<{ _source?: { request?: RequestRecord } }> } };
    const { value } = await readHalving(
      size,
      async (n) => {
        const body: Record<string, unknown> = {
          size: n,
          track_total_hits: false,
          query: { bool: { filter: clauses } },
          sort: [{ 'request.created_at': 'desc' }, { 'request.request_id': 'desc' }],
          ...(page.after ? { search_after: [page.after.createdAtMs, page.after.requestId] } : {}),
        };
        const { body: answer } = await boundedJson<Answer>(
          'list request records',
          this.maxResponseBytes,
          (options) => this.client.search({ index: this.layout.requests, ...WHOLE_ANSWER, body }, options),
        );
        return (answer.hits?.hits ?? []).flatMap((h) => (h._source?.request ? [h._source.request] : []));
      },
      (e) => {
        throw new CommandManagerError(
          ErrorCodes.STORE_UNAVAILABLE,
          `a request record is larger than ${e.maxBytes} bytes; it cannot be listed`,
        );
      },
    );
    return value;
  }

  async putRequest(record: RequestRecord): Promise<void> {
    await guarded('put request record', () =>
      this.client.index({
        index: this.layout.requests,
        id: requestDocId(record.request_id),
        body: { kind: 'request', request: record },
      }),
    );
  }

  /**
   * `create` of the key's document: of concurrent reservations exactly one gets 201. On 409 the entry is
   * read; one without a response whose `created_at` is older than the reservation TTL is replaced with
   * `if_seq_no`/`if_primary_term` of that read, so that of concurrent retries exactly one takes it over
   * (the others lose the conditional write and are answered with the new entry).
   */
  async reserveIdempotency(
    key: string,
    fingerprint: string,
    reservation?: IdempotencyReservation,
  ): Promise<IdempotencyEntry | undefined> {
    const now = reservation?.now ?? new Date();
    const source: IdempotencySource = {
      kind: 'idempotency',
      idempotency: { key, fingerprint, created_at: now.toISOString() },
    };
    try {
      await this.client.create(
        { index: this.layout.requests, id: idempotencyDocId(key), body: source },
        NO_TRANSPORT_RETRY,
      );
      return undefined;
    } catch (e) {
      if (responseErrorInfo(e)?.status !== 409) throw toStoreError(e, 'reserve idempotency key');
    }
    let seen = await this.getIdempotency(key);
    if (seen && reservation !== undefined && isExpired(seen._source, reservation)) {
      try {
        await this.client.index({
          index: this.layout.requests,
          id: idempotencyDocId(key),
          body: source,
          if_seq_no: seen.seqNo,
          if_primary_term: seen.primaryTerm,
        });
        this.logger.warn('idempotency reservation expired (its writer stopped); taken over', {
          reservedAt: seen._source.idempotency.created_at,
        });
        return undefined;
      } catch (e) {
        if (responseErrorInfo(e)?.status !== 409) throw toStoreError(e, 'take over idempotency key');
        seen = await this.getIdempotency(key);
      }
    }
    if (!seen) {
      // Created by someone else a moment ago yet gone now: released or removed by retention meanwhile.
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        'idempotency entry vanished while being read',
        { retryAfterSec: 1 },
      );
    }
    const entry: IdempotencyEntry = { fingerprint: seen._source.idempotency.fingerprint };
    const json = seen._source.idempotency.response_json;
    if (json !== undefined) entry.response = JSON.parse(json) as unknown;
    return entry;
  }

  async completeIdempotency(key: string, response: unknown): Promise<void> {
    const seen = await this.getIdempotency(key);
    if (!seen)
      throw new CommandManagerError(ErrorCodes.NOT_FOUND, `Idempotency key was never reserved: ${key}`);
    const source: IdempotencySource = {
      kind: 'idempotency',
      idempotency: {
        ...seen._source.idempotency,
        response_json: JSON.stringify(response ?? null),
        completed_at: new Date().toISOString(),
      },
    };
    await guarded('complete idempotency key', () =>
      this.client.index({ index: this.layout.requests, id: idempotencyDocId(key), body: source }),
    );
  }

  /** Deletes the entry conditionally on the read that found it unanswered: an answer written meanwhile stays. */
  async releaseIdempotency(key: string): Promise<void> {
    const seen = await this.getIdempotency(key);
    if (!seen || seen._source.idempotency.response_json !== undefined) return;
    await guarded('release idempotency key', () =>
      this.client.delete(
        {
          index: this.layout.requests,
          id: idempotencyDocId(key),
          if_seq_no: seen.seqNo,
          if_primary_term: seen.primaryTerm,
        },
        { ignore: [404, 409] },
      ),
    );
  }

  /**
   * One search per kind for ids created before the bound, then one bulk of deletes (the minimal
   * distribution has no `_delete_by_query`). Deletes are unconditional: an entry or record that old is
   * expired whatever happened to it since, except a record still `writing`, which the search leaves out.
   */
  async removeExpired(before: RetentionBounds, limit: number): Promise<number> {
    const size = Math.max(1, Math.min(10_000, Math.floor(limit)));
    const response = await guarded('find expired request documents', () =>
      this.client.msearch({
        index: this.layout.requests,
        body: [
          {},
          {
            size,
            _source: false,
            query: {
              bool: {
                filter: [
                  { term: { kind: 'idempotency' } },
                  { range: { 'idempotency.created_at': { lt: before.idempotency.toISOString() } } },
                ],
              },
            },
          },
          {},
          {
            size,
            _source: false,
            query: {
              bool: {
                filter: [
                  { term: { kind: 'request' } },
                  { range: { 'request.created_at': { lt: before.requests.toISOString() } } },
                ],
                must_not: [{ term: { 'request.write_state': 'writing' } }],
              },
            },
          },
        ],
      }),
    );
    const answers = (
      response.body as { responses: Array<{ hits?: { hits: Array<{ _id: string }> }; error?: unknown }> }
    ).responses;
    const ids = answers.flatMap((a) => a.hits?.hits.map((h) => h._id) ?? []);
    if (ids.length === 0) return 0;
    const items = await sendBulk(this.client, {
      index: this.layout.requests,
      ops: ids.map((id) => bulkOp({ delete: { _id: id } })),
      refresh: false,
      operation: 'remove expired request documents',
      statusOnly: true,
    });
    return items.filter((item) => item.status === 200).length;
  }

  private async getIdempotency(
    key: string,
  ): Promise<{ _source: IdempotencySource; seqNo: number; primaryTerm: number } | undefined> {
    const response = await guarded('get idempotency key', () =>
      this.client.get({ index: this.layout.requests, id: idempotencyDocId(key) }, { ignore: [404] }),
    );
    const body = response.body as {
      found?: boolean;
      _source?: IdempotencySource;
      _seq_no?: number;
      _primary_term?: number;
    };
    return body.found && body._source
      ? { _source: body._source, seqNo: body._seq_no ?? 0, primaryTerm: body._primary_term ?? 0 }
      : undefined;
  }
}

/** Largest `listRequests` page: one search answers at most `index.max_result_window` (10,000) hits. */
const MAX_LIST_SIZE = 10_000;

/** An unanswered reservation older than its TTL: its writer died (or is stuck) before answering. */
function isExpired(source: IdempotencySource, reservation: IdempotencyReservation): boolean {
  if (source.idempotency.response_json !== undefined) return false;
  const reservedAt = Date.parse(source.idempotency.created_at);
  return !(reservation.now.getTime() - reservedAt <= reservation.reservationTtlMs);
}

function requestDocId(requestId: number): string {
  return `request-${requestId}`;
}

/** Keys are caller-chosen (any length, any characters): hashed to fit the 512-byte `_id` limit. */
function idempotencyDocId(key: string): string {
  return `idempotency-${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
