import type { OrderDelivery } from '@command-manager/scheduler';

/**
 * The delivery of a scheduler in pull mode: it never runs a push round, and always says it is blocked, so a
 * round started anyway (`dispatchDue`) claims nothing; an order handed to it regardless is released for
 * retry, never marked sent.
 */
export const pushDeliveryOff: OrderDelivery = {
  isBlocked: () => true,
  deliver: (orders) =>
    Promise.resolve(
      new Map(orders.map((o) => [o.id, { kind: 'retry', reason: 'push delivery is off (pull mode)' }])),
    ),
};
