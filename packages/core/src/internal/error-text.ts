/** How the command service's modules turn a caught value into text for logs and for callers. */
import { ErrorCodes, isCommandManagerError } from '../errors';

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A failure as callers may read it (write errors of a request): a store adapter's INTERNAL message names
 * its internals (OpenSearch's own text), which only the log gets.
 */
export function publicReason(e: unknown): string {
  return isCommandManagerError(e, ErrorCodes.INTERNAL) ? 'internal error (see the log)' : errorMessage(e);
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
