import {
  AUDIT_OUTCOMES,
  isPageCursorShaped,
  type AuditOutcome,
  type AuditQuery,
} from '@command-manager/core';
import { readQuery } from './query-reader';

/**
 * `GET /audit` query. The cursor is checked for its shape here (core's `isPageCursorShaped`); the
 * store checks what it decodes to, and answers a garbled one 400 naming `/query/cursor`.
 */
const PARAMS = ['from', 'to', 'principal', 'outcome', 'sidecar', 'size', 'cursor'];

export function parseAuditQuery(
  query: Record<string, unknown>,
  limits: { defaultPageSize: number; maxPageSize: number },
): AuditQuery {
  const q = readQuery(query, PARAMS);
  const result: AuditQuery = { size: q.size(limits.defaultPageSize, limits.maxPageSize), ...q.timeRange() };
  const principal = q.text('principal');
  if (principal !== undefined) result.principal = principal;
  const sidecar = q.text('sidecar');
  if (sidecar !== undefined) result.sidecar = sidecar;
  const outcome = q.single('outcome');
  if (outcome !== undefined) {
    if (!AUDIT_OUTCOMES.includes(outcome as AuditOutcome))
      q.bad('outcome', `must be one of: ${AUDIT_OUTCOMES.join(', ')}`);
    else result.outcome = outcome as AuditOutcome;
  }
  const cursor = q.single('cursor');
  if (cursor !== undefined) {
    if (!isPageCursorShaped(cursor)) q.bad('cursor', 'must be a cursor from a previous page');
    else result.cursor = cursor;
  }
  q.done();
  return result;
}
