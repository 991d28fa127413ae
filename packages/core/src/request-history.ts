/**
 * History: pages of request records, newest first, each with the per-status counts of its orders. Records
 * come from `RequestStore.listRequests` (filters on the record: source, user, action, created_at); the
 * counts from one `OrderStore.countByRequests` per chunk. A `status` filter keeps the requests that have at
 * least one order in one of the statuses given; since that needs the counts, candidates are scanned chunk by
 * chunk, at most `MAX_SCAN_FACTOR × size` per page, so a page may hold fewer items than asked (even none)
 * and still carry a cursor: follow it to go on.
 *
 * A page is bounded by count (`size`, at most MAX_REQUEST_PAGE_SIZE) and by bytes (`maxBytes` of item JSON;
 * at least one item is always returned). The cursor is the position of the last item returned (or scanned),
 * `[created_at ms, request_id]` as a page cursor (page-cursor.ts): a garbled cursor is VALIDATION_FAILED.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { OrderStatus, RequestRecord, Source, StatusCounts } from './model';
import { emptyCounts } from './model';
import { decodePageCursor, encodePageCursor } from './page-cursor';
import type { Clock, OrderStore, RequestFilter, RequestPosition, RequestStore } from './ports';
import { systemClock } from './ports';

export const MAX_REQUEST_PAGE_SIZE = 1000;
export const DEFAULT_REQUEST_PAGE_BYTES = 1024 * 1024;
/** Candidates scanned per page when a status filter is given, as a multiple of the page size. */
const MAX_SCAN_FACTOR = 10;

export interface RequestListQuery {
  source?: Source;
  user?: string;
  action?: string;
  /** Requests with at least one order in one of these statuses. */
  status?: readonly OrderStatus[];
  /** Inclusive lower bound on `created_at` (ISO-8601). */
  from?: string;
  /** Exclusive upper bound on `created_at` (ISO-8601). */
  to?: string;
  size: number;
  /** The cursor of the previous page. */
  cursor?: string;
}

export interface RequestListItem {
  request: RequestRecord;
  counts: StatusCounts;
  /** Same rule as `GET /requests/:id`: nothing is being written and every order is terminal. */
  done: boolean;
}

export interface RequestListResult {
  requests: RequestListItem[];
  /** Present when more records may follow. */
  cursor?: string;
}

/**
 * Whether a request is done: not being written, every order counted (searches lag writes by a refresh
 * interval: a complete request is done only once each of its orders is counted), none pending or sent, and,
 * for a live group command, its window over at `now` (a joiner may still get an order until then).
 */
export function isRequestDone(request: RequestRecord, counts: StatusCounts, now: Date): boolean {
  if (request.live_until !== undefined && Date.parse(request.live_until) > now.getTime()) return false;
  const total = counts.pending + counts.sent + counts.success + counts.failure;
  const allCounted = request.write_state !== 'complete' || total >= request.total_orders;
  return request.write_state !== 'writing' && allCounted && counts.pending === 0 && counts.sent === 0;
}

export function encodeRequestCursor(position: RequestPosition): string {
  return encodePageCursor([position.createdAtMs, position.requestId]);
}

/** The position a cursor names; VALIDATION_FAILED (pointer `/cursor`) for anything not made by this module. */
export function decodeRequestCursor(cursor: string): RequestPosition {
  const [createdAtMs, requestId] = decodePageCursor(cursor, ['natural', 'natural']) as [number, number];
  return { createdAtMs, requestId };
}

function positionOf(r: RequestRecord): RequestPosition {
  return { createdAtMs: Date.parse(r.created_at), requestId: r.request_id };
}

export interface ListRequestsDeps {
  requests: RequestStore;
  orders: OrderStore;
  /** Bytes of item JSON per page (default 1 MiB). */
  maxBytes?: number;
  /** `now` of `isRequestDone` (live requests); default the system clock. */
  clock?: Clock;
}

export async function listRequests(
  deps: ListRequestsDeps,
  query: RequestListQuery,
): Promise<RequestListResult> {
  const { size } = query;
  if (!Number.isInteger(size) || size < 1 || size > MAX_REQUEST_PAGE_SIZE) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'invalid page size', {
      details: [{ pointer: '/size', message: `must be an integer in 1..${MAX_REQUEST_PAGE_SIZE}` }],
    });
  }
  let after = query.cursor === undefined ? undefined : decodeRequestCursor(query.cursor);
  const maxBytes = deps.maxBytes ?? DEFAULT_REQUEST_PAGE_BYTES;
  const now = (deps.clock ?? systemClock).now();
  const filter: RequestFilter = {};
  if (query.source !== undefined) filter.source = query.source;
  if (query.user !== undefined) filter.user = query.user;
  if (query.action !== undefined) filter.action = query.action;
  if (query.from !== undefined) filter.from = query.from;
  if (query.to !== undefined) filter.to = query.to;
  const statuses = query.status && query.status.length > 0 ? query.status : undefined;

  const items: RequestListItem[] = [];
  let bytes = 0;
  let scanned = 0;
  let exhausted = false;
  let full = false;
  while (!full && scanned < size * MAX_SCAN_FACTOR) {
    // Without a status filter every candidate is kept: ask for exactly what the page still needs.
    const want = statuses ? size : size - items.length;
    const chunk = await deps.requests.listRequests(filter, after ? { size: want, after } : { size: want });
    const counts =
      chunk.length > 0 ? await deps.orders.countByRequests(chunk.map((r) => r.request_id)) : new Map();
    for (const request of chunk) {
      const c = (counts.get(request.request_id) as StatusCounts | undefined) ?? emptyCounts();
      if (statuses && !statuses.some((s) => c[s] > 0)) {
        scanned++;
        after = positionOf(request);
        continue;
      }
      const item: RequestListItem = { request, counts: c, done: isRequestDone(request, c, now) };
      const itemBytes = Buffer.byteLength(JSON.stringify(item), 'utf8');
      if (items.length > 0 && bytes + itemBytes > maxBytes) {
        full = true;
        break;
      }
      scanned++;
      items.push(item);
      bytes += itemBytes;
      after = positionOf(request);
      if (items.length >= size) {
        full = true;
        break;
      }
    }
    // A store may answer fewer than asked and have more (it bounds an answer in bytes): only an empty
    // answer is the end.
    if (!full && chunk.length === 0) {
      exhausted = true;
      break;
    }
  }
  const result: RequestListResult = { requests: items };
  if (!exhausted && after !== undefined) result.cursor = encodeRequestCursor(after);
  return result;
}
