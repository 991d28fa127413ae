import {
  AUDIT_OUTCOMES,
  MAX_AUDIT_REQUEST_IDS,
  MAX_PAGE_CURSOR_LENGTH,
  MAX_REQUEST_PAGE_SIZE,
  ORDER_STATUSES,
  SOURCES,
  TARGET_TYPES,
  schemas as coreSchemas,
} from '@command-manager/core';
import { OPERATIONS } from './auth/roles';
import { API_PREFIX } from './internal/paths';
import { pullPaths, pullSchemas } from './internal/pull-openapi';

/**
 * The OpenAPI 3.1 document, generated: request bodies and stored documents are core's JSON Schemas (the same
 * objects that validate requests, embedded as they are: OpenAPI 3.1 uses JSON Schema 2020-12, and core's
 * schemas carry no `$id`/`$schema`). Only the shapes of this adapter's own answers are declared here.
 */
export interface OpenApiOptions {
  title?: string;
  version?: string;
  /** Default page size and maximum of `GET /orders`. */
  defaultPageSize?: number;
  maxPageSize?: number;
}

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});
const json = (description: string, schema: unknown): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

/** A single result's body is core's `ResultReport` without `id` (the id is in the path). */
function singleResultSchema(): Record<string, unknown> {
  const { properties, required, ...rest } = coreSchemas.ResultReport;
  const { id: _id, ...otherProperties } = properties;
  return {
    ...rest,
    title: 'SingleResultReport',
    properties: otherProperties,
    required: required.filter((r: string) => r !== 'id'),
  };
}

/**
 * What callers may send: core's `CommandRequest` with `user` and `action.args` optional (they default to the
 * caller and `{}`: core's wazuh-bodies.ts), and one command may be posted bare, without `commands`.
 */
function asSentSchemas(): Record<string, unknown> {
  const { properties, required, title: _title, ...rest } = coreSchemas.CommandRequest;
  const action = properties.action;
  const command = {
    ...rest,
    title: 'CommandRequestAsSent',
    properties: {
      ...properties,
      action: { ...action, required: action.required.filter((r: string) => r !== 'args') },
    },
    required: required.filter((r: string) => r !== 'user'),
  };
  const batch = coreSchemas.CommandBatch;
  return {
    CommandRequestAsSent: command,
    CommandBatchAsSent: {
      ...batch,
      title: 'CommandBatchAsSent',
      properties: { commands: { ...batch.properties.commands, items: ref('CommandRequestAsSent') } },
    },
  };
}

const counts = {
  type: 'object',
  properties: Object.fromEntries(ORDER_STATUSES.map((s) => [s, { type: 'integer', minimum: 0 }])),
  required: [...ORDER_STATUSES],
  additionalProperties: false,
};

const writeErrors = {
  type: 'array',
  items: {
    type: 'object',
    properties: { id: { type: 'string' }, reason: { type: 'string' }, code: { type: 'string' } },
    required: ['id', 'reason'],
    additionalProperties: false,
  },
};
const writeState = { type: 'string', enum: ['writing', 'complete', 'partial', 'failed'] };
const excluded = {
  type: 'integer',
  minimum: 0,
  description:
    'Agents of the target left out by `exclude_agents`. Present when the command has `agent_status` or `exclude_agents`.',
};
const ineligible = {
  type: 'integer',
  minimum: 0,
  description:
    'Agents of the target left out by `agent_status` (and not excluded). Present when the command has `agent_status` or `exclude_agents`.',
};

