/**
 * JSON Schemas (draft 2020-12) of what the API accepts and stores. They are the source of truth: ajv
 * validates with them (`validation.ts`), the HTTP adapter generates its OpenAPI document from them, and a
 * unit test checks that the TypeScript types in `model.ts` do not drift from them.
 *
 * They are plain `as const` objects (no ajv types) so that any tool can read them.
 *
 * Notes on what a schema cannot say by itself (enforced in `validation.ts`):
 * - `source` is matched without regard to case and canonicalised before the schema sees it (Wazuh's content
 *   manager sends `Content Manager`), so the schema lists only the canonical spellings.
 * - The batch size and reports per call are bounded by configuration (`maxBatchCommands`,
 *   `maxResultsPerReport`), checked before the schema.
 * - `action.name` must be registered and `action.args` must match the action's own schema
 *   (`action-registry.ts`).
 */
import { COMMAND_TARGET_TYPES, MEMBERSHIPS, ORDER_STATUSES, SOURCES, TARGET_TYPES } from './model';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Longest `target.id` (agent id, group name, server component) and `user` accepted. */
export const MAX_ID_LENGTH = 256;
/** Most statuses in `agent_status`, and longest status (Wazuh's are `active`, `disconnected`, `pending`, `never_connected`). */
export const MAX_AGENT_STATUSES = 8;
export const MAX_AGENT_STATUS_LENGTH = 64;
/** `timeout` is stored in Wazuh's `short` mapping: 1..32767 seconds. */
export const MIN_TIMEOUT_SEC = 1;
export const MAX_TIMEOUT_SEC = 32767;
/** `delivery_window_s`: at most 30 days. */
export const MAX_DELIVERY_WINDOW_SEC = 30 * 24 * 3600;

/**
 * No C0/C1 control characters (they break logs and Wazuh's own tooling), no bidirectional overrides or
 * isolates (U+202A–U+202E, U+2066–U+2069: they make an id display as another), and no lone surrogates
 * (not text; JSON.parse lets them through). ajv compiles patterns with the `u` flag, under which a
 * surrogate range in a class matches only unpaired surrogates.
 */
export const NO_CONTROL_CHARS_PATTERN =
  '^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069\\uD800-\\uDFFF]*$';
/** Error budget as a string: an absolute count (`"5"`) or a percentage 0..100 (`"10%"`, `"2.5%"`). */
export const MAX_ERRORS_PATTERN = '^(?:[0-9]{1,9}|(?:100(?:\\.0+)?|[0-9]{1,2}(?:\\.[0-9]+)?)%)$';

const boundedText = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: NO_CONTROL_CHARS_PATTERN,
} as const;

export const targetSchema = {
  type: 'object',
  description: 'The destination: an agent id, a group name, or a server component.',
  properties: {
    type: { type: 'string', enum: TARGET_TYPES },
    id: {
      ...boundedText,
      description: 'Agent id, group name, or server component (e.g. `vulnerability-detector`).',
    },
  },
  required: ['type', 'id'],
  additionalProperties: false,
} as const;

/**
 * A command's target: an order's (`agent`, `group`, `server` with `id`), or `agents` with `ids`, one order
 * per known agent. The number of `ids` is bounded by configuration (`limits.maxTargetAgents`), checked
 * before the schema; each id is at most MAX_ID_LENGTH characters.
 */
export const commandTargetSchema = {
  type: 'object',
  description:
    'The destination: an agent id, a group name, a server component, or (`"type": "agents"`) a list of agent ids in `ids`.',
  properties: {
    type: { type: 'string', enum: COMMAND_TARGET_TYPES },
    id: {
      ...boundedText,
      description: 'Agent id, group name, or server component (e.g. `vulnerability-detector`).',
    },
    ids: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: boundedText,
      description:
        'For `"type": "agents"` only: the agent ids, one order each (unknown ids are listed in `unresolved`). At most `limits.maxTargetAgents` ids, each at most 256 characters.',
    },
  },
  required: ['type'],
  additionalProperties: false,
  if: { properties: { type: { const: 'agents' } }, required: ['type'] },
  then: { required: ['ids'], properties: { ids: true, id: false } },
  else: { required: ['id'], properties: { id: true, ids: false } },
} as const;

