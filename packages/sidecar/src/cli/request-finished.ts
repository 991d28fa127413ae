import type { StatusCounts } from '@command-manager/core';

/** The parts of `GET /requests/:id` that say whether a request is over. */
export interface RequestProgressView {
  request: { total_orders: number; write_state: string };
  counts: StatusCounts;
  done: boolean;
}

/**
 * Every order of the request is terminal. The API's `done` alone is not enough: the counts come from a
 * search, which sees orders only once the index has refreshed (about a second after they were written,
 * OpenSearch's default `refresh_interval`), so right after a submission `done` can be true with none of the
 * orders counted yet. Every order of a complete write must be counted too. (For a partial or failed write,
 * the orders that were not stored never will be: `done` is all there is.)
 */
export function requestFinished(p: RequestProgressView): boolean {
  const c = p.counts;
  const counted = c.pending + c.sent + c.success + c.failure;
  return p.done && (p.request.write_state !== 'complete' || counted >= p.request.total_orders);
}