export function adapterSchemas(): Record<string, unknown> {
  return {
    ...asSentSchemas(),
    Error: {
      type: 'object',
      properties: {
        error: {
          type: 'object',
          properties: {
            code: { type: 'string' },
            message: { type: 'string' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  pointer: {
                    type: 'string',
                    description:
                      'JSON pointer (RFC 6901) of the bad field; `/query/<name>` for a query parameter, `/headers/<name>` for a header, `/params/<name>` for a path parameter.',
                  },
                  message: { type: 'string' },
                },
                required: ['pointer', 'message'],
                additionalProperties: false,
              },
            },
          },
          required: ['code', 'message', 'details'],
          additionalProperties: false,
        },
      },
      required: ['error'],
      additionalProperties: false,
    },
    SubmitResponse: {
      type: 'object',
      description:
        "Wazuh's answer (`_index`, `orders[]._id`, `result`) plus, per command, its request id, order count and unresolved targets. `orders` is absent with `?summary=true`.",
      properties: {
        _index: { type: 'string' },
        _id: {
          type: 'string',
          description:
            'The first order’s id, when one command was posted bare (what Wazuh’s plugin answered then).',
        },
        result: { type: 'string', description: '`CREATED` when every order was written.' },
        commands: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              request_id: { type: 'integer', minimum: 0 },
              orders: { type: 'integer', minimum: 0 },
              unresolved: { type: 'array', items: { type: 'string' } },
              excluded,
              ineligible,
              write_state: writeState,
              write_errors: writeErrors,
            },
            required: ['request_id', 'orders', 'unresolved', 'write_state'],
            additionalProperties: false,
          },
        },
        orders: {
          type: 'array',
          items: {
            type: 'object',
            properties: { _id: { type: 'string', pattern: '^[0-9]+-[0-9]+$' } },
            required: ['_id'],
            additionalProperties: false,
          },
        },
      },
      required: ['_index', 'result', 'commands'],
      additionalProperties: false,
    },
    SubmissionPlan: {
      type: 'object',
      description:
        'The answer of a dry run (`?dry_run=true`): nothing was written. Per command, the orders the send would create now, the first targets and what did not resolve; `plan_token` holds the send to these targets.',
      properties: {
        plan_token: {
          type: 'string',
          pattern: '^[A-Za-z0-9_-]+$',
          description:
            'Send the same body with header `Plan-Token: <plan_token>`: it is written only if every command still resolves to the same targets (412 otherwise). A digest over the caller, the body and the resolved targets (no secret: it only states an expectation the server checks); 44 bytes per command, about 5.9 KB of base64url for 100 commands.',
        },
        commands: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              orders: { type: 'integer', minimum: 0, description: 'Orders the command would create.' },
              sample: {
                type: 'array',
                maxItems: 10,
                items: { type: 'string' },
                description: 'The first targets in order-id order (`agent:<id>`, `server:<id>`), at most 10.',
              },
              unresolved: { type: 'array', items: { type: 'string' } },
              excluded,
              ineligible,
            },
            required: ['orders', 'sample', 'unresolved'],
            additionalProperties: false,
          },
        },
      },
      required: ['plan_token', 'commands'],
      additionalProperties: false,
    },
    RequestRecord: {
      type: 'object',
      properties: {
        request_id: { type: 'integer', minimum: 0 },
        created_at: { type: 'string', format: 'date-time' },
        principal: { type: 'string' },
        command: ref('CommandRequest'),
        total_orders: { type: 'integer', minimum: 0 },
        unresolved: { type: 'array', items: { type: 'string' } },
        excluded,
        ineligible,
        write_state: writeState,
        updated_at: { type: 'string', format: 'date-time' },
        write_errors: writeErrors,
        rollout_stopped_at: { type: ['string', 'null'], format: 'date-time' },
        live_until: {
          type: 'string',
          format: 'date-time',
          description:
            'A live group command (`membership` = `live`): the end of its delivery window, until which agents joining the group get an order (on top of `total_orders`, the orders of the first expansion).',
        },
      },
      required: [
        'request_id',
        'created_at',
        'principal',
        'command',
        'total_orders',
        'unresolved',
        'write_state',
      ],
      additionalProperties: false,
    },
    RequestProgress: {
      type: 'object',
      properties: {
        request: ref('RequestRecord'),
        counts,
        progress: { type: 'number', minimum: 0, maximum: 1 },
        done: { type: 'boolean' },
        rollout: {
          type: 'object',
          properties: {
            stopped: { type: 'boolean' },
            max_concurrency: { type: 'integer', minimum: 1 },
            max_errors: { type: ['integer', 'string'] },
            errors: { type: 'integer', minimum: 0 },
          },
          required: ['stopped', 'errors'],
          additionalProperties: false,
        },
        failures: {
          type: 'object',
          description:
            'The `failure` orders by `result.code` (most frequent first, at most 20 codes), each with the message of its lowest order id; `other` counts the rest.',
          properties: {
            codes: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  code: { type: 'integer' },
                  count: { type: 'integer', minimum: 1 },
                  message: { type: 'string' },
                },
                required: ['code', 'count', 'message'],
                additionalProperties: false,
              },
            },
            other: { type: 'integer', minimum: 0 },
          },
          required: ['codes', 'other'],
          additionalProperties: false,
        },
      },
      required: ['request', 'counts', 'progress', 'done', 'rollout', 'failures'],
      additionalProperties: false,
    },
    AuditRecord: {
      type: 'object',
      description:
        'One call: who (`principal`, `auth_method`; absent when authentication failed), from where (`client_ip`), what (`operation`, `route`, `request_ids`), the answer (`status`, `outcome`, `code`) and when. `sidecar`, `seq`, `prev_hash` and `hash` chain it to the previous record of the same sidecar: `hash` is the SHA-256 (hex) of the record without `hash`, as JSON with keys sorted. A record with `dropped` counts refused calls not recorded one by one (a full queue).',
      properties: {
        '@timestamp': { type: 'string', format: 'date-time' },
        principal: { type: 'string' },
        auth_method: { type: 'string', enum: ['basic', 'token', 'certificate'] },
        client_ip: { type: 'string' },
        operation: { type: 'string' },
        route: { type: 'string' },
        status: { type: 'integer' },
        outcome: { type: 'string', enum: [...AUDIT_OUTCOMES] },
        code: { type: 'string' },
        request_ids: { type: 'array', items: { type: 'integer' }, maxItems: MAX_AUDIT_REQUEST_IDS },
        dropped: { type: 'integer', minimum: 1 },
        sidecar: { type: 'string' },
        seq: { type: 'integer', minimum: 1 },
        prev_hash: { type: 'string' },
        hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
      },
      required: [
        '@timestamp',
        'client_ip',
        'operation',
        'route',
        'status',
        'outcome',
        'sidecar',
        'seq',
        'prev_hash',
        'hash',
      ],
      additionalProperties: false,
    },
    AuditPage: {
      type: 'object',
      description: 'Audit records, oldest first; follow `cursor` while it is present.',
      properties: {
        records: { type: 'array', items: ref('AuditRecord') },
        cursor: { type: 'string' },
      },
      required: ['records'],
      additionalProperties: false,
    },
    RequestPage: {
      type: 'object',
      description:
        'Request records, newest first, each with its counts. With a `status` filter a page may hold fewer items than asked, even none: follow `cursor` while it is present.',
      properties: {
        requests: {
          type: 'array',
          items: {
            type: 'object',
            properties: { request: ref('RequestRecord'), counts, done: { type: 'boolean' } },
            required: ['request', 'counts', 'done'],
            additionalProperties: false,
          },
        },
        cursor: { type: 'string', description: 'Present when more records may follow.' },
      },
      required: ['requests'],
      additionalProperties: false,
    },
    OrderEnvelope: {
      type: 'object',
      properties: { id: { type: 'string' }, order: ref('Order') },
      required: ['id', 'order'],
      additionalProperties: false,
    },
    OrderPage: {
      type: 'object',
      properties: {
        orders: { type: 'array', items: ref('OrderEnvelope') },
        cursor: {
          type: 'string',
          description: 'Pass back as `?cursor=` for the next page; absent on the last page.',
        },
      },
      required: ['orders'],
      additionalProperties: false,
    },
    ResultOutcome: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        outcome: {
          type: 'string',
          enum: ['applied', 'conflict', 'unknown', 'invalid', 'error'],
          description:
            '`invalid`: the report cannot be stored (its `code` says why, e.g. RESULT_NOT_STORABLE); `error`: the store refused this write, retry this report.',
        },
        code: { type: 'string' },
        status: {
          type: 'string',
          enum: ORDER_STATUSES,
          description: 'The order status after the report (applied) or as it stands (conflict).',
        },
        message: { type: 'string' },
      },
      required: ['id', 'outcome'],
      additionalProperties: false,
    },
    ResultsResponse: {
      type: 'object',
      properties: {
        results: { type: 'array', items: ref('ResultOutcome') },
        applied: { type: 'integer', minimum: 0 },
        conflict: { type: 'integer', minimum: 0 },
        unknown: { type: 'integer', minimum: 0 },
        invalid: { type: 'integer', minimum: 0 },
        error: { type: 'integer', minimum: 1, description: 'Present when the store refused some writes.' },
      },
      required: ['results', 'applied', 'conflict', 'unknown', 'invalid'],
      additionalProperties: false,
    },
    SingleResultReport: singleResultSchema(),
    CancelResponse: {
      type: 'object',
      properties: {
        request_id: { type: 'integer', minimum: 0 },
        cancelled: {
          type: 'integer',
          minimum: 0,
          description: 'Pending orders moved to failure (CANCELLED).',
        },
        in_flight: {
          type: 'integer',
          minimum: 0,
          description:
            'Pending orders not cancelled because they were being delivered (under a live dispatch lease): each ends sent, or pending again if its delivery fails (cancel again to catch it).',
        },
      },
      required: ['request_id', 'cancelled', 'in_flight'],
      additionalProperties: false,
    },
    Health: {
      type: 'object',
      properties: { status: { const: 'ok' } },
      required: ['status'],
      additionalProperties: false,
    },
    Readiness: {
      type: 'object',
      properties: {
        ready: { type: 'boolean' },
        checks: { type: 'object', additionalProperties: { type: 'boolean' } },
      },
      required: ['ready', 'checks'],
      additionalProperties: false,
    },
  };
}