export const actionSchema = {
  type: 'object',
  properties: {
    name: {
      ...boundedText,
      description: 'A registered action (`set-group`, `fetch-config`, `restart`, `update`, `refresh` …).',
    },
    args: {
      type: 'object',
      description:
        'The action\'s parameters; each action declares its own schema. Absent: `{}`. For `set-group`, a list of group names is taken as `{"groups": [...]}`. Bounded as JSON by `limits.maxArgsBytes` (16 KiB by default), and each value with its dotted path by 16 KiB (413 beyond).',
    },
    version: { type: 'string', maxLength: 64, pattern: NO_CONTROL_CHARS_PATTERN },
  },
  required: ['name', 'args'],
  additionalProperties: false,
} as const;

export const commandRequestSchema = {
  title: 'CommandRequest',
  description: 'One element of the `commands` array, as Wazuh sends it, plus optional rollout keys.',
  type: 'object',
  properties: {
    source: {
      type: 'string',
      enum: SOURCES,
      description: 'Matched without regard to case and stored in this canonical form.',
    },
    user: {
      ...boundedText,
      description:
        'The user who originated the request. Absent: the authenticated caller (Wazuh’s content manager sends none).',
    },
    target: commandTargetSchema,
    action: actionSchema,
    timeout: {
      type: 'integer',
      minimum: MIN_TIMEOUT_SEC,
      maximum: MAX_TIMEOUT_SEC,
      description:
        "Seconds the order may take before it counts as failed: the agent's time to execute once it has the order.",
    },
    delivery_window_s: {
      type: 'integer',
      minimum: MIN_TIMEOUT_SEC,
      maximum: MAX_DELIVERY_WINDOW_SEC,
      description:
        'Seconds from submission during which an order may still reach its agent (at least `timeout`, at most 30 days; default `timeout`). An order whose agent (`agent.status` in the agents index) stays offline for the whole window fails with result code 908 (agent offline); an agent that comes back within it gets `timeout` seconds from then.',
    },
    membership: {
      type: 'string',
      enum: MEMBERSHIPS,
      description:
        'Group targets only. `snapshot` (default): the group is expanded once, at submission. `live`: agents that join the group until the delivery window ends (`delivery_window_s`, default `timeout`) get an order too, with order ids after the first ones; no agent gets two. Joiners are found by polling the agents index (`scheduler.membershipPollIntervalMs`).',
    },
    max_concurrency: {
      type: 'integer',
      minimum: 1,
      description: 'Orders of this request that may be in flight (sent, not yet terminal) at once.',
    },
    max_errors: {
      description: 'Error budget: a count (`5`, `"5"`) or a percentage (`"10%"`) of the orders.',
      oneOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: MAX_ERRORS_PATTERN },
      ],
    },
    agent_status: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_AGENT_STATUSES,
      uniqueItems: true,
      items: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_AGENT_STATUS_LENGTH,
        pattern: NO_CONTROL_CHARS_PATTERN,
      },
      description:
        'Agent and group targets only: only agents whose `agent.status` is one of these (e.g. `["active"]`) get an order; the others are counted as `ineligible` in the answer.',
    },
    exclude_agents: {
      type: 'array',
      uniqueItems: true,
      items: boundedText,
      description:
        'Agent and group targets only: agent ids that get no order; those of the target are counted as `excluded` in the answer. At most `limits.maxExcludeAgents` ids, each at most 256 characters.',
    },
    rerun_of: {
      type: 'integer',
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'The request this one re-runs (e.g. the failed targets of an earlier request): kept in the request record as a link to its parent, not checked against the stored requests, and not copied to the orders.',
    },
  },
  required: ['source', 'user', 'target', 'action', 'timeout'],
  additionalProperties: false,
} as const;

export const commandBatchSchema = {
  title: 'CommandBatch',
  description:
    'The body of `POST /_plugins/_command_manager/commands`. Its size is bounded by configuration.',
  type: 'object',
  properties: {
    commands: { type: 'array', minItems: 1, items: commandRequestSchema },
  },
  required: ['commands'],
  additionalProperties: false,
} as const;

