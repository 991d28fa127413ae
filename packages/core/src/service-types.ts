/**
 * The operations of the command manager as functions (the HTTP adapter and embedding services call these).
 * Implemented by `CommandService` (command-service.ts).
 */
import type {
  CommandRequest,
  OrderStatus,
  RequestRecord,
  ResultReport,
  Source,
  StatusCounts,
  StoredOrder,
  WriteState,
} from './model';
import type { FailureBreakdown, OrderFilter, Page, PageRequest } from './ports';
import type { RequestListQuery, RequestListResult } from './request-history';
import type { ErrorCode } from './errors';
import type { SubmissionPlan } from './submission-plan';

/** Who is calling, and what its roles let it do. Built by the adapter that authenticated the caller. */
export interface Principal {
  /** Authenticated name; stored on every order as `scheduling.principal`. */
  name: string;
  roles: readonly string[];
  /** May set `user` to someone other than itself (e.g. the Management API acting for its users). */
  canDelegate: boolean;
  /**
   * May cancel requests submitted by other principals (HTTP role operation `cancel-any`). Delegation does not
   * imply it: acting for users when submitting is not authority over everyone's requests. Absent: false.
   */
  canCancelAny?: boolean;
  /** Sources this caller may claim; `'*'` for all. */
  sources: readonly Source[] | '*';
  /** Actions this caller may send; `'*'` for all. */
  actions: readonly string[] | '*';
}

export interface SubmitOptions {
  /** Idempotency-Key of the submission: a retry with the same key and body returns the first answer. */
  idempotencyKey?: string;
  /**
   * The `plan_token` of a dry run (`planSubmission`) of the same body by the same caller: the submission is
   * written only if it still resolves to the same targets (PLAN_CHANGED otherwise).
   */
  planToken?: string;
}

export interface SubmittedCommand {
  request_id: number;
  /** Orders written for this command; their ids are `<request_id>-1` … `<request_id>-<orders>`. */
  orders: number;
  /** Targets that resolved to no destination (unknown agents). */
  unresolved: string[];
  /** Agents of the target left out by `exclude_agents` (present when the command has eligibility keys). */
  excluded?: number;
  /** Agents of the target left out by `agent_status` (present when the command has eligibility keys). */
  ineligible?: number;
  write_state: WriteState;
  /** Orders that failed to be written (bounded list); the request record keeps them. */
  write_errors?: Array<{ id: string; reason: string; code?: string }>;
}

export interface SubmitResult {
  /** The orders index written to (Wazuh's clients read `_index`). */
  index: string;
  commands: SubmittedCommand[];
}

export interface RequestProgress {
  request: RequestRecord;
  counts: StatusCounts;
  /** Terminal orders / total orders, 0..1. */
  progress: number;
  /** True when every order is terminal (or nothing was written). */
  done: boolean;
  rollout: { stopped: boolean; max_concurrency?: number; max_errors?: number | string; errors: number };
  /** The `failure` orders by `result.code`, each with a sample message (the most frequent codes first). */
  failures: FailureBreakdown;
}

export type ResultOutcome =
  | { id: string; outcome: 'applied'; status: OrderStatus }
  | { id: string; outcome: 'conflict'; status: OrderStatus; message: string }
  | { id: string; outcome: 'unknown'; message: string }
  | { id: string; outcome: 'invalid'; message: string; code?: ErrorCode }
  /** The store refused this report's write (the others of the call were handled); retry it alone. */
  | { id: string; outcome: 'error'; message: string };

export interface CancelResult {
  request_id: number;
  /** Pending orders moved to `failure` (result code CANCELLED). */
  cancelled: number;
  /**
   * Pending orders NOT cancelled because a dispatcher held their lease (being delivered at that moment):
   * each ends `sent` and then takes its agent's result, or returns to `pending` if its delivery fails, when a
   * second cancel catches it. 0 when nothing was in flight.
   */
  in_flight: number;
}

export interface CommandManagerApi {
  /** Validates the whole batch first (nothing written on error), checks fan-out, then writes orders. */
  submit(body: unknown, principal: Principal, options?: SubmitOptions): Promise<SubmitResult>;
  /** The dry run of `submit`: the same checks and refusals, nothing written, a `plan_token` to send with. */
  planSubmission(body: unknown, principal: Principal): Promise<SubmissionPlan>;
  /** Throws NOT_FOUND for an unknown request. */
  getRequest(requestId: number): Promise<RequestProgress>;
  /** A page of request records, newest first, with their counts (request-history.ts). */
  listRequests(query: RequestListQuery): Promise<RequestListResult>;
  /** Throws NOT_FOUND for an unknown order. */
  getOrder(id: string): Promise<StoredOrder>;
  listOrders(filter: OrderFilter, page: PageRequest): Promise<Page<StoredOrder>>;
  /** Applies result reports (validated) following the lifecycle rules; a late or duplicate result is reported, not applied. */
  reportResults(body: unknown, principal: Principal): Promise<ResultOutcome[]>;
  /** Moves a request's pending orders that are not in flight to `failure` with a result saying cancelled. */
  cancel(requestId: number, principal: Principal): Promise<CancelResult>;
}

export type { CommandRequest, ResultReport };
