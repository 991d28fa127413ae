import type { ErrorRequestHandler } from 'express';
import { CommandManagerError, ErrorCodes, isCommandManagerError, type Logger } from '@command-manager/core';
import { errorBody } from './error-body';
import { DEFAULT_RETRY_AFTER_SEC, httpStatusOf } from './http-status';

/**
 * Errors raised by body-parser carry a `type` (see body-parser README, "Errors"). They are turned into
 * codes here so that the status still comes from the one table in `http-status.ts`.
 */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
}

export function toCommandManagerError(err: unknown): CommandManagerError | undefined {
  if (isCommandManagerError(err)) return err;
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as BodyParserError;
  switch (e.type) {
    case 'entity.parse.failed':
      return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body is not valid JSON', {
        details: [{ pointer: '', message: 'must be valid JSON' }],
      });
    case 'entity.too.large':
      return new CommandManagerError(ErrorCodes.PAYLOAD_TOO_LARGE, 'the body is larger than allowed');
    case 'charset.unsupported':
    case 'encoding.unsupported':
    case 'request.size.invalid':
      return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body cannot be read', {
        details: [{ pointer: '', message: 'unsupported charset, encoding or size' }],
      });
    case 'entity.verify.failed':
      return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body is not valid UTF-8', {
        details: [{ pointer: '', message: 'must be UTF-8 encoded JSON' }],
      });
    default:
      break;
  }
  // A malformed percent-escape in a path parameter: Express's router rethrows decodeURIComponent's URIError.
  if (err instanceof URIError) {
    return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the request path is malformed', {
      details: [{ pointer: '/params', message: 'malformed percent-encoding' }],
    });
  }
  // http-errors raised by express itself (e.g. a malformed URI) are client errors when `expose` is true.
  if (e.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the request is malformed', {
      details: [{ pointer: '', message: 'malformed request' }],
    });
  }
  return undefined;
}

/**
 * The one error middleware: maps every error to the one body shape and the status from the one table.
 * Anything not raised on purpose is a 500 with a generic message; its stack goes to the log, never to the
 * caller.
 */
export function errorMiddleware(logger: Logger | undefined): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const known = toCommandManagerError(err);
    const error = known ?? new CommandManagerError(ErrorCodes.INTERNAL, 'internal error', { cause: err });
    const status = httpStatusOf(error.code);
    if (!known) {
      logger?.error('unexpected error', {
        method: req.method,
        path: req.path,
        error:
          err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      });
    } else if (status >= 500) {
      logger?.warn('request failed', {
        method: req.method,
        path: req.path,
        code: error.code,
        message: error.message,
        ...(error.cause instanceof Error && { cause: error.cause.message }),
      });
    }
    // The audit trail records the code of a refused call.
    (res.locals as { errorCode?: string }).errorCode = error.code;
    if (res.headersSent) {
      // A streamed answer cannot change its status any more; cut it so the client sees an incomplete body.
      res.destroy();
      return;
    }
    const retryAfter = error.retryAfterSec ?? DEFAULT_RETRY_AFTER_SEC[error.code];
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(0, Math.ceil(retryAfter))));
    if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="command-manager", charset="UTF-8"');
    // INTERNAL says what failed inside (a store's operation, its error type): the log has it, the caller
    // gets the one stable body.
    const body =
      error.code === ErrorCodes.INTERNAL
        ? errorBody(error.code, 'internal error')
        : errorBody(error.code, error.message, error.details);
    res.status(status).json(body);
  };
}
