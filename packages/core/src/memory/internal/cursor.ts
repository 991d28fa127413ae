import { CommandManagerError, ErrorCodes } from '../../errors';

/**
 * Opaque page cursors of the in-memory stores: the sort key of the last item returned, as base64url JSON
 * (the `search_after` idea: a cursor names a position in the sort order, not an offset, so items inserted
 * or removed between pages cause neither duplicates nor gaps among the items that stay).
 */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; a malformed one is a VALIDATION_FAILED on `/cursor`. */
export function decodeCursor(
  cursor: string,
  shape: readonly ('string' | 'number')[],
): Array<string | number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== shape.length ||
    parsed.some((v, i) => typeof v !== shape[i] || (typeof v === 'number' && !Number.isFinite(v)))
  ) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page cursor', {
      details: [{ pointer: '/cursor', message: 'is not a cursor returned by a previous page' }],
    });
  }
  return parsed as Array<string | number>;
}

/** Checks a page size: a positive integer. */
export function checkPageSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page size', {
      details: [{ pointer: '/size', message: 'must be a positive integer' }],
    });
  }
}
