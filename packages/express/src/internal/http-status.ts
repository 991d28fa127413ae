import { ErrorCodes, type ErrorCode } from '@command-manager/core';

/**
 * The one table from error code to HTTP status. The status belongs to the HTTP adapter: core raises codes,
 * this table maps them; a code missing here would fail typechecking (the `Record` is exhaustive), and
 * anything that is not a `CommandManagerError` is a 500 (never a 400).
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  [ErrorCodes.VALIDATION_FAILED]: 400,
  [ErrorCodes.BATCH_TOO_LARGE]: 413,
  [ErrorCodes.FANOUT_EXCEEDED]: 422,
  [ErrorCodes.NO_TARGET_RESOLVED]: 422,
  [ErrorCodes.ARGS_TOO_LARGE]: 413,
  [ErrorCodes.REQUEST_WRITE_TOO_LARGE]: 422,
  [ErrorCodes.UNKNOWN_ACTION]: 400,
  [ErrorCodes.UNAUTHENTICATED]: 401,
  [ErrorCodes.FORBIDDEN]: 403,
  [ErrorCodes.RATE_LIMITED]: 429,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.IDEMPOTENCY_KEY_REUSED]: 409,
  [ErrorCodes.IDEMPOTENCY_IN_PROGRESS]: 409,
  [ErrorCodes.INVALID_TRANSITION]: 409,
  [ErrorCodes.LEASE_LOST]: 409,
  [ErrorCodes.STORE_UNAVAILABLE]: 503,
  // Some orders were stored and will be dispatched: not a 503, which would invite a blind retry.
  [ErrorCodes.PARTIAL_WRITE]: 500,
  [ErrorCodes.CONFIG_INVALID]: 500,
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCodes.TOO_MANY_WAITERS]: 503,
  [ErrorCodes.TOO_MANY_STREAMS]: 429,
  // Request ids handed out twice: the product's own state is wrong, not the caller's input.
  [ErrorCodes.ORDER_ID_TAKEN]: 500,
  [ErrorCodes.RESULT_NOT_STORABLE]: 422,
  [ErrorCodes.PLAN_CHANGED]: 412,
  [ErrorCodes.INTERNAL]: 500,
};

/** Codes whose answer carries `Retry-After` (seconds), with the value used when the error gives none. */
export const DEFAULT_RETRY_AFTER_SEC: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.STORE_UNAVAILABLE]: 5,
  [ErrorCodes.RATE_LIMITED]: 60,
  [ErrorCodes.IDEMPOTENCY_IN_PROGRESS]: 1,
  [ErrorCodes.TOO_MANY_WAITERS]: 1,
  [ErrorCodes.TOO_MANY_STREAMS]: 5,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS_BY_CODE[code];
}
