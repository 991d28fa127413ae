/**
 * The operations of the command manager as one facade: submit, read progress, list requests, read and list
 * orders, report results, cancel. The HTTP adapter and embedding services call it; storage comes through
 * ports. Each concern lives in its own module: authorisation.ts, idempotency.ts, submission-writer.ts,
 * stale-writes.ts, request-progress.ts, result-reports.ts, cancel-request.ts.
 */
import type { ActionRegistry } from './action-registry';
import { authorise } from './authorisation';
import { cancelRequest } from './cancel-request';
import { CommandManagerError, ErrorCodes } from './errors';
import { fingerprint, idempotencyStoreKey, IdempotencyKeys } from './idempotency';
import type { CommandBatch, StoredOrder } from './model';
import { noopLogger } from './noop-logger';
import { decodePlanToken } from './plan-token';
import { DEFAULT_PARTITIONS } from './partitions';
import type {
  AgentDirectory,
  Clock,
  Logger,
  OrderFilter,
  OrderStore,
  Page,
  PageRequest,
  RequestIdAllocator,
  RequestStore,
} from './ports';
import { systemClock } from './ports';
import { listRequests } from './request-history';
import type { RequestListQuery, RequestListResult } from './request-history';
import { requestProgress } from './request-progress';
import { applyResultReports } from './result-reports';
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
import { markStaleWrites } from './stale-writes';
import { checkPlan, planSubmission } from './submission-plan';
import type { PlanDeps, SubmissionPlan } from './submission-plan';
import { SubmissionWriter } from './submission-writer';
import type { OrdersWritten } from './submission-writer';
import { CommandValidator } from './validation';
import { isBareCommand, rebaseBareCommandError } from './wazuh-bodies';
import { DEFAULT_MAX_ARGS_BYTES, DEFAULT_MAX_REQUEST_WRITE_BYTES } from './write-bounds';

export type { OrdersWritten } from './submission-writer';

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
  /** Most bytes of one report's `result.data` as JSON (that report `invalid` beyond). Default 64 KiB. */
  maxResultDataBytes?: number;
  /** Most ids in one command's `exclude_agents` (VALIDATION_FAILED beyond). Default 1000. */
  maxExcludeAgents?: number;
  /** Most ids in one `"type": "agents"` target (VALIDATION_FAILED beyond). Default 1000. */
  maxTargetAgents?: number;
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
  /**
   * Partitions of the orders index (the count recorded in its metadata at creation), written on every order
   * so that sidecars share dispatch by partition. Default `DEFAULT_PARTITIONS`.
   */
  partitions?: number;
}

/** Largest page `listOrders` serves. */
const MAX_PAGE_SIZE = 10_000;

export class CommandService implements CommandManagerApi {
  private readonly orders: OrderStore;
  private readonly requests: RequestStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly staleWriteMs: number;
  private readonly indexName: string;
  private readonly validator: CommandValidator;
  private readonly idempotency: IdempotencyKeys;
  private readonly writer: SubmissionWriter;
  private readonly planDeps: PlanDeps;
  private readonly maxResultDataBytes: number | undefined;

