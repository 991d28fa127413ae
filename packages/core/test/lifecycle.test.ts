import { CommandManagerError, ErrorCodes, isCommandManagerError } from '../src/errors';
import {
  applyResult,
  canTransition,
  isTerminal,
  markFailed,
  markSent,
  newOrder,
  scheduleRetry,
  withLease,
  withoutLease,
} from '../src/lifecycle';
import { ORDER_STATUSES } from '../src/model';
import { DEFAULT_PARTITIONS, partitionOf } from '../src/partitions';
import type { OrderStatus } from '../src/model';
import { command, frozen, order, T0 } from './helpers/fixtures';

const LATER = new Date(T0.getTime() + 5_000);
const OK = { code: 0, message: 'done' };

function expectInvalid(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(CommandManagerError);
  expect(isCommandManagerError(caught, ErrorCodes.INVALID_TRANSITION)).toBe(true);
}

describe('transition table', () => {
  const legal = new Set(['pending>sent', 'pending>failure', 'sent>success', 'sent>failure']);
  it.each(ORDER_STATUSES.flatMap((f) => ORDER_STATUSES.map((t) => [f, t] as [OrderStatus, OrderStatus])))(
    '%s → %s',
    (from, to) => {
      expect(canTransition(from, to)).toBe(legal.has(`${from}>${to}`));
    },
  );

  it('success and failure are terminal, pending and sent are not', () => {
    expect(ORDER_STATUSES.filter(isTerminal)).toEqual(['success', 'failure']);
  });
});

describe('newOrder', () => {
  it('is pending, due now, with its deadline timeout seconds later and Wazuh field layout', () => {
    const o = newOrder({
      command: command({ timeout: 90, action: { name: 'restart', args: {}, version: 'v5' } }),
      requestId: 42,
      orderId: 9,
      target: { type: 'agent', id: '007' },
      groups: ['g1'],
      principal: 'svc',
      now: T0,
    });
    expect(o).toEqual({
      '@timestamp': T0.toISOString(),
      delivery_timestamp: new Date(T0.getTime() + 90_000).toISOString(),
      agent: { groups: ['g1'] },
      command: {
        source: 'Users/Services',
        user: 'alice',
        target: { type: 'agent', id: '007' },
        action: { name: 'restart', args: {}, version: 'v5' },
        timeout: 90,
        status: 'pending',
        result: null,
        request_id: 42,
        order_id: 9,
      },
      scheduling: {
        principal: 'svc',
        attempts: 0,
        next_attempt_at: T0.toISOString(),
        partition: partitionOf('42-9', DEFAULT_PARTITIONS),
        lease_owner: null,
        lease_expires_at: null,
        sent_at: null,
        completed_at: null,
        last_error: null,
      },
    });
  });

  it("puts the orders of a request with rollout limits in the request's partition, others by their id", () => {
    const params = {
      requestId: 42,
      target: { type: 'agent' as const, id: '007' },
      groups: [],
      principal: 'svc',
      now: T0,
      partitions: 16,
    };
    const spread = [1, 2, 3, 4, 5, 6].map(
      (orderId) => newOrder({ ...params, command: command(), orderId }).scheduling.partition,
    );
    expect(spread).toEqual([1, 2, 3, 4, 5, 6].map((orderId) => partitionOf(`42-${orderId}`, 16)));
    expect(new Set(spread).size).toBeGreaterThan(1);
    for (const limits of [{ max_concurrency: 2 }, { max_errors: 1 }]) {
      const pinned = [1, 2, 3].map(
        (orderId) => newOrder({ ...params, command: command(limits), orderId }).scheduling.partition,
      );
      expect(pinned).toEqual([1, 2, 3].map(() => partitionOf('42', 16)));
    }
  });

  it('omits action.version when the command has none', () => {
    expect('version' in order().command.action).toBe(false);
  });
});

describe('markSent', () => {
  it('moves pending to sent, records sent_at, clears the lease, leaves the input alone', () => {
    const input = frozen(order({ lease: 'sidecar-1' }));
    const out = markSent(input, LATER);
    expect(out.command.status).toBe('sent');
    expect(out.scheduling.sent_at).toBe(LATER.toISOString());
    expect(out.scheduling.lease_owner).toBeNull();
    expect(out.scheduling.lease_expires_at).toBeNull();
    expect(input.command.status).toBe('pending');
    expect(input.scheduling.lease_owner).toBe('sidecar-1');
  });

  it.each(['sent', 'success', 'failure'] as const)('refuses a %s order', (status) => {
    expectInvalid(() => markSent(order({ status }), LATER));
  });
});

