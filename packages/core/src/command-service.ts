/**
 * The operations of the command manager as functions: submit, read progress, read and list orders, report
 * results, cancel. The HTTP adapter and embedding services call these; storage comes through ports.
 */
import { createHash } from 'node:crypto';
import type { ActionRegistry } from './action-registry';
import { CommandManagerError, ErrorCodes, isCommandManagerError } from './errors';
import type { ErrorDetail } from './errors';
import { expandOrders, planExpansion } from './expansion';
import type { ExpansionPlan } from './expansion';
import { applyResult, markFailed } from './lifecycle';
import type {
  CommandBatch,
  CommandRequest,
  Order,
  OrderStatus,
  RequestRecord,
  ResultReport,
  StoredOrder,
} from './model';
import { parseOrderDocumentId, ResultCodes } from './model';
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

export interface CommandServiceLimits {
  /** Most commands in one submission (BATCH_TOO_LARGE beyond). */
  maxBatchCommands: number;
  /** Most orders one command may expand to (FANOUT_EXCEEDED beyond). */
  maxFanOut: number;
  /** Most result reports in one call (BATCH_TOO_LARGE beyond). */
  maxResultsPerReport: number;
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
  /** Called after a command's orders were written (e.g. to wake the scheduler). */
  onOrdersWritten?: () => void;
}

/** Write errors kept on a request record and in the answer (the rest are counted, not listed). */
const MAX_WRITE_ERRORS = 100;
/** Re-reads after a lost conditional write before an order is reported as conflicting. */
const MAX_WRITE_ATTEMPTS = 3;
/** Orders read per round trip when applying results or cancelling. */
const READ_CHUNK = 500;
/** Largest page `listOrders` serves. */
const MAX_PAGE_SIZE = 10_000;

export class CommandService implements CommandManagerApi {
  private readonly orders: OrderStore;
  private readonly requests: RequestStore;
  private readonly ids: RequestIdAllocator;
  private readonly agents: AgentDirectory;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly limits: CommandServiceLimits;
  private readonly indexName: string;
  private readonly onOrdersWritten: (() => void) | undefined;
  private readonly validator: CommandValidator;