  constructor(deps: CommandServiceDeps) {
    this.orders = deps.orders;
    this.requests = deps.requests;
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'command-service' });
    this.staleWriteMs = deps.limits.staleWriteMs ?? 60_000;
    this.maxResultDataBytes = deps.limits.maxResultDataBytes;
    const bounds = {
      maxArgsBytes: deps.limits.maxArgsBytes ?? DEFAULT_MAX_ARGS_BYTES,
      maxRequestWriteBytes: deps.limits.maxRequestWriteBytes ?? DEFAULT_MAX_REQUEST_WRITE_BYTES,
    };
    this.indexName = deps.indexName;
    this.validator = new CommandValidator({
      registry: deps.registry,
      maxBatchCommands: deps.limits.maxBatchCommands,
      maxResultsPerReport: deps.limits.maxResultsPerReport,
      maxArgsBytes: bounds.maxArgsBytes,
      ...(deps.limits.maxExcludeAgents !== undefined && { maxExcludeAgents: deps.limits.maxExcludeAgents }),
      ...(deps.limits.maxTargetAgents !== undefined && { maxTargetAgents: deps.limits.maxTargetAgents }),
    });
    this.idempotency = new IdempotencyKeys({
      requests: this.requests,
      clock: this.clock,
      logger: this.logger,
      reservationTtlMs: deps.limits.idempotencyReservationTtlMs ?? 600_000,
    });
    this.planDeps = { agents: deps.agents, maxFanOut: deps.limits.maxFanOut, bounds };
    this.writer = new SubmissionWriter({
      orders: this.orders,
      requests: this.requests,
      ids: deps.ids,
      agents: deps.agents,
      clock: this.clock,
      logger: this.logger,
      maxFanOut: deps.limits.maxFanOut,
      bounds,
      staleWriteMs: this.staleWriteMs,
      onOrdersWritten: deps.onOrdersWritten,
      partitions: deps.partitions ?? DEFAULT_PARTITIONS,
    });
  }

  /**
   * 1. validate the whole batch (all errors listed), 2. authorise every command against the principal,
   * 3. decode the plan token, if any, 4. idempotency, 5. with a plan token, check that the targets are still
   * those of the dry run (PLAN_CHANGED), 6. write it (`SubmissionWriter.write`: plan and allocate ids, then one round trip for
   * the records and the small commands' orders, big groups streamed after). Any error before the write
   * leaves nothing written, and releases the Idempotency-Key.
   */
  async submit(body: unknown, principal: Principal, options: SubmitOptions = {}): Promise<SubmitResult> {
    const batch = this.accept(body, principal);
    // A malformed token is refused before the Idempotency-Key is reserved (decoding it writes nothing).
    if (options.planToken !== undefined) decodePlanToken(options.planToken, batch.commands.length);
    let key: string | undefined;
    if (options.idempotencyKey !== undefined) {
      key = idempotencyStoreKey(principal, options.idempotencyKey);
      const replay = await this.idempotency.reserve(key, fingerprint(principal, batch));
      // A retry of a send that was written answers what was written, even if its targets changed since.
      if (replay) return replay;
    }

    let commands: SubmittedCommand[];
    try {
      if (options.planToken !== undefined) {
        await checkPlan(this.planDeps, batch.commands, fingerprint(principal, batch), options.planToken);
      }
      commands = await this.writer.write(batch.commands, principal);
    } catch (e) {
      if (key !== undefined) await this.idempotency.release(key);
      throw e;
    }

    const result: SubmitResult = { index: this.indexName, commands };
    if (key !== undefined) await this.idempotency.complete(key, result);
    return result;
  }

  /**
   * The dry run of a submission: validated and authorised as `submit` does, refused as `submit` would
   * refuse it, and nothing written (submission-plan.ts). Its `plan_token`, passed to `submit` as
   * `planToken`, holds that submission to the targets shown here.
   */
  async planSubmission(body: unknown, principal: Principal): Promise<SubmissionPlan> {
    const batch = this.accept(body, principal);
    return planSubmission(this.planDeps, batch.commands, fingerprint(principal, batch));
  }

  /** Validates the body (Wazuh's shapes included: wazuh-bodies.ts) and authorises every command. */
  private accept(body: unknown, principal: Principal): CommandBatch {
    // A bare command is a batch of one; a missing `user` is the caller.
    const bare = isBareCommand(body);
    try {
      const batch = this.validator.validateBatch(bare ? { commands: [body] } : body, {
        defaultUser: principal.name,
      });
      authorise(batch.commands, principal);
      return batch;
    } catch (e) {
      throw bare ? rebaseBareCommandError(e) : e;
    }
  }

  getRequest(requestId: number): Promise<RequestProgress> {
    return requestProgress({ requests: this.requests, orders: this.orders }, requestId, this.clock.now());
  }

  listRequests(query: RequestListQuery): Promise<RequestListResult> {
    return listRequests({ requests: this.requests, orders: this.orders, clock: this.clock }, query);
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

  /** Validates the reports (all errors listed), then applies them (result-reports.ts). */
  async reportResults(body: unknown, principal: Principal): Promise<ResultOutcome[]> {
    const reports = this.validator.validateResultReports(body);
    return applyResultReports(
      {
        orders: this.orders,
        clock: this.clock,
        logger: this.logger,
        ...(this.maxResultDataBytes !== undefined && { maxResultDataBytes: this.maxResultDataBytes }),
      },
      reports,
      principal,
    );
  }

  /**
   * Fails the request's pending orders with CANCELLED, except those in flight (cancel-request.ts). Only the
   * request's own principal, or one granted `canCancelAny`, may cancel.
   */
  cancel(requestId: number, principal: Principal): Promise<CancelResult> {
    const deps = { requests: this.requests, orders: this.orders, clock: this.clock, logger: this.logger };
    return cancelRequest(deps, requestId, principal);
  }

  /** Marks requests whose writer died mid fan-out (stale-writes.ts); returns how many were marked. */
  markStaleWrites(limit = 100): Promise<number> {
    const deps = {
      requests: this.requests,
      orders: this.orders,
      clock: this.clock,
      logger: this.logger,
      staleWriteMs: this.staleWriteMs,
    };
    return markStaleWrites(deps, limit);
  }
}
