/**
 * The operations of the command manager as functions: submit, read progress, read and list orders, report
 * results, cancel. The HTTP adapter and embedding services call these; storage comes through ports.
 */
import { createHash } from 'node:crypto';
import type { ActionRegistry } from './action-registry';
import { CommandManagerError, ErrorCodes, isCommandManagerError } from './errors';
import type { ErrorDetail } from './errors';
import { expandOrders, planExpansion } from './expansion';
import { failPendingOrders } from './fail-pending-orders';
import type { ExpandOptions, ExpansionPlan } from './expansion';
import { applyResult } from './lifecycle';
import { resultStorageProblem } from './result-bounds';
import type {
  CommandBatch,
  CommandRequest,
  Order,
  OrderStatus,
  RequestRecord,
  ResultReport,
  StoredOrder,
  WriteState,
} from './model';
import { orderDocumentId, parseOrderDocumentId, ResultCodes } from './model';
import { noopLogger } from './noop-logger';
import type {
  AgentDirectory,
  Clock,
  ConditionalWrite,
  Logger,
  OrderFilter,
  OrderStore,
  Page,
  PageRequest,
  RequestIdAllocator,
  RequestStore,
  RequestWithOrders,
  RequestWithOrdersOutcome,
  SaveProgress,
} from './ports';
import { systemClock } from './ports';
import type {
  CancelResult,
  CommandManagerApi,
  Principal,
  RequestProgress,
  ResultOutcome,
  SubmitOptions,
  SubmitResult,
  SubmittedCommand,
} from './service-types';
import { CommandValidator } from './validation';
import { isBareCommand, rebaseBareCommandError } from './wazuh-bodies';
import { isRequestDone, listRequests } from './request-history';
import type { RequestListQuery, RequestListResult } from './request-history';
import {
  checkRequestWrite,
  DEFAULT_MAX_ARGS_BYTES,
  DEFAULT_MAX_REQUEST_WRITE_BYTES,
  mayExceedWriteBound,
} from './write-bounds';
import type { WriteBounds } from './write-bounds';

export interface CommandServiceLimits {
  /** Most commands in one submission (BATCH_TOO_LARGE beyond). */
  maxBatchCommands: number;
  /** Most orders one submission may expand to, over all its commands (FANOUT_EXCEEDED beyond). */
  maxFanOut: number;
  /** Most bytes of one command's serialized `action.args` (ARGS_TOO_LARGE beyond). Default 16 KiB. */
  maxArgsBytes?: number;
  /**
   * Most bytes of args one submission writes: args bytes × orders, summed over its commands
   * (REQUEST_WRITE_TOO_LARGE beyond). Default 64 MiB. See `write-bounds.ts`.
   */
  maxRequestWriteBytes?: number;
  /** Most result reports in one call (BATCH_TOO_LARGE beyond). */
  maxResultsPerReport: number;
  /**
   * A request still `writing` whose writer has not refreshed `updated_at` for this long is taken for dead
   * (its process was killed mid fan-out) by `markStaleWrites`. Writers refresh it every quarter of this.
   * Default 60 000.
   */
  staleWriteMs?: number;
  /**
   * An Idempotency-Key reservation still without an answer after this long belongs to a submission whose
   * process died between reserving and answering: the next retry with that key takes it over. A TTL rather
   * than a heartbeat: the reservation is one document written once, and a submission's time is bounded (a
   * 100,000-agent fan-out takes seconds), so a TTL far above it never expires a live writer while a
   * heartbeat would cost a write per beat. Default 600 000 (10 minutes).
   */
  idempotencyReservationTtlMs?: number;
}

export interface CommandServiceDeps {
  orders: OrderStore;
  requests: RequestStore;
  ids: RequestIdAllocator;
  agents: AgentDirectory;
  registry: ActionRegistry;
  clock?: Clock;
  logger?: Logger;
  limits: CommandServiceLimits;
  /** The orders index written to, returned as `index` (Wazuh's clients read `_index`). */
  indexName: string;
  /**
   * Called after each command's orders were stored, before the submission is answered, with its request id
   * and how many of its orders are stored: ids `<requestId>-1` … `<requestId>-<orders>` (some may be
   * missing when its write was `partial`). E.g. for the scheduler to wake, or to claim just-submitted orders
   * by id (real-time GET) instead of waiting for a search refresh. A callback that takes no argument fits
   * too. What it throws is logged and never fails the submission.
   */
  onOrdersWritten?: (written: OrdersWritten) => void;
}

/** Argument of `CommandServiceDeps.onOrdersWritten`. */
export interface OrdersWritten {
  requestId: number;
  /** Orders of the request now stored. */
  orders: number;
}

/** Orders of one command written together with its record in one round trip, at most (larger ones stream). */
const INLINE_MAX_ORDERS_PER_COMMAND = 100;
/** Orders of one submission written that way, at most: bounds the body of that round trip (~1 KB an order). */
const INLINE_MAX_ORDERS = 1000;