export function buildOpenApiDocument(options: OpenApiOptions = {}): Record<string, unknown> {
  const defaultPageSize = options.defaultPageSize ?? 100;
  const maxPageSize = options.maxPageSize ?? 1000;
  const security = [{ basicAuth: [] }, { bearerAuth: [] }, { mutualTLS: [] }];
  const common = {
    '401': errorResponse('Not authenticated'),
    '403': errorResponse('The caller’s roles do not allow this'),
    '429': errorResponse('Too many failed logins from this client (Retry-After)'),
    '503': errorResponse('OpenSearch is unavailable (Retry-After)'),
    '500': errorResponse('Unexpected error (generic message, no stack)'),
  };
  const idParam = (description: string, schema: unknown): Record<string, unknown> => ({
    name: 'id',
    in: 'path',
    required: true,
    description,
    schema,
  });
  const query = (name: string, schema: unknown, description: string): Record<string, unknown> => ({
    name,
    in: 'query',
    required: false,
    description,
    schema,
  });
  const requestId = { type: 'string', pattern: '^[0-9]{1,15}$' };
  const cursorParam = query(
    'cursor',
    { type: 'string', maxLength: MAX_PAGE_CURSOR_LENGTH, pattern: '^[A-Za-z0-9_-]+$' },
    'Cursor from the previous page',
  );
  const timestampRange = [
    query('from', { type: 'string', format: 'date-time' }, 'Inclusive lower bound on `@timestamp`'),
    query('to', { type: 'string', format: 'date-time' }, 'Exclusive upper bound on `@timestamp`'),
  ];
  const orderId = { type: 'string', pattern: '^[0-9]{1,15}-[0-9]{1,9}$' };

  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: options.title ?? 'Wazuh command manager',
      version: options.version ?? '0.1.0',
      license: { name: 'Apache 2.0', identifier: 'Apache-2.0' },
      description: `Compatible with Wazuh's command manager plugin (\`POST ${API_PREFIX}/commands\`). Operations a role may grant: ${OPERATIONS.join(', ')}.`,
    },
    // Relative: the API is served by the sidecar that serves this document.
    servers: [{ url: '/', description: 'The sidecar serving this document' }],
    security,
    components: {
      securitySchemes: {
        basicAuth: { type: 'http', scheme: 'basic' },
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API token; only its SHA-256 is stored.',
        },
        mutualTLS: {
          type: 'mutualTLS',
          description: 'The client certificate’s subject CN maps to a principal.',
        },
      },
      schemas: { ...coreSchemas, ...adapterSchemas(), ...pullSchemas() },
    },
    paths: {
      [`${API_PREFIX}/commands`]: {
        post: {
          operationId: 'submitCommands',
          summary: 'Submit command requests (role operation `submit`)',
          parameters: [
            query(
              'summary',
              { type: 'string', enum: ['true', 'false'] },
              'Omit per-order ids from the answer.',
            ),
            query(
              'dry_run',
              { type: 'string', enum: ['true', 'false'] },
              'Write nothing; answer 200 with the orders each command would create and a `plan_token` (SubmissionPlan). The same checks and refusals as the send; `Idempotency-Key` and `Plan-Token` are ignored.',
            ),
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description:
                'A retried submission with the same key and body returns the first answer and writes nothing twice.',
              schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
            },
            {
              name: 'Plan-Token',
              in: 'header',
              required: false,
              description:
                'The `plan_token` of a dry run of the same body by the same caller: the submission is written only if every command still resolves to the same targets, else 412 naming per command how many targets were added and removed, and some added ones. Checked right before the write.',
              schema: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_-]+$' },
            },
          ],
          requestBody: {
            required: true,
            description:
              'A batch, or one command posted bare (as Wazuh servers did before December 2024). `user` defaults to the caller, `action.args` to `{}`.',
            content: {
              'application/json': {
                schema: { oneOf: [ref('CommandBatchAsSent'), ref('CommandRequestAsSent')] },
              },
            },
          },
          responses: {
            '200': json('Dry run (`?dry_run=true`): nothing written', ref('SubmissionPlan')),
            '201': json('Orders written', ref('SubmitResponse')),
            '400': errorResponse(
              'Invalid body (every bad field by JSON pointer), unknown action, or a malformed Plan-Token',
            ),
            '409': errorResponse(
              'Idempotency-Key reused with another body, or its first submission is in progress',
            ),
            '413': errorResponse('Body too large, or too many commands'),
            '412': errorResponse(
              'Plan-Token given and the targets changed since the dry run (or it was made for another body or caller); nothing written',
            ),
            '422': errorResponse('Fan-out over the limit, or no target resolved'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/requests`]: {
        get: {
          operationId: 'listRequests',
          summary: 'Request records, newest first, with their counts (role operation `read`)',
          parameters: [
            query('source', { type: 'string', enum: SOURCES }, 'Source (any case)'),
            query('user', { type: 'string', maxLength: 256 }, '`command.user`'),
            query('action', { type: 'string', maxLength: 256 }, 'Action name'),
            query(
              'status',
              { type: 'string' },
              `Requests with at least one order in one of these comma-separated statuses: ${ORDER_STATUSES.join(', ')}`,
            ),
            query('from', { type: 'string', format: 'date-time' }, 'Inclusive lower bound on `created_at`'),
            query('to', { type: 'string', format: 'date-time' }, 'Exclusive upper bound on `created_at`'),
            query(
              'size',
              {
                type: 'integer',
                minimum: 1,
                maximum: Math.min(maxPageSize, MAX_REQUEST_PAGE_SIZE),
                default: defaultPageSize,
              },
              'Page size (a page also stops at 1 MiB of records)',
            ),
            cursorParam,
          ],
          responses: {
            '200': json('A page of request records', ref('RequestPage')),
            '400': errorResponse('Invalid query parameter or cursor (named by pointer `/query/<name>`)'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/requests/{id}`]: {
        get: {
          operationId: 'getRequest',
          summary: 'A request’s progress and failure breakdown by result code (role operation `read`)',
          parameters: [idParam('Request id', requestId)],
          responses: {
            '200': json('Progress', ref('RequestProgress')),
            '400': errorResponse('Malformed id'),
            '404': errorResponse('Unknown request'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/requests/{id}/events`]: {
        get: {
          operationId: 'streamRequestEvents',
          summary: 'A request’s progress pushed as server-sent events (role operation `read`)',
          description:
            'Each event is `id: <n>` (increasing; a resumed stream continues after `Last-Event-ID`), `event: progress` or, last, `event: end`, and `data:` the body of `GET /requests/{id}` (RequestProgress) on one line. The current state is sent at once (a request already done sends its `end` event only), then an event when the counts change, at most one per reading interval (setting `http.events.intervalMs`); after `end` the stream closes. Comment lines (`: heartbeat`) keep proxies open. Fed from the shared index: any sidecar serves any request.',
          parameters: [
            idParam('Request id', requestId),
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description:
                'The id of the last event received: the resumed stream numbers its events after it.',
              schema: { type: 'string', pattern: '^[0-9]{1,15}$' },
            },
          ],
          responses: {
            '200': {
              description: 'The event stream (each `data` is a RequestProgress)',
              content: {
                'text/event-stream': {
                  schema: {
                    type: 'string',
                    description:
                      'Events separated by a blank line; the `data` of each is one RequestProgress (#/components/schemas/RequestProgress) as JSON.',
                  },
                },
              },
            },
            '400': errorResponse('Malformed id or Last-Event-ID'),
            '404': errorResponse('Unknown request'),
            ...common,
            '429': errorResponse(
              'Too many failed logins from this client, or too many event streams open on this sidecar or for this caller (TOO_MANY_STREAMS); Retry-After',
            ),
          },
        },
      },
      [`${API_PREFIX}/requests/{id}/cancel`]: {
        post: {
          operationId: 'cancelRequest',
          summary:
            'Fail a request’s pending orders that are not in flight with a cancelled result (role operation `cancel`; another principal’s request needs `cancel-any`)',
          parameters: [idParam('Request id', requestId)],
          responses: {
            '200': json('How many orders were cancelled', ref('CancelResponse')),
            '400': errorResponse('Malformed id'),
            '404': errorResponse('Unknown request'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/audit`]: {
        get: {
          operationId: 'listAudit',
          summary:
            'The audit trail: every POST and every refused call (401/403/409/413/422/429), oldest first (role operation `audit`)',
          parameters: [
            ...timestampRange,
            query('principal', { type: 'string', maxLength: 256 }, 'Who called'),
            query('outcome', { type: 'string', enum: [...AUDIT_OUTCOMES] }, 'ok, refused or error'),
            query('sidecar', { type: 'string', maxLength: 256 }, 'The sidecar that recorded it (its chain)'),
            query(
              'size',
              { type: 'integer', minimum: 1, maximum: maxPageSize, default: defaultPageSize },
              'Page size (a page also stops at 1 MiB of records)',
            ),
            cursorParam,
          ],
          responses: {
            '200': json('A page of audit records', ref('AuditPage')),
            '400': errorResponse('Invalid query parameter or cursor (named by pointer `/query/<name>`)'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/orders/{id}`]: {
        get: {
          operationId: 'getOrder',
          summary: 'An order by id (role operation `read`)',
          parameters: [idParam('Order id `<request_id>-<order_id>`', orderId)],
          responses: {
            '200': json('The order', ref('OrderEnvelope')),
            '400': errorResponse('Malformed id'),
            '404': errorResponse('Unknown order'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/orders`]: {
        get: {
          operationId: 'listOrders',
          summary: 'Orders matching filters, paged by cursor (role operation `read`)',
          parameters: [
            query('status', { type: 'string' }, `Comma-separated statuses: ${ORDER_STATUSES.join(', ')}`),
            query('target_type', { type: 'string', enum: TARGET_TYPES }, 'Target type'),
            query('target_id', { type: 'string', maxLength: 256 }, 'Target id'),
            query('action', { type: 'string', maxLength: 256 }, 'Action name'),
            query('source', { type: 'string', enum: SOURCES }, 'Source (any case)'),
            query('request_id', requestId, 'Request id'),
            ...timestampRange,
            query(
              'size',
              { type: 'integer', minimum: 1, maximum: maxPageSize, default: defaultPageSize },
              'Most orders in the page; a page of large orders holds fewer (bounded in bytes, at least one, with a cursor)',
            ),
            cursorParam,
          ],
          responses: {
            '200': json('A page of orders', ref('OrderPage')),
            '400': errorResponse('Invalid query parameter (named by pointer `/query/<name>`)'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/results`]: {
        post: {
          operationId: 'reportResults',
          summary: 'Bulk result reports from the Comms API (role operation `results`)',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('ResultReportBatch') } },
          },
          responses: {
            '200': json(
              'Per report: applied, conflict (with the current status), unknown or invalid',
              ref('ResultsResponse'),
            ),
            '400': errorResponse('Invalid body'),
            '413': errorResponse('Body too large, or too many reports'),
            ...common,
          },
        },
      },
      [`${API_PREFIX}/orders/{id}/result`]: {
        post: {
          operationId: 'reportResult',
          summary: 'One result report from the Comms API (role operation `results`)',
          parameters: [idParam('Order id `<request_id>-<order_id>`', orderId)],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('SingleResultReport') } },
          },
          responses: {
            '200': json('Applied', ref('ResultOutcome')),
            '400': errorResponse('Invalid body'),
            '404': errorResponse('Unknown order'),
            '409': errorResponse(
              'The order is already terminal (or otherwise cannot take this result); the message says its status',
            ),
            ...common,
          },
        },
      },
      ...pullPaths(common),
      '/health': {
        get: {
          operationId: 'health',
          summary: 'Liveness (no authentication)',
          security: [],
          responses: { '200': json('Alive', ref('Health')) },
        },
      },
      '/ready': {
        get: {
          operationId: 'ready',
          summary: 'Readiness: OpenSearch reachable, templates in place (no authentication)',
          security: [],
          responses: {
            '200': json('Ready', ref('Readiness')),
            '503': errorResponse('Not ready; details name the failed checks'),
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics (role operation `metrics`)',
          responses: {
            '200': {
              description: 'Prometheus text format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...common,
          },
        },
      },
      '/console': {
        get: {
          operationId: 'console',
          summary:
            'The browser console (static page, scripts and styles under `/console/`, no authentication; its API calls are authenticated). `/console` redirects to `/console/`, which answers the page. Absent when `http.console` is false.',
          security: [],
          responses: {
            '200': {
              description: 'The console page (at `/console/`)',
              content: { 'text/html': { schema: { type: 'string' } } },
            },
            '301': {
              description: 'Redirect to `/console/` (the page links its modules relative to the slash)',
              headers: { Location: { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document (no authentication)',
          security: [],
          responses: { '200': json('OpenAPI 3.1', { type: 'object' }) },
        },
      },
    },
  };
}
