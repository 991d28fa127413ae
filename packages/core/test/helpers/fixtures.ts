import { ManualClock as SharedManualClock, restartCommand } from '@command-manager/test-support';
import type { CommandRequest, Order } from '../../src/model';
import { newOrder } from '../../src/lifecycle';
import type { Principal } from '../../src/service-types';

export const T0 = new Date('2025-01-02T03:04:05.000Z');

/** A clock tests move by hand, at `T0` unless told otherwise. */
export class ManualClock extends SharedManualClock {
  constructor(start: Date = T0) {
    super(start);
  }
}

export function command(overrides: Partial<CommandRequest> = {}): CommandRequest {
  return { ...restartCommand(60), ...overrides };
}

export function order(overrides: { status?: Order['command']['status']; lease?: string } = {}): Order {
  const o = newOrder({
    command: command(),
    requestId: 7,
    orderId: 3,
    target: { type: 'agent', id: '001' },
    groups: ['default'],
    principal: 'alice',
    now: T0,
  });
  if (overrides.status) o.command.status = overrides.status;
  if (overrides.lease) {
    o.scheduling.lease_owner = overrides.lease;
    o.scheduling.lease_expires_at = new Date(T0.getTime() + 30_000).toISOString();
  }
  return o;
}

export function principal(overrides: Partial<Principal> = {}): Principal {
  return { name: 'alice', roles: ['user'], canDelegate: false, sources: '*', actions: '*', ...overrides };
}

/** A deep-frozen copy, so that a test fails if a pure function mutates its input. */
export function frozen<T>(value: T): T {
  const copy = structuredClone(value);
  const freeze = (v: unknown): void => {
    if (v && typeof v === 'object') {
      Object.freeze(v);
      Object.values(v).forEach(freeze);
    }
  };
  freeze(copy);
  return copy;
}