/** Write errors kept on a request record and in the answer (the rest are counted, not listed). */
const MAX_WRITE_ERRORS = 100;
/** Re-reads after a lost conditional write before an order is reported as conflicting. */
const MAX_WRITE_ATTEMPTS = 3;
/** Orders read per round trip when applying results or cancelling. */
const READ_CHUNK = 500;
/** Largest page `listOrders` serves. */
const MAX_PAGE_SIZE = 10_000;
/** Result codes listed in a request's failure breakdown (the others are counted in `other`). */
const FAILURE_CODES_SHOWN = 20;

export class CommandService implements CommandManagerApi {
  private readonly orders: OrderStore;
  private readonly requests: RequestStore;
  private readonly ids: RequestIdAllocator;
  private readonly agents: AgentDirectory;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly limits: CommandServiceLimits;
  private readonly staleWriteMs: number;
  private readonly bounds: WriteBounds;
  private readonly indexName: string;
  private readonly onOrdersWritten: ((written: OrdersWritten) => void) | undefined;
  private readonly validator: CommandValidator;

  constructor(deps: CommandServiceDeps) {
    this.orders = deps.orders;
    this.requests = deps.requests;
    this.ids = deps.ids;
    this.agents = deps.agents;
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'command-service' });
    this.limits = deps.limits;
    this.staleWriteMs = deps.limits.staleWriteMs ?? 60_000;
    this.bounds = {
      maxArgsBytes: deps.limits.maxArgsBytes ?? DEFAULT_MAX_ARGS_BYTES,
      maxRequestWriteBytes: deps.limits.maxRequestWriteBytes ?? DEFAULT_MAX_REQUEST_WRITE_BYTES,
    };
    this.indexName = deps.indexName;
    this.onOrdersWritten = deps.onOrdersWritten;
    this.validator = new CommandValidator({
      registry: deps.registry,
      maxBatchCommands: deps.limits.maxBatchCommands,
      maxResultsPerReport: deps.limits.maxResultsPerReport,
      maxArgsBytes: this.bounds.maxArgsBytes,
    });
  }

  /**
   * 1. validate the whole batch (all errors listed), 2. authorise every command against the principal,
   * 3. idempotency, 4. plan every command (fan-out, agent lookups) while allocating the request ids (two
   * independent round trips, run at once), 5. NO_TARGET_RESOLVED only when NO command resolves to anything;
   * a command that resolves to nothing is reported (its record says 0 orders and lists its `unresolved`
   * targets) and the others are written, 6. write the records and the orders (see `writeTogether` and
   * `writeSeparately`) and record how it went. Any error before step 6 leaves nothing written; ids
   * allocated for a rejected submission are skipped (unique and increasing, not gapless).
   */
  async submit(body: unknown, principal: Principal, options: SubmitOptions = {}): Promise<SubmitResult> {
    // Wazuh's shapes (wazuh-bodies.ts): a bare command is a batch of one; a missing `user` is the caller.
    const bare = isBareCommand(body);
    let batch: CommandBatch;
    try {
      batch = this.validator.validateBatch(bare ? { commands: [body] } : body, {
        defaultUser: principal.name,
      });
      authorise(batch.commands, principal);
    } catch (e) {
      throw bare ? rebaseBareCommandError(e) : e;
    }

    let key: string | undefined;
    if (options.idempotencyKey !== undefined) {
      key = idempotencyStoreKey(principal, options.idempotencyKey);
      const replay = await this.reserve(key, fingerprint(principal, batch));
      if (replay) return replay;
    }

    let commands: SubmittedCommand[];
    try {
      const [plans, requestIds] = await this.planAndAllocate(batch.commands);
      if (plans.every((p) => p.count === 0)) throw noTargetResolved(plans);
      const now = this.clock.now().toISOString();
      const records = plans.map((plan, i) => newRecord(plan, requestIds[i] as number, now, principal));
      // Both throw only when nothing was written.
      commands = this.requests.createRequestsWithOrders
        ? await this.writeTogether(plans, records, principal)
        : await this.writeSeparately(plans, records, principal);
    } catch (e) {
      if (key !== undefined) await this.release(key);
      throw e;
    }

    const result: SubmitResult = { index: this.indexName, commands };
    if (key !== undefined) {
      try {
        await this.requests.completeIdempotency(key, result);
      } catch (e) {
        this.logger.warn('could not record the idempotent answer', { error: errorMessage(e) });
      }
    }
    return result;
  }

  async getRequest(requestId: number): Promise<RequestProgress> {
    const request = await this.requests.getRequest(requestId);
    if (!request) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no request ${requestId}`);
    const [counts, failures] = await Promise.all([
      this.orders.countByStatus({ requestId }),
      this.orders.failureBreakdown(requestId, FAILURE_CODES_SHOWN),
    ]);
    const total = counts.pending + counts.sent + counts.success + counts.failure;
    const terminal = counts.success + counts.failure;
    const done = isRequestDone(request, counts);
    const rollout: RequestProgress['rollout'] = {
      stopped: Boolean(request.rollout_stopped_at),
      errors: counts.failure,
    };
    if (request.command.max_concurrency !== undefined)
      rollout.max_concurrency = request.command.max_concurrency;
    if (request.command.max_errors !== undefined) rollout.max_errors = request.command.max_errors;
    return {
      request,
      counts,
      progress: total > 0 ? terminal / total : done ? 1 : 0,
      done,
      rollout,
      failures,
    };
  }

  listRequests(query: RequestListQuery): Promise<RequestListResult> {
    return listRequests({ requests: this.requests, orders: this.orders }, query);
  }

  async getOrder(id: string): Promise<StoredOrder> {
    const found = await this.orders.getOrder(id);
    if (!found) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no order ${id}`);
    return found;
  }

  async listOrders(filter: OrderFilter, page: PageRequest): Promise<Page<StoredOrder>> {
    if (!Number.isInteger(page.size) || page.size < 1 || page.size > MAX_PAGE_SIZE) {
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'invalid page size', {
        details: [{ pointer: '/size', message: `must be an integer in 1..${MAX_PAGE_SIZE}` }],
      });
    }
    return this.orders.listOrders(filter, page);
  }

  /**
   * Applies result reports following the lifecycle: unknown order → `unknown`; a transition the lifecycle
   * forbids (late or duplicate result) → `conflict` with the current status, not applied; otherwise a
   * conditional write, re-read and retried when another writer got there first. A second report for the
   * same id in one call is a `conflict` (the first one wins). A report the index cannot store (see
   * result-bounds.ts) is `invalid` (RESULT_NOT_STORABLE) and the others go on. A write the store refuses
   * is `error` for that report only; the call fails (STORE_UNAVAILABLE) only when nothing of it was applied,
   * so that a retry of the whole call is then safe. The reporting principal is stored on each order
   * (`scheduling.reported_by`). The writes force no refresh: progress counts catch up within the refresh
   * interval, while reads by id see them at once.
   */
  async reportResults(body: unknown, principal: Principal): Promise<ResultOutcome[]> {
    const reports = this.validator.validateResultReports(body);
    const now = this.clock.now();
    const outcomes: Array<ResultOutcome | undefined> = new Array<ResultOutcome | undefined>(reports.length);

    const firstIndex = new Map<string, number>();
    reports.forEach((r, i) => {
      const unstorable = resultStorageProblem(r.result);
      if (!parseOrderDocumentId(r.id)) {
        outcomes[i] = { id: r.id, outcome: 'unknown', message: 'not an order id (<request_id>-<order_id>)' };
      } else if (unstorable !== undefined) {
        outcomes[i] = {
          id: r.id,
          outcome: 'invalid',
          message: unstorable,
          code: ErrorCodes.RESULT_NOT_STORABLE,
        };
      } else if (!firstIndex.has(r.id)) {
        firstIndex.set(r.id, i);
      }
    });

    let todo = [...firstIndex.values()];
    const storeErrors: ErrorDetail[] = [];
    for (let attempt = 1; todo.length > 0; attempt++) {
      const current = await this.readOrders(todo.map((i) => (reports[i] as ResultReport).id));
      const writes: Array<{ index: number; write: ConditionalWrite; status: OrderStatus }> = [];
      for (const i of todo) {
        const report = reports[i] as ResultReport;
        const stored = current.get(report.id);
        if (!stored) {
          outcomes[i] = { id: report.id, outcome: 'unknown', message: 'no such order' };
          continue;
        }
        if (attempt > MAX_WRITE_ATTEMPTS) {
          outcomes[i] = conflictOutcome(
            report,
            stored.order.command.status,
            'the order kept changing; try again',
          );
          continue;
        }
        try {
          const order = applyResult(stored.order, report, now);
          order.scheduling.reported_by = principal.name;
          writes.push({ index: i, write: { id: stored.id, rev: stored.rev, order }, status: report.status });
        } catch (e) {
          if (!isCommandManagerError(e, ErrorCodes.INVALID_TRANSITION)) throw e;
          outcomes[i] = conflictOutcome(report, stored.order.command.status);
        }
      }
      const retry: number[] = [];
      const results =
        writes.length > 0
          ? await this.orders.writeConditional(
              writes.map((w) => w.write),
              { searchable: false },
            )
          : [];
      results.forEach((res, k) => {
        const w = writes[k];
        if (!w) return;
        if (res.ok) outcomes[w.index] = { id: w.write.id, outcome: 'applied', status: w.status };
        else if (res.reason === 'conflict') retry.push(w.index);
        else if (res.reason === 'not_found')
          outcomes[w.index] = { id: w.write.id, outcome: 'unknown', message: 'no such order' };
        else {
          const message = res.message ?? 'the store refused the write';
          storeErrors.push({ pointer: `/results/${w.index}`, message });
          outcomes[w.index] = { id: w.write.id, outcome: 'error', message };
        }
      });
      todo = retry;
    }

    // Later reports for an id already handled in this call: the first one wins.
    reports.forEach((r, i) => {
      if (outcomes[i] !== undefined) return;
      const first = outcomes[firstIndex.get(r.id) ?? -1];
      if (first?.outcome === 'error') {
        outcomes[i] = { id: r.id, outcome: 'error', message: first.message };
        return;
      }
      const status =
        first && first.outcome !== 'unknown' && first.outcome !== 'invalid' ? first.status : undefined;
      outcomes[i] =
        status === undefined
          ? { id: r.id, outcome: 'unknown', message: 'no such order' }
          : conflictOutcome(r, status, 'duplicate report in the same call; the first one was used');
    });

    if (storeErrors.length > 0 && !outcomes.some((o) => o?.outcome === 'applied')) {
      // Nothing was applied: retrying the whole call is safe (and a report applied meanwhile by another
      // caller comes back as `conflict` with its status).
      throw new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'some results could not be written', {
        details: storeErrors,
        retryAfterSec: 1,
      });
    }
    const applied = outcomes.filter((o) => o?.outcome === 'applied').length;
    this.logger.debug('results reported', { principal: principal.name, reports: reports.length, applied });
    return outcomes as ResultOutcome[];
  }

  /**
   * Moves the request's `pending` orders to `failure` (result code CANCELLED), conditionally, except those a
   * dispatcher holds under a live lease (in flight: the Management API may be accepting them right now);
   * they are counted as `in_flight` and keep their course. Only the request's own principal, or one granted
   * `canCancelAny`, may cancel.
   */
  async cancel(requestId: number, principal: Principal): Promise<CancelResult> {
    const request = await this.requests.getRequest(requestId);
    if (!request) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no request ${requestId}`);
    if (request.principal !== principal.name && principal.canCancelAny !== true) {
      throw new CommandManagerError(
        ErrorCodes.FORBIDDEN,
        `request ${requestId} belongs to another principal`,
        {
          details: [
            {
              pointer: '/request_id',
              message: 'may be cancelled only by its submitter or a principal granted cancel-any',
            },
          ],
        },
      );
    }
    const result = { code: ResultCodes.CANCELLED, message: `cancelled by ${principal.name}` };
    const { failed, inFlight } = await failPendingOrders(this.orders, request, result, {
      clock: this.clock,
      pageSize: READ_CHUNK,
      maxWriteAttempts: MAX_WRITE_ATTEMPTS,
      onWriteError: (id, error) => this.logger.warn('could not cancel an order', { id, error }),
    });
    this.logger.info('request cancelled', {
      requestId,
      cancelled: failed,
      inFlight,
      principal: principal.name,
    });
    return { request_id: requestId, cancelled: failed, in_flight: inFlight };
  }

  private async reserve(key: string, print: string): Promise<SubmitResult | undefined> {
    const seen = await this.requests.reserveIdempotency(key, print, {
      now: this.clock.now(),
      reservationTtlMs: this.limits.idempotencyReservationTtlMs ?? 600_000,
    });
    if (!seen) return undefined;
    if (seen.fingerprint !== print) {
      throw new CommandManagerError(
        ErrorCodes.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was used with a different body',
      );
    }
    if (seen.response === undefined) {
      throw new CommandManagerError(
        ErrorCodes.IDEMPOTENCY_IN_PROGRESS,
        'the first submission with this Idempotency-Key is still being processed',
        { retryAfterSec: 1 },
      );
    }
    return seen.response as SubmitResult;
  }

  private async release(key: string): Promise<void> {
    try {
      await this.requests.releaseIdempotency(key);
    } catch (e) {
      this.logger.warn('could not release an idempotency key', { error: errorMessage(e) });
    }
  }

  /**
   * Plans the batch (agent lookups, group counts, fan-out) and allocates its request ids at once: the two are
   * independent round trips. Both are awaited before returning, so that no call is left running behind a
   * rejection.
   */
  private async planAndAllocate(commands: readonly CommandRequest[]): Promise<[ExpansionPlan[], number[]]> {
    const { maxFanOut } = this.limits;
    const plan = async (): Promise<ExpansionPlan[]> => {
      const plans = await planExpansion(commands, { agents: this.agents, maxFanOut });
      checkRequestWrite(plans, this.bounds.maxRequestWriteBytes);
      return plans;
    };
    if (mayExceedWriteBound(commands, maxFanOut, this.bounds.maxRequestWriteBytes)) {
      // Args large enough that the groups' sizes decide: count first, so that a refusal consumes no id.
      const plans = await plan();
      return [plans, await this.allocateIds(commands.length)];
    }
    const [planned, allocated] = await Promise.allSettled([plan(), this.allocateIds(commands.length)]);
    if (planned.status === 'rejected') throw toError(planned.reason);
    if (allocated.status === 'rejected') throw toError(allocated.reason);
    return [planned.value, allocated.value];
  }

  /** `n` ids in command order: one `nextBlock` call when the allocator has it, else one `next` each. */
  private async allocateIds(n: number): Promise<number[]> {
    if (n > 1 && this.ids.nextBlock) {
      const block = await this.ids.nextBlock(n);
      if (block.length !== n || new Set(block).size !== n) {
        throw new CommandManagerError(
          ErrorCodes.INTERNAL,
          `the id allocator returned ${block.length} ids for ${n}`,
        );
      }
      return [...block].sort((a, b) => a - b);
    }
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(await this.ids.next());
    return ids;
  }

  /**
   * The write path for stores with `createRequestsWithOrders`: ONE round trip writes every record of the
   * submission together with the orders of its small commands (up to INLINE_MAX_ORDERS_PER_COMMAND orders
   * each, INLINE_MAX_ORDERS in all); an inline record is written in its final state (`complete`, with its
   * order count) and rewritten only if an item failed. Larger commands (big groups) get their record in
   * state `writing` in that same round trip, and only once it is stored are their orders streamed in bulk
   * batches and the record finalised, as in `writeSeparately`.
   *
   * Crash windows (the sidecar dies), and why none leaves stored orders without a record saying how their
   * write went, short of a crash that coincides with a store-side item failure:
   * - before the round trip is sent: nothing is stored; the allocated ids are skipped.
   * - while or after it is sent: OpenSearch reads a `_bulk` body whole before executing any item (a body cut
   *   short is refused) and then executes it whether or not the sender is still there. Every inline record
   *   travels in the same body as its orders, so either none of them reaches the store or all are executed;
   *   a record written `complete` is true as soon as its items succeed.
   * - items are executed per shard and may fail one by one (rejection, unavailable shard, mapping
   *   conflict): the answer says which, and the record is rewritten (`partial`/`failed` with the errors), or
   *   written again if its own item failed while its orders were stored. A crash between that answer and the
   *   rewrite leaves a record that says `complete` while an order is missing (its counts show it), or, if the
   *   record's own item had failed, orders without a record. That double fault is the price of skipping the
   *   create-then-write order (two more sequential round trips per request); the streamed commands keep it.
   * - no answer at all (timeout, connection lost): what was stored is read back by id (real-time GET) and
   *   handled as above; if nothing can be read, the submission fails (503) and whatever OpenSearch may still
   *   have executed is consistent, as above.
   */
  private async writeTogether(
    plans: readonly ExpansionPlan[],
    records: readonly RequestRecord[],
    principal: Principal,
  ): Promise<SubmittedCommand[]> {
    const entries: RequestWithOrders[] = [];
    const inline: boolean[] = [];
    let budget = INLINE_MAX_ORDERS;
    for (const [i, plan] of plans.entries()) {
      const record = records[i] as RequestRecord;
      const cap = Math.min(INLINE_MAX_ORDERS_PER_COMMAND, budget);
      const orders = plan.count <= cap ? await this.expandInline(plan, record, principal, cap) : undefined;
      if (orders) {
        budget -= orders.length;
        entries.push({ record: { ...record, total_orders: orders.length, write_state: 'complete' }, orders });
      } else {
        entries.push({ record, orders: [] });
      }
      inline.push(orders !== undefined);
    }

    const store = this.requests as Required<Pick<RequestStore, 'createRequestsWithOrders'>>;
    let outcomes: RequestWithOrdersOutcome[];
    try {
      outcomes = await store.createRequestsWithOrders(entries);
      if (outcomes.length !== entries.length) {
        throw new CommandManagerError(
          ErrorCodes.INTERNAL,
          `the request store answered ${outcomes.length} outcomes for ${entries.length} requests`,
        );
      }
    } catch (e) {
      outcomes = await this.readBack(entries, e);
    }

    const answers = new Array<SubmittedCommand>(entries.length);
    // Inline commands first (their orders are stored already), then the ones that stream.
    for (const pass of [true, false]) {
      for (const [i, entry] of entries.entries()) {
        if (inline[i] !== pass) continue;
        const outcome = outcomes[i] as RequestWithOrdersOutcome;
        answers[i] = pass
          ? await this.finishInline(entry, outcome)
          : await this.finishStreamed(plans[i] as ExpansionPlan, entry.record, outcome, principal);
      }
    }
    return answers;
  }

  /** The orders of a small command, in memory; undefined when it has more than `cap` (a group that grew). */
  private async expandInline(
    plan: ExpansionPlan,
    record: RequestRecord,
    principal: Principal,
    cap: number,
  ): Promise<Order[] | undefined> {
    const orders: Order[] = [];
    for await (const order of expandOrders(plan, this.expandOptions(record, principal))) {
      if (orders.length >= cap) return undefined; // leaving the loop closes the group's paging
      orders.push(order);
    }
    return orders;
  }

  private expandOptions(record: RequestRecord, principal: Principal): ExpandOptions {
    return {
      agents: this.agents,
      requestId: record.request_id,
      principal: principal.name,
      now: new Date(record.created_at),
      maxFanOut: this.limits.maxFanOut,
    };
  }

  /**
   * The store gave no answer to `createRequestsWithOrders`: it may still have executed it (e.g. a timeout
   * after OpenSearch wrote everything). Reads back by id (real time) what is stored. Rethrows `cause` when
   * nothing was stored or nothing can be read (then nothing was written, as far as can be known).
   */
  private async readBack(
    entries: readonly RequestWithOrders[],
    cause: unknown,
  ): Promise<RequestWithOrdersOutcome[]> {
    const reason = publicReason(cause);
    let outcomes: RequestWithOrdersOutcome[];
    try {
      outcomes = await Promise.all(
        entries.map(async ({ record, orders }): Promise<RequestWithOrdersOutcome> => {
          const stored = await this.requests.getRequest(record.request_id);
          const ids = orders.map((o) => orderDocumentId(o.command.request_id, o.command.order_id));
          const found = ids.length > 0 ? await this.readOrders(ids) : new Map<string, StoredOrder>();
          const state =
            stored === undefined
              ? 'failed'
              : canonicalJson(stored) === canonicalJson(record)
                ? 'created'
                : 'exists';
          return {
            record: state,
            ...(state === 'failed' && { reason }),
            written: found.size,
            existing: 0,
            failed: ids.filter((id) => !found.has(id)).map((id) => ({ id, reason })),
          };
        }),
      );
    } catch (e) {
      this.logger.warn('could not read back a submission the store did not answer', {
        error: errorMessage(e),
      });
      throw toError(cause);
    }
    if (outcomes.every((o) => o.record !== 'created' && o.written === 0)) throw toError(cause);
    this.logger.warn('the store did not answer a submission, but stored (part of) it', {
      error: errorMessage(cause),
    });
    return outcomes;
  }

  private async finishInline(
    entry: RequestWithOrders,
    outcome: RequestWithOrdersOutcome,
  ): Promise<SubmittedCommand> {
    const { record } = entry;
    if (outcome.record === 'exists') return this.idCollision(record, outcome);
    const stored = outcome.written + outcome.existing;
    const failedCount = outcome.failed.length;
    const writeState = writeStateOf(stored, failedCount);
    const final: RequestRecord = {
      ...record,
      total_orders: Math.max(entry.orders.length, stored + failedCount),
      write_state: writeState,
    };
    const writeErrors = outcome.failed.slice(0, MAX_WRITE_ERRORS);
    if (writeErrors.length > 0) final.write_errors = writeErrors;
    // The record was written saying `complete`: rewrite it if that is not what happened, and write it again
    // if its own item failed (its orders may be stored).
    if (outcome.record !== 'created' || writeState !== 'complete') await this.putQuietly(final);
    if (stored > 0) this.notifyWritten(record.request_id, stored);
    this.logger.debug('orders written', {
      requestId: record.request_id,
      orders: stored,
      failed: failedCount,
      writeState,
    });
    return answerOf(record, stored, writeState, writeErrors);
  }

  private async finishStreamed(
    plan: ExpansionPlan,
    record: RequestRecord,
    outcome: RequestWithOrdersOutcome,
    principal: Principal,
  ): Promise<SubmittedCommand> {
    if (outcome.record === 'exists') return this.idCollision(record, outcome);
    if (outcome.record === 'failed') {
      // Its orders are written only under a stored record; try once more to leave one that says so.
      const writeErrors = [{ id: '*', reason: outcome.reason ?? 'the request record could not be written' }];
      await this.putQuietly({ ...record, total_orders: 0, write_state: 'failed', write_errors: writeErrors });
      this.logger.error('request record not written; none of its orders were', {
        requestId: record.request_id,
        error: writeErrors[0]?.reason,
      });
      return answerOf(record, 0, 'failed', writeErrors);
    }
    return this.writeOrders(plan, record, principal);
  }

  /** Another record holds this request id: ids are not shared by every command manager (misconfiguration). */
  private idCollision(record: RequestRecord, outcome: RequestWithOrdersOutcome): SubmittedCommand {
    const reason = `request id ${record.request_id} was allocated twice (is the id allocator shared by every command manager?)`;
    this.logger.error('request id allocated twice; the command was not written', {
      requestId: record.request_id,
    });
    const stored = outcome.written + outcome.existing;
    return answerOf(record, stored, stored > 0 ? 'partial' : 'failed', [{ id: '*', reason }]);
  }

  /**
   * The write path for request stores without `createRequestsWithOrders`: every record is created before
   * any order is written, then each command's orders are streamed and its record finalised.
   */
  private async writeSeparately(
    plans: readonly ExpansionPlan[],
    records: readonly RequestRecord[],
    principal: Principal,
  ): Promise<SubmittedCommand[]> {
    await this.createRecords(records);
    const answers: SubmittedCommand[] = [];
    for (const [i, plan] of plans.entries()) {
      const record = records[i] as RequestRecord;
      // A command that resolved to nothing has its final record already (0 orders, `complete`).
      answers.push(
        plan.count === 0
          ? answerOf(record, 0, 'complete', [])
          : await this.writeOrders(plan, record, principal),
      );
    }
    return answers;
  }

  /** Creates every record (in order); on failure marks the ones created as failed and throws. */
  private async createRecords(records: readonly RequestRecord[]): Promise<void> {
    const created: RequestRecord[] = [];
    try {
      for (const record of records) {
        if (!(await this.requests.createRequest(record))) {
          throw new CommandManagerError(
            ErrorCodes.INTERNAL,
            `request id ${record.request_id} was allocated twice (is the id allocator shared by every command manager?)`,
          );
        }
        created.push(record);
      }
    } catch (e) {
      // Nothing was written for these requests; say so on their records.
      for (const r of created) await this.putQuietly({ ...r, total_orders: 0, write_state: 'failed' });
      throw e;
    }
  }

  private notifyWritten(requestId: number, orders: number): void {
    if (!this.onOrdersWritten) return;
    try {
      this.onOrdersWritten({ requestId, orders });
    } catch (e) {
      this.logger.warn('onOrdersWritten failed', { requestId, error: errorMessage(e) });
    }
  }

  private async writeOrders(
    plan: ExpansionPlan,
    record: RequestRecord,
    principal: Principal,
  ): Promise<SubmittedCommand> {
    const requestId = record.request_id;
    const log = this.logger.child({ requestId });
    let produced = 0;
    let progress: SaveProgress = { written: 0, existing: 0, failed: 0 };
    const source = expandOrders(plan, this.expandOptions(record, principal));
    async function* counted(): AsyncGenerator<Order> {
      for await (const order of source) {
        produced++;
        yield order;
      }
    }

    // Heartbeat: a long fan-out refreshes its record's `updated_at`, so that `markStaleWrites` can tell a
    // write in progress from one whose process died. Beats are chained and awaited before the final write,
    // so a late beat never overwrites the final state.
    const beatEveryMs = this.staleWriteMs / 4;
    let lastBeat = this.clock.now().getTime();
    let beats: Promise<void> = Promise.resolve();
    const onProgress = (p: SaveProgress): void => {
      progress = p;
      const now = this.clock.now();
      if (now.getTime() - lastBeat < beatEveryMs) return;
      lastBeat = now.getTime();
      beats = beats.then(() => this.putQuietly({ ...record, updated_at: now.toISOString() }));
    };

    let writeErrors: Array<{ id: string; reason: string }>;
    let stored: number;
    let failedCount: number;
    try {
      const res = await this.orders.saveOrders(counted(), { onProgress });
      stored = res.written + res.existing;
      failedCount = res.failed.length;
      writeErrors = res.failed.slice(0, MAX_WRITE_ERRORS);
    } catch (e) {
      // The store (or the group's stream) failed mid-way: what reached the store is what progress said.
      log.error('writing orders failed', { error: errorMessage(e), produced });
      stored = progress.written + progress.existing;
      failedCount = Math.max(1, produced - stored);
      writeErrors = [{ id: '*', reason: publicReason(e) }];
    }
    const writeState = writeStateOf(stored, failedCount);
    const final: RequestRecord = {
      ...record,
      total_orders: Math.max(produced, stored + failedCount),
      write_state: writeState,
      updated_at: this.clock.now().toISOString(),
    };
    if (writeErrors.length > 0) final.write_errors = writeErrors;
    await beats;
    await this.putQuietly(final);
    if (stored > 0) this.notifyWritten(requestId, stored);
    log.info('orders written', { orders: stored, failed: failedCount, writeState });
    return answerOf(record, stored, writeState, writeErrors);
  }

  /**
   * Marks requests whose writer died mid fan-out (record still `writing`, no heartbeat for `staleWriteMs`)
   * as `partial` (some orders stored) or `failed` (none), with a write error that says so. The orders that
   * were stored stay and are dispatched; the record no longer claims a write in progress. Safe to run in
   * every sidecar: a live writer's final record write (last writer wins) restores the truth if a beat was
   * merely late. Returns how many records were marked.
   */
  async markStaleWrites(limit = 100): Promise<number> {
    if (!this.requests.findStaleWrites) return 0;
    const now = this.clock.now();
    const stale = await this.requests.findStaleWrites(new Date(now.getTime() - this.staleWriteMs), limit);
    for (const record of stale) {
      const counts = await this.orders.countByStatus({ requestId: record.request_id });
      const stored = counts.pending + counts.sent + counts.success + counts.failure;
      const reason = `the writer stopped before finishing (no heartbeat since ${record.updated_at ?? record.created_at})`;
      await this.putQuietly({
        ...record,
        write_state: stored > 0 ? 'partial' : 'failed',
        updated_at: now.toISOString(),
        write_errors: [{ id: '*', reason }],
      });
      this.logger.warn('request write interrupted; marked', { requestId: record.request_id, stored });
    }
    return stale.length;
  }

  private async putQuietly(record: RequestRecord): Promise<void> {
    try {
      await this.requests.putRequest(record);
    } catch (e) {
      this.logger.error('could not update a request record', {
        requestId: record.request_id,
        error: errorMessage(e),
      });
    }
  }

  private async readOrders(ids: string[]): Promise<Map<string, StoredOrder>> {
    const found = new Map<string, StoredOrder>();
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      // Without args: callers only write transitions, which leave the stored args alone.
      const chunk = await this.orders.getOrders(ids.slice(i, i + READ_CHUNK), { args: false });
      for (const s of chunk) found.set(s.id, s);
    }
    return found;
  }
}

/** A command's record before its orders are written: `complete` at once when it resolved to nothing. */
function newRecord(plan: ExpansionPlan, requestId: number, now: string, principal: Principal): RequestRecord {
  return {
    request_id: requestId,
    created_at: now,
    principal: principal.name,
    command: plan.command,
    total_orders: plan.count,
    unresolved: plan.unresolved,
    write_state: plan.count === 0 ? 'complete' : 'writing',
    updated_at: now,
    rollout_stopped_at: null,
  };
}

function writeStateOf(stored: number, failed: number): WriteState {
  return failed === 0 ? 'complete' : stored > 0 ? 'partial' : 'failed';
}

function answerOf(
  record: RequestRecord,
  orders: number,
  writeState: WriteState,
  writeErrors: ReadonlyArray<{ id: string; reason: string }>,
): SubmittedCommand {
  const answer: SubmittedCommand = {
    request_id: record.request_id,
    orders,
    unresolved: record.unresolved,
    write_state: writeState,
  };
  if (writeErrors.length > 0) answer.write_errors = [...writeErrors];
  return answer;
}

/** Every command resolved to nothing (unknown agents, empty groups): the submission writes nothing. */
function noTargetResolved(plans: readonly ExpansionPlan[]): CommandManagerError {
  return new CommandManagerError(
    ErrorCodes.NO_TARGET_RESOLVED,
    'no target of the submission resolves to a destination; nothing was written',
    {
      details: plans.map((p, i) => {
        const { type, id } = p.command.target;
        return {
          pointer: `/commands/${i}/target/id`,
          message: type === 'agent' ? `unknown agent "${id}"` : `group "${id}" has no agents`,
        };
      }),
    },
  );
}

/** FORBIDDEN, naming every field the principal may not set. */
function authorise(commands: readonly CommandRequest[], principal: Principal): void {
  const details: ErrorDetail[] = [];
  commands.forEach((c, i) => {
    if (principal.sources !== '*' && !principal.sources.includes(c.source)) {
      details.push({
        pointer: `/commands/${i}/source`,
        message: `${principal.name} may not send commands as "${c.source}"`,
      });
    }
    if (principal.actions !== '*' && !principal.actions.includes(c.action.name)) {
      details.push({
        pointer: `/commands/${i}/action/name`,
        message: `${principal.name} may not send action "${c.action.name}"`,
      });
    }
    if (!principal.canDelegate && c.user !== principal.name) {
      details.push({
        pointer: `/commands/${i}/user`,
        message: `must be "${principal.name}": this principal may not act for another user`,
      });
    }
  });
  if (details.length > 0) {
    throw new CommandManagerError(ErrorCodes.FORBIDDEN, `${principal.name} may not submit this request`, {
      details,
    });
  }
}

function conflictOutcome(report: ResultReport, status: OrderStatus, message?: string): ResultOutcome {
  return {
    id: report.id,
    outcome: 'conflict',
    status,
    message:
      message ??
      `the order is ${status}; a ${report.status} result cannot be applied (late or duplicate result)`,
  };
}

/** JSON with object keys sorted, so that the fingerprint does not depend on field order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function fingerprint(principal: Principal, batch: CommandBatch): string {
  return createHash('sha256').update(principal.name).update('\n').update(canonicalJson(batch)).digest('hex');
}

/** Keys are per principal (one caller cannot block another's key) and of bounded length (a store document id). */
function idempotencyStoreKey(principal: Principal, key: string): string {
  return createHash('sha256').update(principal.name).update('\n').update(key).digest('hex');
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A failure as callers may read it (write errors of a request): a store adapter's INTERNAL message names
 * its internals (OpenSearch's own text), which only the log gets.
 */
function publicReason(e: unknown): string {
  return isCommandManagerError(e, ErrorCodes.INTERNAL) ? 'internal error (see the log)' : errorMessage(e);
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
