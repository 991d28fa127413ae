/**
 * Ports: what core needs from the outside world. Core never imports a datastore client; the OpenSearch
 * adapter (`@command-manager/opensearch`) and the in-memory twins (`./memory/*`) implement these, and one
 * contract suite (`test/contract/*`) runs against both.
 */
import type {
  Order,
  OrderStatus,
  RequestRecord,
  Source,
  StatusCounts,
  StoredOrder,
  TargetType,
} from './model';

/** Injected time, so that expiry, leases and backoff are deterministic in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Structured logger taken by every library; the sidecar builds it with winston. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/**
 * Allocates request ids: strictly increasing and unique across every command manager of the cluster (an
 * implementation may document a weaker, configurable order, e.g. the OpenSearch allocator's per-sidecar id
 * blocks: unique cluster-wide, increasing per process). Ids need not be consecutive: an id allocated for a
 * submission that is then rejected is simply skipped.
 */
export interface RequestIdAllocator {
  next(): Promise<number>;
  /**
   * `n` ids in one call, unique and increasing (sorted ascending), not necessarily consecutive. A submission
   * of several commands takes its ids with one call.
   */
  nextBlock(n: number): Promise<number[]>;
}

export interface AgentInfo {
  id: string;
  groups: string[];
  status?: string;
}

export interface GroupQuery {
  /** Members per page (bounded by the implementation). */
  pageSize?: number;
  /** Only agents whose status is one of these (e.g. `active`); all agents when unset. */
  statuses?: string[];
  /** Agents with these ids are left out. */
  excludeIds?: string[];
}

/** The agents known to the cluster (Wazuh's `wazuh-agents` index in production). */
export interface AgentDirectory {
  /** Members of a group, page by page, in a stable order (agent id), never all at once. */
  groupMembers(group: string, query?: GroupQuery): AsyncIterable<AgentInfo[]>;
  /** How many members a group has, to check fan-out before anything is written. */
  countGroupMembers(group: string, query?: GroupQuery): Promise<number>;
  /** Looks agents up in one batch; unknown ids are absent from the map. */
  lookupAgents(ids: readonly string[]): Promise<Map<string, AgentInfo>>;
}

export interface OrderFilter {
  requestId?: number;
  status?: OrderStatus | readonly OrderStatus[];
  targetType?: TargetType;
  targetId?: string;
  action?: string;
  source?: Source;
  /** Inclusive lower bound on `@timestamp` (ISO-8601). */
  from?: string;
  /** Exclusive upper bound on `@timestamp` (ISO-8601). */
  to?: string;
}

export interface PageRequest {
  size: number;
  /** Opaque cursor returned by the previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Present when more items may follow. */
  cursor?: string;
}

export interface SaveProgress {
  written: number;
  existing: number;
  failed: number;
}

export interface SaveOrdersOptions {
  /** Called after each bulk batch. */
  onProgress?: (progress: SaveProgress) => void;
}

export interface SaveOrdersResult {
  /** Orders newly created. */
  written: number;
  /** Orders whose deterministic id already existed (a resumed or retried write): not written twice. */
  existing: number;
  /** Orders that could not be written, with why. Never silently dropped. */
  failed: Array<{ id: string; reason: string; code?: string }>;
}

/** A conditional replacement: applied only if the stored revision is still `rev`. */
export interface ConditionalWrite {
  id: string;
  rev: string;
  order: Order;
  /**
   * The order carries its args as stored (read with `readArgs`): the store may then replace the stored
   * document whole, which costs it less than merging the other fields into it. Without it, the stored args
   * are kept whatever the order carries.
   */
  withArgs?: boolean;
}

export type WriteOutcome =
  | { id: string; ok: true; rev: string }
  | { id: string; ok: false; reason: 'conflict' | 'not_found' | 'error'; message?: string };

/** Options of `writeConditional` (all optional). */
export interface ConditionalWriteOptions {
  /**
   * Whether searches (`listOrders`, `countByStatus`, `claimDue` …) must see the writes when the call returns.
   * `false` lets searches lag for a moment (OpenSearch: until the next periodic refresh), which is much cheaper;
   * reads by id (`getOrder`, `getOrders`) and conditional writes always see them. Unset: the store's setting.
   */
  searchable?: boolean;
}

export interface ClaimRequest {
  /** Lease holder (a sidecar's id). */
  owner: string;
  leaseMs: number;
  limit: number;
  now: Date;
  /** Only orders of these requests (rollout control), all when unset. */
  requestIds?: readonly number[];
  /** Only orders for this destination (a pull consumer's filter), all when unset. */
  target?: { type: TargetType; id: string };
}

