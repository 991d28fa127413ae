/**
 * Every error the product raises on purpose carries a stable `code` (and `details` for validation).
 * Adapters map codes, never message text: the HTTP adapter owns the one table from code to status.
 * A unit test asserts the codes are unique; each is documented here, and its HTTP status is in the express
 * package's table (`http-status.ts`). A lost race is never an error: conditional writes answer `conflict`.
 */
export const ErrorCodes = {
  /** The body or a field is invalid; `details` lists each bad field by JSON pointer. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  /** More commands in one batch than configured. */
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  /** A submission expands to more orders than the configured maximum fan-out; nothing was written. */
  FANOUT_EXCEEDED: 'FANOUT_EXCEEDED',
  /** One command's `action.args` is larger (serialized JSON bytes) than allowed; nothing was written. */
  ARGS_TOO_LARGE: 'ARGS_TOO_LARGE',
  /** The args bytes a submission would write (args × orders, over all its commands) exceed the limit. */
  REQUEST_WRITE_TOO_LARGE: 'REQUEST_WRITE_TOO_LARGE',
  /** No target of the request resolved to a destination; nothing was written. */
  NO_TARGET_RESOLVED: 'NO_TARGET_RESOLVED',
  /** The action name is not registered (and permissive mode is off). */
  UNKNOWN_ACTION: 'UNKNOWN_ACTION',
  /** The caller is not authenticated. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The caller is authenticated but lacks the permission, source, action or delegation needed. */
  FORBIDDEN: 'FORBIDDEN',
  /** Too many failed logins from one client. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The request, order or resource does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** An Idempotency-Key was reused with a different body. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** The first submission with this Idempotency-Key is still being processed. */
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  /** A transition that the order lifecycle forbids (e.g. from a terminal status). */
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  /** The dispatch lease on an order was lost to another holder. */
  LEASE_LOST: 'LEASE_LOST',
  /** The datastore cannot be reached or refused service; retry later. */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /** Some orders of a request could not be written; the request record says which. */
  PARTIAL_WRITE: 'PARTIAL_WRITE',
  /** The configuration is invalid; `details` names every bad key. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** The body is larger than allowed. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** Too many claims are waiting (long-polling) on this sidecar; retry after `Retry-After`. */
  TOO_MANY_WAITERS: 'TOO_MANY_WAITERS',
  /** Too many progress event streams are open on this sidecar, or for this caller; retry after `Retry-After`. */
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  /**
   * An order's id (`<request_id>-<order_id>`) is held by an order of another request: the request id was
   * handed out twice (e.g. the requests index holding the id counter was lost). The order was not written.
   */
  ORDER_ID_TAKEN: 'ORDER_ID_TAKEN',
  /** A result report the orders index cannot store (a `result.data` leaf or `result.code` out of bounds). */
  RESULT_NOT_STORABLE: 'RESULT_NOT_STORABLE',
  /**
   * A submission sent with a `Plan-Token` no longer resolves to the targets of its dry run (or the token was
   * made for another body); `details` say per command what was added and removed. Nothing was written.
   */
  PLAN_CHANGED: 'PLAN_CHANGED',
  /** Anything not raised on purpose. */
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ErrorDetail {
  /** JSON pointer of the offending field (RFC 6901), e.g. `/commands/0/target/type`. */
  pointer: string;
  message: string;
}

export class CommandManagerError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  /** Seconds after which a retry may succeed (STORE_UNAVAILABLE, RATE_LIMITED). */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CommandManagerError';
    this.code = code;
    this.details = options.details ?? [];
    this.retryAfterSec = options.retryAfterSec;
  }
}

export function isCommandManagerError(e: unknown, code?: ErrorCode): e is CommandManagerError {
  return e instanceof CommandManagerError && (code === undefined || e.code === code);
}