  constructor(deps: CommandServiceDeps) {
    this.orders = deps.orders;
    this.requests = deps.requests;
    this.ids = deps.ids;
    this.agents = deps.agents;
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'command-service' });
    this.limits = deps.limits;
    this.indexName = deps.indexName;
    this.onOrdersWritten = deps.onOrdersWritten;
    this.validator = new CommandValidator({
      registry: deps.registry,
      maxBatchCommands: deps.limits.maxBatchCommands,
      maxResultsPerReport: deps.limits.maxResultsPerReport,
    });
  }

  /**
   * 1. validate the whole batch (all errors listed), 2. authorise every command against the principal,
   * 3. idempotency, 4. plan every command (fan-out, agent lookups, NO_TARGET_RESOLVED), 5. allocate ids and
   * create the request records, 6. stream each command's orders to the store and record how it went.
   * Any error before step 6 leaves no order written.
   */
  async submit(body: unknown, principal: Principal, options: SubmitOptions = {}): Promise<SubmitResult> {
    const batch = this.validator.validateBatch(body);
    authorise(batch.commands, principal);

    let key: string | undefined;
    if (options.idempotencyKey !== undefined) {
      key = idempotencyStoreKey(principal, options.idempotencyKey);
      const replay = await this.reserve(key, fingerprint(principal, batch));
      if (replay) return replay;
    }

    let plans: ExpansionPlan[];
    let records: RequestRecord[];
    try {
      plans = await planExpansion(batch.commands, { agents: this.agents, maxFanOut: this.limits.maxFanOut });
      const unresolved: ErrorDetail[] = [];
      plans.forEach((p, i) => {
        if (p.count === 0) {
          const { type, id } = p.command.target;
          unresolved.push({
            pointer: `/commands/${i}/target/id`,
            message: type === 'agent' ? `unknown agent "${id}"` : `group "${id}" has no agents`,
          });
        }
      });
      if (unresolved.length > 0) {
        throw new CommandManagerError(
          ErrorCodes.NO_TARGET_RESOLVED,
          'a target resolves to no destination; nothing was written',
          { details: unresolved },
        );
      }
      records = await this.createRecords(plans, principal);
    } catch (e) {
      if (key !== undefined) await this.release(key);
      throw e;
    }

    const commands: SubmittedCommand[] = [];
    for (const [i, plan] of plans.entries()) {
      const record = records[i];
      if (record) commands.push(await this.writeOrders(plan, record, principal));
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
    const counts = await this.orders.countByStatus({ requestId });
    const total = counts.pending + counts.sent + counts.success + counts.failure;
    const terminal = counts.success + counts.failure;
    const writing = request.write_state === 'writing';
    const done = !writing && counts.pending === 0 && counts.sent === 0;
    const rollout: RequestProgress['rollout'] = {
      stopped: Boolean(request.rollout_stopped_at),
      errors: counts.failure,
    };
    if (request.command.max_concurrency !== undefined)
      rollout.max_concurrency = request.command.max_concurrency;
    if (request.command.max_errors !== undefined) rollout.max_errors = request.command.max_errors;
    return { request, counts, progress: total > 0 ? terminal / total : done ? 1 : 0, done, rollout };
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
   * same id in one call is a `conflict` (the first one wins).
   */
  async reportResults(body: unknown, principal: Principal): Promise<ResultOutcome[]> {
    const reports = this.validator.validateResultReports(body);
    const now = this.clock.now();
    const outcomes: Array<ResultOutcome | undefined> = new Array<ResultOutcome | undefined>(reports.length);

    const firstIndex = new Map<string, number>();
    reports.forEach((r, i) => {
      if (!parseOrderDocumentId(r.id)) {
        outcomes[i] = { id: r.id, outcome: 'unknown', message: 'not an order id (<request_id>-<order_id>)' };
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
          writes.push({ index: i, write: { id: stored.id, rev: stored.rev, order }, status: report.status });
        } catch (e) {
          if (!isCommandManagerError(e, ErrorCodes.INVALID_TRANSITION)) throw e;
          outcomes[i] = conflictOutcome(report, stored.order.command.status);
        }
      }
      const retry: number[] = [];
      const results = writes.length > 0 ? await this.orders.writeConditional(writes.map((w) => w.write)) : [];
      results.forEach((res, k) => {
        const w = writes[k];
        if (!w) return;
        if (res.ok) outcomes[w.index] = { id: w.write.id, outcome: 'applied', status: w.status };
        else if (res.reason === 'conflict') retry.push(w.index);
        else if (res.reason === 'not_found')
          outcomes[w.index] = { id: w.write.id, outcome: 'unknown', message: 'no such order' };
        else
          storeErrors.push({
            pointer: `/results/${w.index}`,
            message: res.message ?? 'the store refused the write',
          });
      });
      todo = retry;
    }

    // Later reports for an id already handled in this call: the first one wins.
    reports.forEach((r, i) => {
      if (outcomes[i] !== undefined) return;
      const first = outcomes[firstIndex.get(r.id) ?? -1];
      const status =
        first && first.outcome !== 'unknown' && first.outcome !== 'invalid' ? first.status : undefined;
      outcomes[i] =
        status === undefined
          ? { id: r.id, outcome: 'unknown', message: 'no such order' }
          : conflictOutcome(r, status, 'duplicate report in the same call; the first one was used');
    });

    if (storeErrors.length > 0) {
      // Retrying the call is safe: reports already applied come back as `conflict` with their status.
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
   * Moves the request's `pending` orders to `failure` (result code CANCELLED), conditionally: an order the
   * scheduler delivers at the same moment keeps its `sent`. Only the request's own principal, or one that may
   * act for others (`canDelegate`), may cancel.
   */
  async cancel(requestId: number, principal: Principal): Promise<CancelResult> {
    const request = await this.requests.getRequest(requestId);
    if (!request) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no request ${requestId}`);
    if (request.principal !== principal.name && !principal.canDelegate) {
      throw new CommandManagerError(
        ErrorCodes.FORBIDDEN,
        `request ${requestId} belongs to another principal`,
        {
          details: [
            {
              pointer: '/request_id',
              message: 'may be cancelled only by its submitter or a delegating principal',
            },
          ],
        },
      );
    }
    const result = { code: ResultCodes.CANCELLED, message: `cancelled by ${principal.name}` };
    let cancelled = 0;
    let cursor: string | undefined;
    do {
      const page = await this.orders.listOrders(
        { requestId, status: 'pending' },
        cursor === undefined ? { size: READ_CHUNK } : { size: READ_CHUNK, cursor },
      );
      cancelled += await this.cancelOrders(page.items, result);
      cursor = page.cursor;
    } while (cursor !== undefined);
    this.logger.info('request cancelled', { requestId, cancelled, principal: principal.name });
    return { request_id: requestId, cancelled };
  }

  private async cancelOrders(
    items: StoredOrder[],
    result: { code: number; message: string },
  ): Promise<number> {
    let cancelled = 0;
    let todo = items.filter((s) => s.order.command.status === 'pending');
    for (let attempt = 1; todo.length > 0 && attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const now = this.clock.now();
      const writes = todo.map((s) => ({ id: s.id, rev: s.rev, order: markFailed(s.order, result, now) }));
      const outcomes = await this.orders.writeConditional(writes);
      const lost: string[] = [];
      for (const o of outcomes) {
        if (o.ok) cancelled++;
        else if (o.reason === 'conflict') lost.push(o.id);
        else if (o.reason === 'error')
          this.logger.warn('could not cancel an order', { id: o.id, error: o.message });
      }
      // Lost a race (scheduler leased or sent it): cancel it still if it is pending.
      todo =
        lost.length > 0
          ? (await this.orders.getOrders(lost)).filter((s) => s.order.command.status === 'pending')
          : [];
    }
    return cancelled;
  }

  private async reserve(key: string, print: string): Promise<SubmitResult | undefined> {
    const seen = await this.requests.reserveIdempotency(key, print);
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
    if (!this.requests.releaseIdempotency) return;
    try {
      await this.requests.releaseIdempotency(key);
    } catch (e) {
      this.logger.warn('could not release an idempotency key', { error: errorMessage(e) });
    }
  }

  /** Allocates every request id and creates every record before any order is written. */
  private async createRecords(plans: ExpansionPlan[], principal: Principal): Promise<RequestRecord[]> {
    const now = this.clock.now().toISOString();
    const records: RequestRecord[] = [];
    try {
      for (const plan of plans) {
        const requestId = await this.ids.next();
        const record: RequestRecord = {
          request_id: requestId,
          created_at: now,
          principal: principal.name,
          command: plan.command,
          total_orders: plan.count,
          unresolved: plan.unresolved,
          write_state: 'writing',
          rollout_stopped_at: null,
        };
        if (!(await this.requests.createRequest(record))) {
          throw new CommandManagerError(
            ErrorCodes.INTERNAL,
            `request id ${requestId} was allocated twice (is the id allocator shared by every command manager?)`,
          );
        }
        records.push(record);
      }
    } catch (e) {
      // Nothing was written for these requests; say so on their records.
      for (const r of records) await this.putQuietly({ ...r, total_orders: 0, write_state: 'failed' });
      throw e;
    }
    return records;
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
      agents: this.agents,
      requestId,
      principal: principal.name,
      now: new Date(record.created_at),
      maxFanOut: this.limits.maxFanOut,
    });
    async function* counted(): AsyncGenerator<Order> {
      for await (const order of source) {
        produced++;
        yield order;
      }
    }

    let writeErrors: Array<{ id: string; reason: string }>;
    let stored: number;
    let failedCount: number;
    try {
      const res = await this.orders.saveOrders(counted(), { onProgress: (p) => (progress = p) });
      stored = res.written + res.existing;
      failedCount = res.failed.length;
      writeErrors = res.failed.slice(0, MAX_WRITE_ERRORS);
    } catch (e) {
      // The store (or the group's stream) failed mid-way: what reached the store is what progress said.
      log.error('writing orders failed', { error: errorMessage(e), produced });
      stored = progress.written + progress.existing;
      failedCount = Math.max(1, produced - stored);
      writeErrors = [{ id: '*', reason: errorMessage(e) }];
    }
    const writeState = failedCount === 0 ? 'complete' : stored > 0 ? 'partial' : 'failed';
    const final: RequestRecord = {
      ...record,
      total_orders: Math.max(produced, stored + failedCount),
      write_state: writeState,
    };
    if (writeErrors.length > 0) final.write_errors = writeErrors;
    await this.putQuietly(final);
    if (stored > 0) this.onOrdersWritten?.();
    log.info('orders written', { orders: stored, failed: failedCount, writeState });

    const answer: SubmittedCommand = {
      request_id: requestId,
      orders: stored,
      unresolved: plan.unresolved,
      write_state: writeState,
    };
    if (writeErrors.length > 0) answer.write_errors = writeErrors;
    return answer;
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
      for (const s of await this.orders.getOrders(ids.slice(i, i + READ_CHUNK))) found.set(s.id, s);
    }
    return found;
  }
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