/** What `OrderStore.findDue` looks for. */
export interface FindDueRequest {
  limit: number;
  now: Date;
  /** Only orders of these partitions (`scheduling.partition`; an order without one is in partition 0). */
  partitions: readonly number[];
  /** Only orders after this place (a `next` of an earlier answer); from the oldest when unset. */
  after?: string;
  /**
   * Read `command.action.args` too (default false), when the answer fits the store's bound on one answer
   * with them; else the orders come without them (read them with `readArgs`, in bounded steps).
   */
  args?: boolean;
}

/** What `OrderStore.findDue` found. */
export interface FindDueResult {
  orders: StoredOrder[];
  /**
   * The place after the last order returned, when more may follow (the answer was full); absent when the
   * search reached the end of the due orders.
   */
  next?: string;
}

export interface ClaimByIdsRequest {
  owner: string;
  leaseMs: number;
  now: Date;
  /** Document ids (`<request_id>-<order_id>`); bounded by the caller (the scheduler sends at most one batch). */
  ids: readonly string[];
}

/** Options of `getOrders`. */
export interface GetOrdersOptions {
  /** Read `command.action.args` too; default true. */
  args?: boolean;
}

/** Options of `readArgs`. */
export interface ReadArgsRequest {
  /** Document ids, in the order they are wanted. */
  ids: readonly string[];
  /** Most bytes of args read in this call (the first id's args are read alone when they are over it). */
  maxBytes: number;
}

/** What `readArgs` read: the args of a prefix of the ids asked, bounded in bytes. */
export interface ReadArgsResult {
  /** How many of the ids asked (from the first) this call settled; ask again with the rest. */
  consumed: number;
  /** `command.action.args` by id, for the settled ids that exist. */
  args: Map<string, Record<string, unknown>>;
  /** Settled ids whose args alone are larger than `maxBytes`: they cannot be read within the bound. */
  tooLarge: string[];
}

/**
 * The orders stream. Operation names follow what the API and the scheduler do with it.
 *
 * `command.action.args` is written once, when an order is saved: no later write rewrites it (a conditional
 * write whose order carries other args, or none, keeps the stored ones). So the steps that do not need it
 * read orders without it, and every read is bounded in bytes as well as in count: the orders returned by
 * `claimDue`, `claimByIds` and `findOverdue` carry no `command.action.args` (the field is absent); delivery
 * reads args with `readArgs`, in batches bounded in bytes; `listOrders` returns whole orders but may return
 * fewer than `size` when they are large (at least one, with a cursor when more may follow).
 */
export interface OrderStore {
  /** Idempotent setup (templates, indices); safe when several processes call it at once. */
  init(): Promise<void>;
  /** Writes a stream of new orders in bounded batches with their deterministic ids (create-only). */
  saveOrders(
    orders: AsyncIterable<Order> | Iterable<Order>,
    options?: SaveOrdersOptions,
  ): Promise<SaveOrdersResult>;
  getOrder(id: string): Promise<StoredOrder | undefined>;
  /**
   * The known orders among `ids`, in the order asked. With `{ args: false }` they carry no
   * `command.action.args` (for steps that only write transitions, so that many orders with large args are
   * never read at once).
   */
  getOrders(ids: readonly string[], options?: GetOrdersOptions): Promise<StoredOrder[]>;
  /** Orders matching a filter, newest request first then order id, paged by cursor. */
  listOrders(filter: OrderFilter, page: PageRequest): Promise<Page<StoredOrder>>;
  countByStatus(filter: OrderFilter): Promise<StatusCounts>;
  /** Per-status counts of each request's orders, in one round trip; a request without orders is absent. */
  countByRequests(requestIds: readonly number[]): Promise<Map<number, StatusCounts>>;
  /**
   * A request's `failure` orders grouped by `result.code`: the `limit` codes with the most orders (ties: the
   * lower code first), each with its count and the message of its lowest order id; `other` counts the
   * failures of the codes left out (and of failures without a result).
   */
  failureBreakdown(requestId: number, limit: number): Promise<FailureBreakdown>;
  /** Conditional replacements in one round trip; a lost race is `conflict`, never an exception. */
  writeConditional(
    writes: readonly ConditionalWrite[],
    options?: ConditionalWriteOptions,
  ): Promise<WriteOutcome[]>;
  /**
   * Claims up to `limit` due orders: `pending`, `next_attempt_at <= now`, deadline not passed, and no live
   * lease (none, or expired). The lease is written conditionally; orders lost to another claimer are
   * skipped. Returns the claimed orders with their new revisions.
   */
  claimDue(request: ClaimRequest): Promise<StoredOrder[]>;
  /**
   * Claims the given orders by id, with the same rules and the same conditional lease write as `claimDue`
   * (an unknown, undue or decided order is skipped, and so is one carrying a lease, lapsed or not: core's
   * `isClaimableById`: leases are judged only by the claim search), reading them by id instead of searching: a
   * just-written order is claimable at once, without waiting for it to become searchable. Returns the claimed
   * orders in the order asked.
   */
  claimByIds(request: ClaimByIdsRequest): Promise<StoredOrder[]>;
  /**
   * Up to `limit` orders of the given partitions that the claim rule allows (pending, due, before their
   * deadline, no live lease), the least recently written first (the store's write sequence, as OpenSearch's
   * `_seq_no`; then request id, order id: a retried order queues behind those written since), after
   * `after`, with their revisions, WITHOUT writing anything: the partition dispatcher holds the partitions'
   * leases and writes only each order's verdict, conditionally on the revision returned here. The dispatcher
   * goes on from `next`, so that it does not read again the orders it is delivering. Like every search it may
   * lag writes by a refresh interval. An answer may hold fewer than `limit` orders and still have a `next` (a
   * store bounds what one answer carries).
   */
  findDue(request: FindDueRequest): Promise<FindDueResult>;
  /** The args of the first of `ids`, as many as fit in `maxBytes` (at least one id is settled). */
  readArgs(request: ReadArgsRequest): Promise<ReadArgsResult>;
  /** `pending` or `sent` orders whose deadline (`delivery_timestamp`) is before `now`. */
  findOverdue(now: Date, limit: number): Promise<StoredOrder[]>;
  /** Terminal orders whose `scheduling.completed_at` is before `before`, for retention. */
  findTerminalBefore(before: Date, page: PageRequest): Promise<Page<StoredOrder>>;
  /**
   * Removes orders conditionally (a changed order is kept). With `archive`, copies each to the archive
   * first (Wazuh-style dated archive index in OpenSearch).
   */
  removeOrders(orders: readonly StoredOrder[], mode: 'archive' | 'delete'): Promise<WriteOutcome[]>;
}