export const orderResultSchema = {
  type: 'object',
  properties: {
    code: {
      type: 'integer',
      description:
        'Result code; codes >= 900 are the command manager’s own verdicts: 901 expired undelivered, 902 no result in time, 903 cancelled, 904 rejected by the Management API, 905 rollout stopped, 906 undeliverable, 907 order too large, 908 agent offline for the whole delivery window. A report whose code is outside the signed 32-bit range, or whose `data` has a leaf over 16 KiB, is refused per report (the index could not store it).',
    },
    message: { type: 'string', maxLength: 4096 },
    data: { type: 'object' },
  },
  required: ['code', 'message'],
  additionalProperties: false,
} as const;

const isoTime = { type: 'string', format: 'date-time' } as const;
const nullableIsoTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const orderSchema = {
  title: 'Order',
  description:
    "One document of the orders stream; its layout follows Wazuh's `wazuh-commands` index, with the scheduler's bookkeeping in `scheduling`.",
  type: 'object',
  properties: {
    '@timestamp': isoTime,
    delivery_timestamp: {
      ...isoTime,
      description:
        'The deadline: `@timestamp` + `command.timeout` seconds, moved later within the delivery window (`scheduling.delivery_window_ends_at`) while the order waits for its agent.',
    },
    agent: {
      type: 'object',
      properties: { groups: { type: 'array', items: { type: 'string' } } },
      required: ['groups'],
      additionalProperties: false,
    },
    command: {
      type: 'object',
      properties: {
        source: { type: 'string', enum: SOURCES },
        user: { type: 'string' },
        target: targetSchema,
        action: actionSchema,
        timeout: { type: 'integer', minimum: MIN_TIMEOUT_SEC, maximum: MAX_TIMEOUT_SEC },
        status: { type: 'string', enum: ORDER_STATUSES },
        result: { oneOf: [orderResultSchema, { type: 'null' }] },
        request_id: { type: 'integer', minimum: 0 },
        order_id: { type: 'integer', minimum: 1 },
      },
      required: ['source', 'user', 'target', 'action', 'timeout', 'status', 'request_id', 'order_id'],
      additionalProperties: false,
    },
    scheduling: {
      type: 'object',
      properties: {
        principal: { type: 'string' },
        attempts: { type: 'integer', minimum: 0 },
        next_attempt_at: isoTime,
        partition: { type: 'integer', minimum: 0 },
        lease_owner: { type: ['string', 'null'] },
        lease_expires_at: nullableIsoTime,
        sent_at: nullableIsoTime,
        completed_at: nullableIsoTime,
        last_error: { type: ['string', 'null'] },
        reported_by: { type: ['string', 'null'] },
        delivery_window_ends_at: nullableIsoTime,
        agent_offline_at: nullableIsoTime,
        agent_back_at: nullableIsoTime,
      },
      required: ['principal', 'attempts', 'next_attempt_at'],
      additionalProperties: false,
    },
  },
  required: ['@timestamp', 'delivery_timestamp', 'agent', 'command', 'scheduling'],
  additionalProperties: false,
} as const;

export const resultReportSchema = {
  title: 'ResultReport',
  description:
    'A status report for one order (its document id `<request_id>-<order_id>`), as the Comms API sends it.',
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS_PATTERN },
    status: { type: 'string', enum: ['success', 'failure'] },
    result: orderResultSchema,
  },
  required: ['id', 'status', 'result'],
  additionalProperties: false,
} as const;

export const resultReportBatchSchema = {
  title: 'ResultReportBatch',
  description: 'Bulk result reports. Their number is bounded by configuration.',
  type: 'object',
  properties: {
    results: { type: 'array', minItems: 1, items: resultReportSchema },
  },
  required: ['results'],
  additionalProperties: false,
} as const;

/**
 * Every schema, by name, for the OpenAPI generator (OpenAPI 3.1 uses JSON Schema 2020-12). None carries `$id`
 * or `$schema`, so they can be embedded in one another and in an OpenAPI document as they are; validation.ts
 * compiles them with the 2020-12 dialect.
 */
export const schemas = {
  CommandRequest: commandRequestSchema,
  CommandBatch: commandBatchSchema,
  Order: orderSchema,
  OrderResult: orderResultSchema,
  ResultReport: resultReportSchema,
  ResultReportBatch: resultReportBatchSchema,
} as const;
