/**
 * Cancelling a request: the caller must be its submitter or hold cancel-any; its pending orders are then
 * failed with CANCELLED by `failPendingOrders`, the operation the scheduler's rollout stop runs too.
 */
import { authoriseCancel } from './authorisation';
import { CommandManagerError, ErrorCodes } from './errors';
import { failPendingOrders } from './fail-pending-orders';
import { ResultCodes } from './model';
import type { Clock, Logger, OrderStore, RequestStore } from './ports';
import type { CancelResult, Principal } from './service-types';

export interface CancelDeps {
  requests: RequestStore;
  orders: OrderStore;
  clock: Clock;
  logger: Logger;
}

/**
 * Moves the request's `pending` orders to `failure` (result code CANCELLED), conditionally, except those a
 * pull consumer holds under a live lease (counted as `in_flight`; they keep their course). A push dispatcher
 * writes nothing on the orders it is delivering, so the cancel cannot see them: those the Management API
 * accepts are written back to `sent` by their dispatcher (`markDeliveredAfterStop`), so that the request's
 * counts end up saying what went out.
 */
export async function cancelRequest(
  deps: CancelDeps,
  requestId: number,
  principal: Principal,
): Promise<CancelResult> {
  const request = await deps.requests.getRequest(requestId);
  if (!request) throw new CommandManagerError(ErrorCodes.NOT_FOUND, `no request ${requestId}`);
  authoriseCancel(request, principal);
  const result = { code: ResultCodes.CANCELLED, message: `cancelled by ${principal.name}` };
  const { failed, inFlight } = await failPendingOrders(deps.orders, request, result, {
    clock: deps.clock,
    onWriteError: (id, error) => deps.logger.warn('could not cancel an order', { id, error }),
  });
  deps.logger.info('request cancelled', {
    requestId,
    cancelled: failed,
    inFlight,
    principal: principal.name,
  });
  return { request_id: requestId, cancelled: failed, in_flight: inFlight };
}
