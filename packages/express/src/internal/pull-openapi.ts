import { ORDER_STATUSES, ackRequestSchema, claimRequestSchema } from '@command-manager/core';
import { API_PREFIX } from './paths';

/**
 * The OpenAPI entries of pull delivery (`…/orders/_claim`, `…/orders/_ack`): request bodies are core's
 * schemas, the answers are declared here. Merged into the document by `buildOpenApiDocument`.
 */
const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, schema: unknown): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});
const errorResponse = (description: string): Record<string, unknown> => json(description, ref('Error'));

export function pullSchemas(): Record<string, unknown> {
  return {
    ClaimRequest: claimRequestSchema,
    AckRequest: ackRequestSchema,
    ClaimResponse: {
      type: 'object',
      properties: {
        orders: { type: 'array', items: ref('OrderEnvelope') },
        lease_expires_at: {
          type: 'string',
          format: 'date-time',
          description: 'End of the consumer’s lease on these orders; absent when no order was claimed.',
        },
      },
      required: ['orders'],
      additionalProperties: false,
    },
    AckOutcome: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        outcome: {
          type: 'string',
          enum: ['applied', 'not_yours', 'expired', 'unknown', 'conflict'],
          description:
            '`applied`: now `sent` (also after this consumer’s lease lapsed, while nobody claimed the order since). `not_yours`: leased to another consumer (or released). `expired`: the deadline passed; not marked sent. `unknown`: no such order. `conflict`: no longer pending (`status` says what it is).',
        },
        status: { type: 'string', enum: ORDER_STATUSES },
        message: { type: 'string' },
      },
      required: ['id', 'outcome'],
      additionalProperties: false,
    },
    AckResponse: {
      type: 'object',
      properties: {
        results: { type: 'array', items: ref('AckOutcome') },
        applied: { type: 'integer', minimum: 0 },
        not_yours: { type: 'integer', minimum: 0 },
        expired: { type: 'integer', minimum: 0 },
        unknown: { type: 'integer', minimum: 0 },
        conflict: { type: 'integer', minimum: 0 },
      },
      required: ['results', 'applied', 'not_yours', 'expired', 'unknown', 'conflict'],
      additionalProperties: false,
    },
  };
}

export function pullPaths(common: Record<string, unknown>): Record<string, unknown> {
  const off = errorResponse('Pull delivery is off on this sidecar (`scheduler.delivery` is `push`)');
  return {
    [`${API_PREFIX}/orders/_claim`]: {
      post: {
        operationId: 'claimOrders',
        summary: 'Claim due orders as a pull consumer, long-polling up to `wait_ms` (role operation `claim`)',
        requestBody: { required: true, content: { 'application/json': { schema: ref('ClaimRequest') } } },
        responses: {
          '200': json('The orders now leased to the consumer (possibly none)', ref('ClaimResponse')),
          '400': errorResponse('Invalid body (every bad field by JSON pointer)'),
          '404': off,
          ...common,
          '503': errorResponse(
            'OpenSearch is unavailable, or too many claims are waiting on this sidecar (TOO_MANY_WAITERS); Retry-After',
          ),
        },
      },
    },
    [`${API_PREFIX}/orders/_ack`]: {
      post: {
        operationId: 'ackOrders',
        summary: 'Mark claimed orders `sent` (role operation `claim`)',
        requestBody: { required: true, content: { 'application/json': { schema: ref('AckRequest') } } },
        responses: {
          '200': json('Per order: applied, not_yours, expired, unknown or conflict', ref('AckResponse')),
          '400': errorResponse('Invalid body'),
          '404': off,
          ...common,
        },
      },
    },
  };
}
