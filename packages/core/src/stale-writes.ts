/**
 * Requests whose writer died mid fan-out: a writer refreshes its record's `updated_at` while it streams
 * orders (see `SubmissionWriter`); a record still `writing` without a beat for `staleWriteMs` is marked.
 */
import type { Clock, Logger, OrderStore, RequestStore } from './ports';
import { putRecordQuietly } from './internal/store-access';

export interface StaleWritesDeps {
  requests: RequestStore;
  orders: OrderStore;
  clock: Clock;
  logger: Logger;
  staleWriteMs: number;
}

/**
 * Marks requests whose writer died mid fan-out (record still `writing`, no heartbeat for `staleWriteMs`)
 * as `partial` (some orders stored) or `failed` (none), with a write error that says so. The orders that
 * were stored stay and are dispatched; the record no longer claims a write in progress. Safe to run in
 * every sidecar: a live writer's final record write (last writer wins) restores the truth if a beat was
 * merely late. Returns how many records were marked.
 */
export async function markStaleWrites(deps: StaleWritesDeps, limit: number): Promise<number> {
  const now = deps.clock.now();
  const stale = await deps.requests.findStaleWrites(new Date(now.getTime() - deps.staleWriteMs), limit);
  for (const record of stale) {
    const counts = await deps.orders.countByStatus({ requestId: record.request_id });
    const stored = counts.pending + counts.sent + counts.success + counts.failure;
    const reason = `the writer stopped before finishing (no heartbeat since ${record.updated_at ?? record.created_at})`;
    await putRecordQuietly(deps.requests, deps.logger, {
      ...record,
      write_state: stored > 0 ? 'partial' : 'failed',
      updated_at: now.toISOString(),
      write_errors: [{ id: '*', reason }],
    });
    deps.logger.warn('request write interrupted; marked', { requestId: record.request_id, stored });
  }
  return stale.length;
}
