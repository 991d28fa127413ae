/**
 * Maps what the OpenSearch client throws to `CommandManagerError`, so that no client error object (whose
 * `meta` carries the request, headers included) ever crosses a port. Classification uses the client's error
 * classes, the HTTP status and OpenSearch's stable `error.type` codes, never message text.
 */
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import { errors } from '@opensearch-project/opensearch';

/** Seconds a caller should wait before retrying when OpenSearch gave no `Retry-After`. */
const DEFAULT_RETRY_AFTER_SEC = 5;

/** HTTP statuses that mean "the cluster cannot serve this now" (the client itself retries 502/503/504). */
const UNAVAILABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * `error.type` values that mean the cluster is (temporarily) unable to serve, whatever the status: write
 * blocks (flood-stage disk watermark, read-only index), no elected cluster manager, unassigned shards,
 * full thread pools.
 */
const UNAVAILABLE_TYPES = new Set([
  'cluster_block_exception',
  'index_create_block_exception',
  'es_rejected_execution_exception',
  'opensearch_rejected_execution_exception',
  'rejected_execution_exception',
  'no_shard_available_action_exception',
  'unavailable_shards_exception',
  'cluster_manager_not_discovered_exception',
  'master_not_discovered_exception',
  'process_cluster_event_timeout_exception',
  'circuit_breaking_exception',
]);

/**
 * Types of the shard failures behind a search that failed for want of shards (`Partial shards failure` or
 * `all shards failed` of a search that refuses partial answers): the copy's node is gone or unreachable, the
 * shard is moving, or the point in time it read from died with its node.
 */
const SHARD_LOSS_TYPES = new Set([
  'node_disconnected_exception',
  'node_not_connected_exception',
  'node_closed_exception',
  'connect_transport_exception',
  'send_request_transport_exception',
  'receive_timeout_transport_exception',
  'shard_not_found_exception',
  'index_shard_closed_exception',
  'illegal_index_shard_state_exception',
  'search_context_missing_exception',
]);

export interface ResponseErrorInfo {
  status: number;
  type: string | undefined;
  reason: string | undefined;
  /** `error.type` of each root cause and failed shard OpenSearch listed (search failures). */
  causes: string[];
}

/** Status and `error.type` of a client `ResponseError`; undefined for any other error. */
export function responseErrorInfo(e: unknown): ResponseErrorInfo | undefined {
  if (!(e instanceof errors.ResponseError)) return undefined;
  const body = e.meta?.body as
    | {
        error?:
          | {
              type?: unknown;
              reason?: unknown;
              root_cause?: unknown;
              failed_shards?: unknown;
            }
          | string;
      }
    | undefined;
  const error = body?.error;
  const causes: string[] = [];
  if (typeof error === 'object') {
    for (const c of Array.isArray(error.root_cause) ? (error.root_cause as unknown[]) : []) {
      const type = (c as { type?: unknown } | null)?.type;
      if (typeof type === 'string') causes.push(type);
    }
    for (const f of Array.isArray(error.failed_shards) ? (error.failed_shards as unknown[]) : []) {
      const type = (f as { reason?: { type?: unknown } } | null)?.reason?.type;
      if (typeof type === 'string') causes.push(type);
    }
  }
  const type = typeof error === 'object' && typeof error.type === 'string' ? error.type : undefined;
  const reason =
    typeof error === 'object' && typeof error.reason === 'string'
      ? error.reason
      : typeof error === 'string'
        ? error
        : undefined;
  return { status: e.meta?.statusCode ?? 0, type, reason, causes };
}

/** A search that failed only because shards could not be read (see `SHARD_LOSS_TYPES`). */
function shardsUnavailable(info: ResponseErrorInfo): boolean {
  return (
    info.type === 'search_phase_execution_exception' &&
    info.causes.length > 0 &&
    info.causes.every((t) => SHARD_LOSS_TYPES.has(t) || UNAVAILABLE_TYPES.has(t))
  );
}

/** True when a bulk item or response with this status/type is worth retrying later. */
export function isUnavailable(status: number, type: string | undefined): boolean {
  return UNAVAILABLE_STATUSES.has(status) || (type !== undefined && UNAVAILABLE_TYPES.has(type));
}

function retryAfterSec(e: unknown): number {
  if (e instanceof errors.ResponseError) {
    const raw: unknown = e.meta?.headers?.['retry-after'];
    const sec = typeof raw === 'string' ? Number.parseInt(raw, 10) : NaN;
    if (Number.isFinite(sec) && sec >= 0) return sec;
  }
  return DEFAULT_RETRY_AFTER_SEC;
}

function truncate(s: string, max = 300): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/** The product's error for anything the client threw during `operation` (e.g. `bulk create orders`). */
export function toStoreError(e: unknown, operation: string): CommandManagerError {
  if (e instanceof CommandManagerError) return e;
  if (
    e instanceof errors.ConnectionError ||
    e instanceof errors.NoLivingConnectionsError ||
    e instanceof errors.TimeoutError ||
    e instanceof errors.RequestAbortedError
  ) {
    return new CommandManagerError(
      ErrorCodes.STORE_UNAVAILABLE,
      `OpenSearch unavailable during ${operation} (${e.name})`,
      {
        retryAfterSec: DEFAULT_RETRY_AFTER_SEC,
      },
    );
  }
  const info = responseErrorInfo(e);
  if (info) {
    const what = `${info.status}${info.type ? ` ${info.type}` : ''}`;
    if (isUnavailable(info.status, info.type) || shardsUnavailable(info)) {
      // A STORE_UNAVAILABLE message reaches API callers (503 body): status and the stable `error.type`
      // only, never OpenSearch's own text.
      return new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        `OpenSearch refused ${operation} (${what})`,
        {
          retryAfterSec: retryAfterSec(e),
        },
      );
    }
    // An INTERNAL message is logged, never answered (the HTTP adapter answers a fixed body): the reason
    // stays for the operator.
    const detail = `${what}${info.reason ? `: ${truncate(info.reason)}` : ''}`;
    return new CommandManagerError(ErrorCodes.INTERNAL, `OpenSearch ${operation} failed (${detail})`);
  }
  const name = e instanceof Error ? e.name : typeof e;
  return new CommandManagerError(ErrorCodes.INTERNAL, `OpenSearch ${operation} failed (${name})`);
}

/**
 * Search parameter of every read whose answer must be whole: OpenSearch otherwise answers without the shards
 * it cannot reach (a node just died, its replicas not yet promoted), and a short page reads as the end of a
 * walk (a cancel, a listing, a retention pass would stop early; an agent's order would look missing). With
 * it, such a search fails as unavailable and is tried again later.
 */
export const WHOLE_ANSWER = { allow_partial_search_results: false } as const;

/** Runs one client call and maps whatever it throws. */
export async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toStoreError(e, operation);
  }
}
