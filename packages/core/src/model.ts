/**
 * The data model shared by every package. Field names of `Order` follow the layout of Wazuh's own
 * `wazuh-commands` index (`command.*`, `agent.groups`, `@timestamp`, `delivery_timestamp`) so that Wazuh
 * tooling and dashboards can read the orders index; the scheduler's bookkeeping lives apart in
 * `scheduling`.
 *
 * NOTE: the JSON Schemas in `schemas.ts` are the source of truth for what the API accepts; a unit test
 * checks that these types and the schemas do not drift.
 */

export const SOURCES = ['Users/Services', 'Engine', 'Content manager'] as const;
export type Source = (typeof SOURCES)[number];

export const TARGET_TYPES = ['agent', 'group', 'server'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

export const ORDER_STATUSES = ['pending', 'sent', 'success', 'failure'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const TERMINAL_STATUSES: readonly OrderStatus[] = ['success', 'failure'];

export interface Target {
  type: TargetType;
  id: string;
}

/** A command's target type: an order's, or `agents` (a list of agents in one command). */
export const COMMAND_TARGET_TYPES = [...TARGET_TYPES, 'agents'] as const;

/** Several agents in one command: one request, one order per known agent, in the order listed. */
export interface AgentsTarget {
  type: 'agents';
  ids: string[];
}

/** What a command may target: an agent, a group, a server component, or a list of agents. */
export type CommandTarget = Target | AgentsTarget;

export interface Action {
  name: string;
  args: Record<string, unknown>;
  version?: string;
}

/** Rollout control (beyond Wazuh's plugin): bounds how many orders of a request are in flight and how many may fail. */
export interface Rollout {
  /** Orders of the request that may be `sent` but not yet terminal at once. */
  max_concurrency?: number;
  /** Error budget: an absolute count (`"5"`, `5`) or a percentage (`"10%"`) of the request's orders. */
  max_errors?: number | string;
}

/**
 * Which agents of an agent or group target get an order (beyond Wazuh's plugin). The agents left out are
 * counted in the answer and on the request record, never silently dropped.
 */
export interface Eligibility {
  /** Only agents whose `agent.status` is one of these (e.g. `["active"]`); every agent when absent. */
  agent_status?: string[];
  /** Agent ids that get no order. */
  exclude_agents?: string[];
}

export const MEMBERSHIPS = ['snapshot', 'live'] as const;
export type Membership = (typeof MEMBERSHIPS)[number];

/** One element of the API's `commands` array, as Wazuh's clients send it (plus optional rollout and eligibility keys). */
export interface CommandRequest extends Rollout, Eligibility {
  source: Source;
  user: string;
  target: CommandTarget;
  action: Action;
  /** Seconds the order may take before it counts as failed (the agent's time to execute once it has it). */
  timeout: number;
  /**
   * Seconds from submission during which an order may still reach its agent (default: `timeout`): an agent
   * offline for the whole window fails with AGENT_OFFLINE. See `deadline-rule.ts`.
   */
  delivery_window_s?: number;
  /**
   * Group targets: `snapshot` (default) expands the group once, at submission; `live` also gives an order to
   * agents that join the group until the delivery window ends (`live-membership.ts`).
   */
  membership?: Membership;
  /** The request this one re-runs (its parent); a link kept in the request record only. */
  rerun_of?: number;
}

export interface CommandBatch {
  commands: CommandRequest[];
}

export interface OrderResult {
  /** Agent/Comms API result code; the command manager uses codes >= 900 for its own verdicts (see ResultCodes). */
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

/** Bookkeeping of the scheduler, kept apart from Wazuh's fields. Times are ISO-8601 strings. */
export interface Scheduling {
  /** The authenticated principal that submitted the command (not the claimed `user`). */
  principal: string;
  attempts: number;
  /** Earliest time of the next delivery attempt. */
  next_attempt_at: string;
  /**
   * The order's partition of the orders stream (core's `partitions.ts`): the sidecar holding its lease
   * dispatches it. Absent on orders written before partitions existed: they belong to partition 0.
   */
  partition?: number;
  /** Sidecar holding the dispatch lease, if any. */
  lease_owner?: string | null;
  lease_expires_at?: string | null;
  sent_at?: string | null;
  completed_at?: string | null;
  /** Last delivery error, for operators. */
  last_error?: string | null;
  /** The authenticated principal that reported the order's result (the Comms API's identity). */
  reported_by?: string | null;
  /** End of the command's delivery window (`delivery_window_s`), when the command has one. */
  delivery_window_ends_at?: string | null;
  /** When a deadline check first found the order's agent offline (its deadline was then postponed). */
  agent_offline_at?: string | null;
  /** When a later deadline check found that agent back online (it then got `timeout` from that moment). */
  agent_back_at?: string | null;
}

/** One document of the orders stream: one command for one destination. */
export interface Order {
  '@timestamp': string;
  /**
   * The deadline: `@timestamp` + `command.timeout` seconds; the deadline sweep moves it later, within the
   * delivery window, while the order waits for its agent (`deadline-rule.ts`).
   */
  delivery_timestamp: string;
  agent: { groups: string[] };
  command: {
    source: Source;
    user: string;
    target: Target;
    action: Action;
    timeout: number;
    status: OrderStatus;
    result?: OrderResult | null;
    request_id: number;
    order_id: number;
  };
  scheduling: Scheduling;
}

/** An order as read from a store: its document id and an opaque concurrency token for conditional writes. */
export interface StoredOrder {
  id: string;
  /** Opaque revision; pass it back to a conditional write. Its format belongs to the store. */
  rev: string;
  order: Order;
}

/** How a request's orders were written; `partial` and `failed` say that some orders were not stored. */
export type WriteState = 'writing' | 'complete' | 'partial' | 'failed';

/** A command request's record: what was asked and how far its writing and rollout went. */
export interface RequestRecord {
  request_id: number;
  created_at: string;
  principal: string;
  command: CommandRequest;
  /** Orders the expansion produced (and tried to write). */
  total_orders: number;
  /** Targets that did not resolve to any destination (unknown agents, empty groups). */
  unresolved: string[];
  /** Agents of the target left out by `exclude_agents` (present when the command has eligibility keys). */
  excluded?: number;
  /** Agents of the target left out by `agent_status` (present when the command has eligibility keys). */
  ineligible?: number;
  write_state: WriteState;
  /** Last heartbeat of the writer while `writing` (ISO-8601); a stale one means the writer died. */
  updated_at?: string;
  /** Orders that could not be written, with why (bounded list). */
  write_errors?: Array<{ id: string; reason: string; code?: string }>;
  /** Set once the error budget is spent and remaining pending orders were failed. */
  rollout_stopped_at?: string | null;
  /** A live group command's window end (ISO-8601): agents joining the group until then get an order. */
  live_until?: string;
}

/** A status report for one order, as the Comms API sends it. */
export interface ResultReport {
  id: string;
  status: 'success' | 'failure';
  result: OrderResult;
}

/** Per-status counts of a set of orders. */
export type StatusCounts = Record<OrderStatus, number>;

export function emptyCounts(): StatusCounts {
  return { pending: 0, sent: 0, success: 0, failure: 0 };
}

/** Result codes the command manager itself writes (agents and the Comms API use their own). */
export const ResultCodes = {
  EXPIRED_UNDELIVERED: 901,
  NO_RESULT_IN_TIME: 902,
  CANCELLED: 903,
  REJECTED: 904,
  ROLLOUT_STOPPED: 905,
  UNDELIVERABLE: 906,
  /** The Management API refused the order alone as too large (HTTP 413). */
  ORDER_TOO_LARGE: 907,
  /** The order's agent was offline (agents index `agent.status`) at every check until its delivery window ended. */
  AGENT_OFFLINE: 908,
} as const;

/** Document id of an order: deterministic, so that a retried write never duplicates. */
export function orderDocumentId(requestId: number, orderId: number): string {
  return `${requestId}-${orderId}`;
}

export function parseOrderDocumentId(id: string): { requestId: number; orderId: number } | undefined {
  const m = /^(\d{1,15})-(\d{1,9})$/.exec(id);
  if (!m) return undefined;
  return { requestId: Number(m[1]), orderId: Number(m[2]) };
}
