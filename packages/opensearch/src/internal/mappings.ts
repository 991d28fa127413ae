/**
 * Explicit mappings. The orders mapping keeps the field layout of Wazuh's `wazuh-commands` index
 * (wazuh-indexer-plugins, command-manager `index-template-commands.json`) so that Wazuh tooling and dashboards
 * read it, with three deliberate differences: `request_id` is a `long` and `order_id` an `integer` (Wazuh
 * maps both as keyword; numbers sort and range correctly, which `search_after` paging needs), `result.code`
 * is an `integer` (Wazuh: `short`; an agent code above 32767 must not make a status update fail), and the
 * scheduler's bookkeeping sits in `scheduling`.
 *
 * `dynamic: strict` everywhere except the caller-defined payloads `command.action.args` and
 * `command.result.data`, which are `flat_object` (OpenSearch ≥ 2.7): one field per payload whatever its
 * shape. With `object` + `dynamic: true` the first order to carry `args.x` as a string would fix its type and
 * every later order carrying `args.x` as an object would be rejected, and callers could grow the mapping
 * up to `index.mapping.total_fields.limit` (1000), after which NO order with a new key could be written.
 * `flat_object` still indexes every leaf as a keyword (`command.action.args.<path>` is searchable) and the
 * `_source` is returned unchanged. Each leaf becomes a term, which Lucene limits to 32,766 UTF-8 bytes: core
 * bounds the leaves of both payloads below that (flat-object-leaves.ts) rather than store them unindexed, so
 * that dashboards keep filtering on them.
 */

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const date = { type: 'date' } as const;

export const ORDERS_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    '@timestamp': date,
    delivery_timestamp: date,
    agent: { properties: { groups: keyword } },
    command: {
      properties: {
        source: keyword,
        user: keyword,
        target: { properties: { type: keyword, id: keyword } },
        action: {
          properties: {
            name: keyword,
            version: keyword,
            args: { type: 'flat_object' },
          },
        },
        // Seconds, `short` like Wazuh's template: values above 32767 are rejected per order.
        timeout: { type: 'short' },
        status: keyword,
        result: {
          properties: {
            code: { type: 'integer' },
            message: keyword,
            data: { type: 'flat_object' },
          },
        },
        request_id: { type: 'long' },
        order_id: { type: 'integer' },
      },
    },
    scheduling: {
      properties: {
        principal: keyword,
        attempts: { type: 'integer' },
        next_attempt_at: date,
        partition: { type: 'integer' },
        lease_owner: keyword,
        lease_expires_at: date,
        sent_at: date,
        completed_at: date,
        last_error: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
        reported_by: keyword,
        delivery_window_ends_at: date,
        agent_offline_at: date,
        agent_back_at: date,
      },
    },
  },
} as const;

/**
 * The requests index holds five kinds of documents, told apart by `kind` and by their id:
 *   `request-<request_id>`   kind `request`:     a RequestRecord under `request` (the fields searched and
 *                                                  listed by are indexed, the rest kept in `_source` only:
 *                                                  `dynamic: false`)
 *   `idempotency-<sha256>`   kind `idempotency`: fingerprint and the stored response (as JSON text)
 *   `counter-<name>`         kind `counter`:     the request-id counter (its `_version` is the last id)
 *   `lock-<name>`            kind `lock`:        owner and expiry of a named lease-lock
 *   `partition-lease-<n>`    kind `partition_lease`: owner and renewal counter of partition n's lease
 *   `live-counter-<id>`      kind `live_counter`: next order id of a live request's joiners
 *   `live-member-<id>-<h>`   kind `live_member`:  a joiner's marker (agent id, its one order id)
 * (the last two: opensearch-live-membership-store.ts; read by id only, so not indexed)
 */
export const REQUESTS_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    kind: keyword,
    request: {
      type: 'object',
      dynamic: false,
      properties: {
        request_id: { type: 'long' },
        created_at: date,
        principal: keyword,
        write_state: keyword,
        updated_at: date,
        total_orders: { type: 'long' },
        live_until: date,
        // The filters of `GET /requests` (records written before these fields were mapped are listed, but
        // not matched by these filters until rewritten).
        command: {
          type: 'object',
          dynamic: false,
          properties: {
            source: keyword,
            user: keyword,
            action: { type: 'object', dynamic: false, properties: { name: keyword } },
            membership: keyword,
          },
        },
      },
    },
    idempotency: {
      properties: {
        key: keyword,
        fingerprint: keyword,
        // Any JSON value, kept verbatim; never searched, so neither indexed nor in doc values.
        response_json: { type: 'keyword', index: false, doc_values: false },
        created_at: date,
        completed_at: date,
      },
    },
    lock: { properties: { name: keyword, owner: keyword, expires_at: date } },
    partition_lease: {
      properties: { partition: { type: 'integer' }, owner: keyword, counter: { type: 'long' } },
    },
    live_counter: { type: 'object', enabled: false },
    live_member: { type: 'object', enabled: false },
  },
} as const;

/** The subset of Wazuh's `wazuh-agents` layout the directory reads (for tests, examples and benchmarks). */
export const AGENTS_MAPPINGS = {
  dynamic: false,
  properties: {
    agent: {
      properties: {
        id: keyword,
        name: keyword,
        groups: keyword,
        status: keyword,
      },
    },
  },
} as const;
