/**
 * Writing a submission: plan every command (fan-out, agent lookups) while allocating its request ids, then
 * write the records and the orders (`writeTogether`) and record on each request how its write went.
 * Orders are written only under a stored record; a long fan-out beats its record's `updated_at` so that
 * `markStaleWrites` (stale-writes.ts) can tell a live writer from a dead one.
 */
import { sameJson } from './canonical-json';
import { CommandManagerError, ErrorCodes } from './errors';
import { liveUntil } from './live-membership';
import { hasEligibility } from './eligibility';
import { expandOrders, noTargetResolved, planExpansion } from './expansion';
import type { ExpandOptions, ExpansionPlan } from './expansion';
import type { CommandRequest, Order, RequestRecord, StoredOrder, WriteState } from './model';
import { orderDocumentId } from './model';
import type {
  AgentDirectory,
  Clock,
  Logger,
  OrderStore,
  RequestIdAllocator,
  RequestStore,
  RequestWithOrders,
  RequestWithOrdersOutcome,
  SaveProgress,
} from './ports';
import type { Principal, SubmittedCommand } from './service-types';
import { checkRequestWrite, mayExceedWriteBound } from './write-bounds';
import type { WriteBounds } from './write-bounds';
import { errorMessage, publicReason, toError } from './internal/error-text';
import { putRecordQuietly, readOrders } from './internal/store-access';

/** Argument of `CommandServiceDeps.onOrdersWritten`. */
export interface OrdersWritten {
  requestId: number;
  /** Orders of the request now stored. */
  orders: number;
}

export interface SubmissionWriterDeps {
  orders: OrderStore;
  requests: RequestStore;
  ids: RequestIdAllocator;
  agents: AgentDirectory;
  clock: Clock;
  logger: Logger;
  /** Most orders one submission may expand to (FANOUT_EXCEEDED beyond). */
  maxFanOut: number;
  bounds: WriteBounds;
  /** A writer beats its record every quarter of this (see `CommandServiceLimits.staleWriteMs`). */
  staleWriteMs: number;
  onOrdersWritten: ((written: OrdersWritten) => void) | undefined;
  /** Partitions of the orders stream, written on every order (see `partitions.ts`). */
  partitions: number;
}

/** Orders of one command written together with its record in one round trip, at most (larger ones stream). */
const INLINE_MAX_ORDERS_PER_COMMAND = 100;
/** Orders of one submission written that way, at most: bounds the body of that round trip (~1 KB an order). */
const INLINE_MAX_ORDERS = 1000;
/** Write errors kept on a request record and in the answer (the rest are counted, not listed). */
const MAX_WRITE_ERRORS = 100;

export class SubmissionWriter {
  private readonly orders: OrderStore;
  private readonly requests: RequestStore;
  private readonly ids: RequestIdAllocator;
  private readonly agents: AgentDirectory;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxFanOut: number;
  private readonly bounds: WriteBounds;
  private readonly staleWriteMs: number;
  private readonly onOrdersWritten: ((written: OrdersWritten) => void) | undefined;
  private readonly partitions: number;

  constructor(deps: SubmissionWriterDeps) {
    this.orders = deps.orders;
    this.requests = deps.requests;
    this.ids = deps.ids;
    this.agents = deps.agents;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.maxFanOut = deps.maxFanOut;
    this.bounds = deps.bounds;
    this.staleWriteMs = deps.staleWriteMs;
    this.onOrdersWritten = deps.onOrdersWritten;
    this.partitions = deps.partitions;
  }

  /**
   * Plans the commands while allocating their request ids; NO_TARGET_RESOLVED only when NO command resolves
   * to anything (a command that resolves to nothing is reported: its record says 0 orders and lists its
   * `unresolved` targets); then writes the records and the orders. Throws only when nothing was written;
   * ids allocated for a rejected submission are skipped (unique and increasing, not gapless).
   */
  async write(commands: readonly CommandRequest[], principal: Principal): Promise<SubmittedCommand[]> {
    const [plans, requestIds] = await this.planAndAllocate(commands);
    if (plans.every((p) => p.count === 0)) throw noTargetResolved(plans);
    const now = this.clock.now().toISOString();
    const records = plans.map((plan, i) => newRecord(plan, requestIds[i] as number, now, principal));
    return this.writeTogether(plans, records, principal);
  }

  /**
   * Plans the batch (agent lookups, group counts, fan-out) and allocates its request ids at once: the two are
   * independent round trips. Both are awaited before returning, so that no call is left running behind a
   * rejection.
   */
  private async planAndAllocate(commands: readonly CommandRequest[]): Promise<[ExpansionPlan[], number[]]> {
    const maxFanOut = this.maxFanOut;
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

  /** `n` ids in command order: one `nextBlock` call for several, one `next` for one. */
  private async allocateIds(n: number): Promise<number[]> {
    if (n > 1) {
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
   * ONE round trip (`createRequestsWithOrders`) writes every record of the submission together with the
   * orders of its small commands (up to INLINE_MAX_ORDERS_PER_COMMAND orders each, INLINE_MAX_ORDERS in
   * all); an inline record is written in its final state (`complete`, with its order count) and rewritten
   * only if an item failed. Larger commands (big groups) get their record in state `writing` in that same
   * round trip, and only once it is stored are their orders streamed in bulk batches (`writeOrders`) and
   * the record finalised.
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

    let outcomes: RequestWithOrdersOutcome[];
    try {
      outcomes = await this.requests.createRequestsWithOrders(entries);
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
      maxFanOut: this.maxFanOut,
      partitions: this.partitions,
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
          const found = ids.length > 0 ? await readOrders(this.orders, ids) : new Map<string, StoredOrder>();
          const state = stored === undefined ? 'failed' : sameJson(stored, record) ? 'created' : 'exists';
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
    const source = expandOrders(plan, {
      ...this.expandOptions(record, principal),
      onOrder: () => {
        produced++;
      },
    });

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
      const res = await this.orders.saveOrders(source, { onProgress });
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

  private putQuietly(record: RequestRecord): Promise<void> {
    return putRecordQuietly(this.requests, this.logger, record);
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
    ...(hasEligibility(plan.command) && { excluded: plan.excluded, ineligible: plan.ineligible }),
    write_state: plan.count === 0 ? 'complete' : 'writing',
    updated_at: now,
    rollout_stopped_at: null,
    ...(plan.command.membership === 'live' && { live_until: liveUntil(plan.command, now) }),
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
  if (record.excluded !== undefined) answer.excluded = record.excluded;
  if (record.ineligible !== undefined) answer.ineligible = record.ineligible;
  if (writeErrors.length > 0) answer.write_errors = [...writeErrors];
  return answer;
}
