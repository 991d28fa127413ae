/**
 * JSON Schemas (draft 2020-12) of the pull delivery bodies: a server claims due orders
 * (`POST …/orders/_claim`) and acknowledges the ones it handed on (`POST …/orders/_ack`). Like `schemas.ts`,
 * they validate the bodies (`pull-validation.ts`) and are embedded as they are in the OpenAPI document.
 * Every input is bounded: a consumer cannot hold more than `MAX_CLAIM_SIZE` orders per call, lease them for
 * longer than `MAX_CLAIM_LEASE_MS`, or park a request for longer than `MAX_CLAIM_WAIT_MS`.
 */
import { targetSchema } from './schemas';

/** Most orders one claim answers (and one ack names). */
export const MAX_CLAIM_SIZE = 1000;
/** Shortest and longest consumer lease. */
export const MIN_CLAIM_LEASE_MS = 1000;
export const MAX_CLAIM_LEASE_MS = 10 * 60 * 1000;
/** Longest long-poll: below the usual 60 s idle timeout of proxies and load balancers. */
export const MAX_CLAIM_WAIT_MS = 55_000;
/** Defaults of an omitted field. */
export const DEFAULT_CLAIM_SIZE = 100;
export const DEFAULT_CLAIM_LEASE_MS = 30_000;
/** Consumer ids: what a host name, a node name or a UUID is made of; it is written on leased orders. */
export const CONSUMER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** Order document ids, `<request_id>-<order_id>`. */
export const ORDER_ID_PATTERN = '^[0-9]{1,16}-[0-9]{1,16}$';

const consumerSchema = {
  type: 'string',
  pattern: CONSUMER_ID_PATTERN,
  description:
    'The claiming server (e.g. its node name): 1–128 characters of letters, digits, `.`, `_`, `:` and `-`, starting with a letter or digit.',
} as const;

export const claimRequestSchema = {
  title: 'ClaimRequest',
  description:
    'Claims up to `size` due orders, each leased to `consumer` for `lease_ms`; with none due, waits up to `wait_ms` for one.',
  type: 'object',
  properties: {
    consumer: consumerSchema,
    size: { type: 'integer', minimum: 1, maximum: MAX_CLAIM_SIZE, default: DEFAULT_CLAIM_SIZE },
    lease_ms: {
      type: 'integer',
      minimum: MIN_CLAIM_LEASE_MS,
      maximum: MAX_CLAIM_LEASE_MS,
      default: DEFAULT_CLAIM_LEASE_MS,
      description:
        'How long the claimed orders stay leased to this consumer; un-acked, they are claimable again after it.',
    },
    wait_ms: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_CLAIM_WAIT_MS,
      default: 0,
      description: 'Long-poll: how long to wait for an order when none is due (0: answer at once).',
    },
    target: { ...targetSchema, description: 'Only orders for this destination.' },
  },
  required: ['consumer'],
  additionalProperties: false,
} as const;

export const ackRequestSchema = {
  title: 'AckRequest',
  description: 'Marks orders this consumer claimed as `sent` (handed on to their destination).',
  type: 'object',
  properties: {
    consumer: consumerSchema,
    orders: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_CLAIM_SIZE,
      items: { type: 'string', pattern: ORDER_ID_PATTERN, maxLength: 33 },
    },
  },
  required: ['consumer', 'orders'],
  additionalProperties: false,
} as const;
