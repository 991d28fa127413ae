/**
 * Whether a stored order is the one a create-only write tried to store. Order ids are `<request>-<order>`,
 * so a create that finds its id taken is either a repeated write of the same submission (a retry or a
 * resumed fan-out: harmless, counted as existing) or a sign that the request id was handed out twice (the
 * id counter was lost and restarted): then the stored order belongs to ANOTHER request and the new one was
 * not written. A repeated write expands the same record, so it carries the same creation time, principal,
 * source, user, target and action; another request differs in at least its creation time in practice.
 */
import type { ErrorCode } from './errors';
import { ErrorCodes } from './errors';
import type { Order } from './model';

export function isSameOrder(stored: Order, attempted: Order): boolean {
  const a = stored.command;
  const b = attempted.command;
  return (
    stored['@timestamp'] === attempted['@timestamp'] &&
    a.request_id === b.request_id &&
    a.order_id === b.order_id &&
    a.source === b.source &&
    a.user === b.user &&
    a.target?.type === b.target?.type &&
    a.target?.id === b.target?.id &&
    a.action?.name === b.action?.name &&
    stored.scheduling?.principal === attempted.scheduling?.principal
  );
}

/** The write error of an order whose id is held by another request's order. */
export function orderIdTaken(id: string): { id: string; reason: string; code: ErrorCode } {
  return {
    id,
    code: ErrorCodes.ORDER_ID_TAKEN,
    reason: `order id ${id} is held by an order of another request (the request id was handed out twice); this order was not written`,
  };
}
