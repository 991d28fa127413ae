import { orderDocumentId, type Order } from '@command-manager/core';

/**
 * The document id of an order about to be written, or undefined when its request or order id is not a
 * non-negative safe integer. Orders reach the stores from callers (embedding services included) whose input
 * types cannot guarantee that, and a malformed id must fail that one order, not build a wrong `_id`.
 */
export function safeOrderId(order: Order): string | undefined {
  const requestId = order?.command?.request_id;
  const orderId = order?.command?.order_id;
  if (!Number.isSafeInteger(requestId) || !Number.isSafeInteger(orderId) || requestId < 0 || orderId < 0)
    return undefined;
  return orderDocumentId(requestId, orderId);
}
