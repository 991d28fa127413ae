import {
  ORDER_STATUSES,
  SOURCES,
  decodeRequestCursor,
  type OrderStatus,
  type RequestListQuery,
  type Source,
} from '@command-manager/core';
import { readQuery } from './query-reader';

/**
 * `GET /requests` query: every bad or unknown parameter is named by a pointer `/query/<name>`. The cursor is
 * decoded here already, so that a garbled one is a 400 naming `/query/cursor` and never reaches the store.
 */
const PARAMS = ['source', 'user', 'action', 'status', 'from', 'to', 'size', 'cursor'];

export interface RequestListLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

export function parseRequestListQuery(
  query: Record<string, unknown>,
  limits: RequestListLimits,
): RequestListQuery {
  const q = readQuery(query, PARAMS);
  const result: RequestListQuery = { size: q.size(limits.defaultPageSize, limits.maxPageSize) };

  const source = q.single('source');
  if (source !== undefined) {
    const canonical = SOURCES.find((s) => s.toLowerCase() === source.toLowerCase());
    if (!canonical) q.bad('source', `must be one of: ${SOURCES.join(', ')}`);
    else result.source = canonical as Source;
  }
  const user = q.text('user');
  if (user !== undefined) result.user = user;
  const action = q.text('action');
  if (action !== undefined) result.action = action;
  const status = q.single('status');
  if (status !== undefined) {
    const values = status.split(',');
    if (values.some((s) => !ORDER_STATUSES.includes(s as OrderStatus)))
      q.bad('status', `must be one or more (comma-separated) of: ${ORDER_STATUSES.join(', ')}`);
    else result.status = [...new Set(values as OrderStatus[])];
  }
  Object.assign(result, q.timeRange());
  const cursor = q.single('cursor');
  if (cursor !== undefined) {
    try {
      decodeRequestCursor(cursor);
      result.cursor = cursor;
    } catch {
      q.bad('cursor', 'must be a cursor from a previous page');
    }
  }
  q.done();
  return result;
}
