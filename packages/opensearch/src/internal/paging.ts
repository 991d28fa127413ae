/**
 * Page cursors and revisions, both opaque to callers.
 * - A cursor is the `sort` values of the last hit returned, as base64url JSON: the next page is asked with
 *   `search_after`, so items inserted or removed between pages cause neither duplicates nor gaps.
 * - A revision is `<_seq_no>:<_primary_term>`, the pair OpenSearch checks in `if_seq_no`/`if_primary_term`.
 */
import { CommandManagerError, ErrorCodes } from '@command-manager/core';

/** Largest page: `index.max_result_window` (10,000) bounds `size` even with `search_after`; one is fetched extra. */
export const MAX_PAGE_SIZE = 9_999;

export function encodeCursor(sort: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(sort), 'utf8').toString('base64url');
}

function badCursor(): CommandManagerError {
  return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page cursor', {
    details: [{ pointer: '/cursor', message: 'is not a cursor returned by a previous page' }],
  });
}

/**
 * The sort values of a cursor. Every sort of the order store is on a numeric field (`long`/`integer` ids,
 * dates, whose sort values are epoch milliseconds), so anything but a safe integer is not a cursor this
 * store returned: it is refused here (400), never handed to OpenSearch, which would fail the search with its
 * own parse error.
 */
export function decodeCursor(cursor: string, length: number): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== length || parsed.some((v) => !Number.isSafeInteger(v))) {
    throw badCursor();
  }
  return parsed as number[];
}

/** A positive integer page size, clamped to what one search can return. */
export function checkPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'Invalid page size', {
      details: [{ pointer: '/size', message: 'must be a positive integer' }],
    });
  }
  return Math.min(size, MAX_PAGE_SIZE);
}

export function encodeRevision(seqNo: number, primaryTerm: number): string {
  return `${seqNo}:${primaryTerm}`;
}

export function decodeRevision(rev: string): { ifSeqNo: number; ifPrimaryTerm: number } | undefined {
  const m = /^(\d{1,18}):(\d{1,18})$/.exec(rev);
  if (!m) return undefined;
  return { ifSeqNo: Number(m[1]), ifPrimaryTerm: Number(m[2]) };
}