/** Failures of one `result.code` (see `OrderStore.failureBreakdown`). */
export interface FailureCodeCount {
  code: number;
  count: number;
  /** The message of one of them (the lowest order id), as a sample. */
  message: string;
}

export interface FailureBreakdown {
  codes: FailureCodeCount[];
  /** Failures not in `codes`: codes beyond the limit, or no result at all. */
  other: number;
}

/** Filters of `RequestStore.listRequests`; every one given must hold. */
export interface RequestFilter {
  source?: Source;
  /** `command.user` exactly. */
  user?: string;
  /** `command.action.name` exactly. */
  action?: string;
  /** Inclusive lower bound on `created_at` (ISO-8601). */
  from?: string;
  /** Exclusive upper bound on `created_at` (ISO-8601). */
  to?: string;
}

/** A place in the newest-first order of request records: `created_at` descending, then `request_id` descending. */
export interface RequestPosition {
  /** `created_at` in epoch milliseconds. */
  createdAtMs: number;
  requestId: number;
}

export interface RequestListPage {
  size: number;
  /** Only records strictly after this position (the last one of the previous page). */
  after?: RequestPosition;
}

/** Request records (what was asked, how the writing went) and idempotency keys. */
export interface RequestStore {
  init(): Promise<void>;
  /** Creates a record; returns false if one with that id exists already. */
  createRequest(record: RequestRecord): Promise<boolean>;
  getRequest(requestId: number): Promise<RequestRecord | undefined>;
  /**
   * Up to `page.size` records matching `filter`, newest first (`created_at` descending, then `request_id`
   * descending), strictly after `page.after`. Searches may lag a refresh interval behind writes. A store may
   * answer fewer than asked while more follow (it bounds an answer in bytes); an empty answer is the end.
   */
  listRequests(filter: RequestFilter, page: RequestListPage): Promise<RequestRecord[]>;
  /** Replaces a record (last writer wins: only the request's own writer and the rollout stop update it). */
  putRequest(record: RequestRecord): Promise<void>;
  /**
   * Reserves an idempotency key for a caller. Returns `undefined` when the key is new (the caller goes
   * on and later calls `completeIdempotency` or `releaseIdempotency`), or the stored entry when it was seen
   * before. A reservation without a response that is older than `reservation.reservationTtlMs` (measured
   * against `reservation.now`) belongs to a writer that died: it is replaced, conditionally, so that of
   * concurrent retries exactly one gets `undefined`. Without `reservation`, the store's clock is used and
   * reservations never expire.
   */
  reserveIdempotency(
    key: string,
    fingerprint: string,
    reservation?: IdempotencyReservation,
  ): Promise<IdempotencyEntry | undefined>;
  completeIdempotency(key: string, response: unknown): Promise<void>;
  /**
   * Drops a reservation that has no response yet, when its submission failed before writing anything
   * (store unavailable, fan-out exceeded, no target resolved …), so that a retry with the same key is
   * processed instead of answered IDEMPOTENCY_IN_PROGRESS. An answered key and an unknown key are left
   * alone.
   */
  releaseIdempotency(key: string): Promise<void>;
  /**
   * Retention: deletes idempotency entries created before `before.idempotency` (answered or not) and
   * request records created before `before.requests` that are no longer `writing`, at most `limit` of
   * each kind per call. Returns how many documents were deleted (0 when nothing is left to do). Searches
   * may lag writes by a refresh interval: what was written a moment ago may be deleted on the next call.
   */
  removeExpired(before: RetentionBounds, limit: number): Promise<number>;
  /** Records still `writing` whose `updated_at` (or `created_at`) is before `before` (any order, at most `limit`). */
  findStaleWrites(before: Date, limit: number): Promise<RequestRecord[]>;
  /**
   * Creates several records and their (few) orders in ONE round trip to the store, for small submissions.
   * Each record is written create-only, like `createRequest`; each order like `OrderStore.saveOrders`
   * (create-only with its deterministic id, so a repeated call writes nothing twice). The write is not atomic across documents: the outcome says, per entry, what happened to the
   * record and to each order. Throws only when the store could not be asked at all or gave no answer (the
   * outcome is then unknown: the caller reads back what was stored).
   */
  createRequestsWithOrders(entries: readonly RequestWithOrders[]): Promise<RequestWithOrdersOutcome[]>;
}

