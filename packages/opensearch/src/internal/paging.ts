/**
 * Page cursors and revisions, both opaque to callers.
 * - A cursor is the `sort` values of the last hit returned, as a page cursor of core (`encodePageCursor`):
 *   the next page is asked with `search_after`, so items inserted or removed between pages cause neither
 *   duplicates nor gaps.
 * - A revision is `<_seq_no>:<_primary_term>`, the pair OpenSearch checks in `if_seq_no`/`if_primary_term`.
 */
import { CommandManagerError, decodePageCursor, ErrorCodes } from '@command-manager/core';

/** Largest page: `index.max_result_window` (10,000) bounds `size` even with `search_after`; one is fetched extra. */
export const MAX_PAGE_SIZE = 9_999;

/**
 * The sort values of a cursor (core's page-cursor rule). Every sort of the order store is on a numeric field
 * (`long`/`integer` ids, dates, whose sort values are epoch milliseconds), so anything but a safe integer is
 * not a cursor this store returned: it is refused here (400), never handed to OpenSearch, which would fail
 * the search with its own parse error.
 */
export function decodeCursor(cursor: string, length: number): number[] {
  return decodePageCursor(cursor, new Array<'integer'>(length).fill('integer')) as number[];
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
