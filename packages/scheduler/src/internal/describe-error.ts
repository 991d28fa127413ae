import { CommandManagerError } from '@command-manager/core';

/** One line for a log entry: the error's code and message, or whatever was thrown as text. */
export function describeError(e: unknown): string {
  if (e instanceof CommandManagerError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