/** A request record written together with its orders (see `RequestStore.createRequestsWithOrders`). */
export interface RequestWithOrders {
  record: RequestRecord;
  /** Orders created with the record (create-only, deterministic ids); empty to create the record alone. */
  orders: readonly Order[];
}

/** What `createRequestsWithOrders` did for one entry. */
export interface RequestWithOrdersOutcome {
  /**
   * `created`: the record is stored (also when an earlier attempt of this same write stored it);
   * `exists`: ANOTHER record with this request id was there (the id was allocated twice): the orders this
   * call created for the entry were removed again, so none hangs off someone else's request;
   * `failed`: the record could not be written (`reason`); its orders may still have been.
   */
  record: 'created' | 'exists' | 'failed';
  reason?: string;
  /** Orders newly created (and still stored). */
  written: number;
  /** Orders whose deterministic id existed already. */
  existing: number;
  /** Orders that could not be written, with why. */
  failed: Array<{ id: string; reason: string; code?: string }>;
}

/** Time and time-to-live of an idempotency reservation (see `RequestStore.reserveIdempotency`). */
export interface IdempotencyReservation {
  now: Date;
  /** A reservation still without a response after this long is taken over by the next one. */
  reservationTtlMs: number;
}

/** Creation times before which `RequestStore.removeExpired` deletes documents. */
export interface RetentionBounds {
  idempotency: Date;
  requests: Date;
}

export interface IdempotencyEntry {
  fingerprint: string;
  /** Undefined while the first submission is still being processed. */
  response?: unknown;
}

/**
 * The lease of one partition of the orders stream (see `partitions.ts`). `counter` is bumped by every write
 * (a renewal, a take-over, a release), so that an observer can tell a live owner from a silent one by
 * watching the counter on its OWN monotonic clock; no time written by another machine is ever compared.
 */
export interface PartitionLease {
  partition: number;
  /** The sidecar holding it; null when released (free to take at once). */
  owner: string | null;
  counter: number;
  /** Revision of the stored lease, for the next conditional write. */
  rev: string;
}

/** What `PartitionLeaseStore.writeLease` writes. */
export interface PartitionLeaseWrite {
  partition: number;
  owner: string | null;
  counter: number;
}

/** Partition lease documents, written only conditionally (see the scheduler's `partition-leases.ts`). */
export interface PartitionLeaseStore {
  /** Idempotent setup. */
  init(): Promise<void>;
  /**
   * The stored leases of partitions `0 … partitions - 1` (a partition never written is absent), read in
   * real time: a write that returned is seen by the next read, whatever the refresh interval.
   */
  readLeases(partitions: number): Promise<PartitionLease[]>;
  /**
   * Writes a lease conditionally: on the revision `rev` read, or create-only when `rev` is undefined. Returns
   * the new revision, or undefined when another writer changed (or created) it first.
   */
  writeLease(lease: PartitionLeaseWrite, rev: string | undefined): Promise<string | undefined>;
}

/** A named lease-lock (e.g. retention runs in one sidecar at a time). */
export interface LockStore {
  /** Takes or renews the lock if free, expired or already ours. */
  acquire(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean>;
  release(name: string, owner: string): Promise<void>;
}