describe('markFailed', () => {
  const result = { code: 901, message: 'expired' };
  it.each(['pending', 'sent'] as const)('fails a %s order with its result and completion time', (status) => {
    const input = frozen(order({ status, lease: 'x' }));
    const out = markFailed(input, result, LATER);
    expect(out.command.status).toBe('failure');
    expect(out.command.result).toEqual(result);
    expect(out.scheduling.completed_at).toBe(LATER.toISOString());
    expect(out.scheduling.lease_owner).toBeNull();
    expect(input.command.status).toBe(status);
  });

  it.each(['success', 'failure'] as const)('refuses a terminal (%s) order', (status) => {
    expectInvalid(() => markFailed(order({ status }), result, LATER));
  });
});

describe('applyResult', () => {
  it.each(['success', 'failure'] as const)('moves a sent order to %s', (status) => {
    const sent = frozen(markSent(order(), T0));
    const out = applyResult(sent, { status, result: OK }, LATER);
    expect(out.command.status).toBe(status);
    expect(out.command.result).toEqual(OK);
    expect(out.scheduling.completed_at).toBe(LATER.toISOString());
    expect(out.scheduling.sent_at).toBe(T0.toISOString());
    expect(sent.command.status).toBe('sent');
  });

  it('passes a leased pending order (being delivered right now) through sent', () => {
    const out = applyResult(frozen(order({ lease: 'sidecar-1' })), { status: 'success', result: OK }, LATER);
    expect(out.command.status).toBe('success');
    expect(out.scheduling.sent_at).toBe(LATER.toISOString());
    expect(out.scheduling.completed_at).toBe(LATER.toISOString());
    expect(out.scheduling.lease_owner).toBeNull();
  });

  it('passes a pending order without a lease through sent too (a partition dispatcher leases no order)', () => {
    const out = applyResult(frozen(order()), { status: 'failure', result: OK }, LATER);
    expect(out.command.status).toBe('failure');
    expect(out.scheduling.sent_at).toBe(LATER.toISOString());
  });

  it.each(['success', 'failure'] as const)('refuses a result for a terminal (%s) order', (status) => {
    expectInvalid(() => applyResult(order({ status }), { status: 'success', result: OK }, LATER));
    expectInvalid(() => applyResult(order({ status }), { status: 'failure', result: OK }, LATER));
  });
});

describe('leases and retries', () => {
  it('withLease and withoutLease set and clear the lease only', () => {
    const input = frozen(order());
    const leased = withLease(input, 'sidecar-2', LATER);
    expect(leased.scheduling.lease_owner).toBe('sidecar-2');
    expect(leased.scheduling.lease_expires_at).toBe(LATER.toISOString());
    expect(leased.command).toEqual(input.command);
    const released = withoutLease(leased);
    expect(released.scheduling.lease_owner).toBeNull();
    expect(released.scheduling.lease_expires_at).toBeNull();
    expect(leased.scheduling.lease_owner).toBe('sidecar-2');
  });

  it('scheduleRetry counts the attempt, delays the next one, records the error and stays pending', () => {
    const input = frozen(order({ lease: 'sidecar-1' }));
    const out = scheduleRetry(input, LATER, 2_000, 'HTTP 503');
    expect(out.command.status).toBe('pending');
    expect(out.scheduling.attempts).toBe(1);
    expect(out.scheduling.next_attempt_at).toBe(new Date(LATER.getTime() + 2_000).toISOString());
    expect(out.scheduling.last_error).toBe('HTTP 503');
    expect(out.scheduling.lease_owner).toBeNull();
    expect(scheduleRetry(out, LATER, 0, 'again').scheduling.attempts).toBe(2);
  });

  it.each(['sent', 'success', 'failure'] as const)('scheduleRetry refuses a %s order', (status) => {
    expectInvalid(() => scheduleRetry(order({ status }), LATER, 1_000, 'x'));
  });
});
