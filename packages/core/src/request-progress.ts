/** A request's progress: its record, per-status counts, the share decided, rollout state and failures. */
import { CommandManagerError, ErrorCodes } from './errors';
import type { OrderStore, RequestStore } from './ports';
import { isRequestDone } from './request-history';
import type { RequestProgress } from './service-types';

/** Result codes listed in a request's failure breakdown (the others are counted in `other`). */
const FAILURE_CODES_SHOWN = 20;

export async function requestProgress(
  stores: { requests: RequestStore; orders: OrderStore },
  requestId: number,
  now: Date,
): Promise<RequestProgress> {
  const request = await stores.requests.getRequest(requestId);
  if (!request) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no request ${requestId}`);
  const [counts, failures] = await Promise.all([
    stores.orders.countByStatus({ requestId }),
    stores.orders.failureBreakdown(requestId, FAILURE_CODES_SHOWN),
  ]);
  const total = counts.pending + counts.sent + counts.success + counts.failure;
  const terminal = counts.success + counts.failure;
  const done = isRequestDone(request, counts, now);
  const rollout: RequestProgress['rollout'] = {
    stopped: Boolean(request.rollout_stopped_at),
    errors: counts.failure,
  };
  if (request.command.max_concurrency !== undefined)
    rollout.max_concurrency = request.command.max_concurrency;
  if (request.command.max_errors !== undefined) rollout.max_errors = request.command.max_errors;
  return {
    request,
    counts,
    progress: total > 0 ? terminal / total : done ? 1 : 0,
    done,
    rollout,
    failures,
  };
}
