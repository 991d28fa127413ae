import type { ErrorCode, ErrorDetail } from '@command-manager/core';

/** The one error body of every answer that is not a success: `{"error":{"code","message","details"}}`. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Each bad field by JSON pointer (RFC 6901); empty when the error is not about a field. */
    details: ErrorDetail[];
  };
}

export function errorBody(code: ErrorCode, message: string, details: readonly ErrorDetail[] = []): ErrorBody {
  return {
    error: { code, message, details: details.map((d) => ({ pointer: d.pointer, message: d.message })) },
  };
}
