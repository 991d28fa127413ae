import type { Order, OrderStatus, Source, TargetType } from '@command-manager/core';

export interface TestOrderFields {
  status?: OrderStatus;
  /** `@timestamp`. */
  timestamp?: Date;
  /** Seconds until the deadline (`delivery_timestamp`), from `timestamp`. */
  timeoutSec?: number;
  /** Overrides the deadline computed from `timestamp` + `timeoutSec`. */
  deadline?: Date;
  nextAttemptAt?: Date;
  leaseOwner?: string | null;
  leaseExpiresAt?: Date | null;
  completedAt?: Date | null;
  targetType?: TargetType;
  targetId?: string;
  action?: string;
  source?: Source;
  groups?: string[];
}

/** A complete, valid order for store tests; `@timestamp` defaults to 2025-06-01T12:00:00Z. */
export function makeTestOrder(requestId: number, orderId: number, fields: TestOrderFields = {}): Order {
  const timestamp = fields.timestamp ?? new Date('2025-06-01T12:00:00.000Z');
  const timeoutSec = fields.timeoutSec ?? 300;
  const deadline = fields.deadline ?? new Date(timestamp.getTime() + timeoutSec * 1000);
  const status = fields.status ?? 'pending';
  return {
    '@timestamp': timestamp.toISOString(),
    delivery_timestamp: deadline.toISOString(),
    agent: { groups: fields.groups ?? ['default'] },
    command: {
      source: fields.source ?? 'Users/Services',
      user: 'wazuh',
      target: { type: fields.targetType ?? 'agent', id: fields.targetId ?? `agent-${orderId}` },
      action: { name: fields.action ?? 'restart', args: {}, version: '5.0.0' },
      timeout: timeoutSec,
      status,
      result: null,
      request_id: requestId,
      order_id: orderId,
    },
    scheduling: {
      principal: 'tester',
      attempts: 0,
      next_attempt_at: (fields.nextAttemptAt ?? timestamp).toISOString(),
      lease_owner: fields.leaseOwner ?? null,
      lease_expires_at: fields.leaseExpiresAt ? fields.leaseExpiresAt.toISOString() : null,
      sent_at: null,
      completed_at: fields.completedAt ? fields.completedAt.toISOString() : null,
      last_error: null,
    },
  };
}

/** `base` plus `ms` milliseconds. */
export function at(base: Date, ms: number): Date {
  return new Date(base.getTime() + ms);
}
