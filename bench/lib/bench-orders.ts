import { newOrder } from '@command-manager/core';
import type { CommandRequest, Order } from '@command-manager/core';

/** Order `orderId` of request `requestId`: `command` for agent `<orderId, 6 digits>` of the group `bench`. */
export function benchOrder(command: CommandRequest, requestId: number, orderId: number, now: Date): Order {
  return newOrder({
    command,
    requestId,
    orderId,
    target: { type: 'agent', id: String(orderId).padStart(6, '0') },
    groups: ['bench'],
    principal: 'bench',
    now,
  });
}
