/**
 * Page cursors, one rule for every listing (orders, requests, the audit trail; in memory and in OpenSearch):
 * a cursor is the sort values of the last item of a page, as base64url JSON. It names a position in the sort
 * order, not an offset (the `search_after` idea), so items inserted or removed between pages cause neither
 * duplicates nor gaps among the items that stay.
 *
 * A cursor is opaque to callers and checked strictly when it comes back: at most `MAX_PAGE_CURSOR_LENGTH`
 * base64url characters, decoding to an array of exactly the values its listing sorts on, each of the kind
 * expected. Anything else is VALIDATION_FAILED (400) naming the parameter, before any store sees it.
 */
import { CommandManagerError, ErrorCodes } from './errors';

/**
 * Longest cursor accepted. The longest one made is the audit trail's (`[ms, sidecar name of at most 256
 * characters, seq]`, under 400 characters); order and request cursors are under 100.
 */
export const MAX_PAGE_CURSOR_LENGTH = 512;

/**
 * Kinds of sort value: `integer` a safe integer (ids, epoch milliseconds, sequence numbers: a store's numeric
 * sort values), `natural` a safe integer ≥ 0, `number` any finite number, `string` a string.
 */
export type PageCursorValue = 'integer' | 'natural' | 'number' | 'string';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Whether `cursor` has the outward shape of a cursor (length, alphabet); what it decodes to is not checked. */
export function isPageCursorShaped(cursor: string): boolean {
  return cursor.length > 0 && cursor.length <= MAX_PAGE_CURSOR_LENGTH && BASE64URL.test(cursor);
}

export function encodePageCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

/** The error of a cursor that no page returned; `pointer` names where it came from (default `/cursor`). */
export function invalidPageCursor(pointer = '/cursor'): CommandManagerError {
  return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page cursor', {
    details: [{ pointer, message: 'is not a cursor returned by a previous page' }],
  });
}

function isKind(value: unknown, kind: PageCursorValue): boolean {
  switch (kind) {
    case 'integer':
      return Number.isSafeInteger(value);
    case 'natural':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'string':
      return typeof value === 'string';
  }
}

/**
 * The sort values of a cursor made by `encodePageCursor`, one per entry of `shape`, each of that kind;
 * otherwise `invalidPageCursor(pointer)`.
 */
export function decodePageCursor(
  cursor: string,
  shape: readonly PageCursorValue[],
  pointer?: string,
): Array<string | number> {
  if (!isPageCursorShaped(cursor)) throw invalidPageCursor(pointer);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidPageCursor(pointer);
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== shape.length ||
    parsed.some((v, i) => !isKind(v, shape[i] as PageCursorValue))
  ) {
    throw invalidPageCursor(pointer);
  }
  return parsed as Array<string | number>;
}
