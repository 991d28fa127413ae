/**
 * Every setting of the sidecar, once: its key in the configuration file, its environment variable, its
 * type, default and meaning. The JSON Schema that validates the configuration and the README's table are
 * both generated from this list, so they cannot drift. The scheduler's defaults come from the scheduler
 * (`SCHEDULER_DEFAULTS`, core's `defaultRetryPolicy`), so the library and the sidecar cannot drift either.
 */
import {
  DEFAULT_MAX_RESULT_DATA_BYTES,
  DEFAULT_OFFLINE_AGENT_STATUSES,
  DEFAULT_PARTITIONS,
  MAX_PARTITIONS,
  defaultRetryPolicy,
} from '@command-manager/core';
import { REQUEST_EVENT_DEFAULTS } from '@command-manager/express';
import { AUDIT_LOG_DEFAULTS } from '@command-manager/opensearch';
import { CLOCK_SKEW_DEFAULTS, MEMBERSHIP_DEFAULTS, SCHEDULER_DEFAULTS } from '@command-manager/scheduler';

export type SettingType = 'string' | 'integer' | 'boolean' | 'url' | 'enum' | 'list';

export interface Setting {
  /** Dotted path in the configuration file, e.g. `http.port`. */
  key: string;
  env: string;
  type: SettingType;
  default?: string | number | boolean | string[];
  /** For `enum`. */
  values?: readonly string[];
  minimum?: number;
  maximum?: number;
  /** Never logged, never echoed in errors. */
  secret?: boolean;
  /**
   * Another integer setting this one may not exceed (`below`: must be less than; `divisor`: a share of it),
   * checked once both are known; `why` is what would go wrong otherwise, said in the error and in the
   * README's table.
   */
  atMost?: { key: string; below?: boolean; divisor?: number; why: string };
  description: string;
}

export const SETTINGS: readonly Setting[] = [
  // Identity
  {
    key: 'nodeId',
    env: 'CM_NODE_ID',
    type: 'string',
    description: "This sidecar's id, used as lease owner. Default: `<hostname>-<pid>`.",
  },
  // OpenSearch
  {
    key: 'opensearch.url',
    env: 'OPENSEARCH_URL',
    type: 'url',
    description:
      'OpenSearch (wazuh-indexer) URL. Unset: `serve` starts a local OpenSearch with `scripts/opensearch`.',
  },
  {
    key: 'opensearch.username',
    env: 'OPENSEARCH_USERNAME',
    type: 'string',
    description: 'Basic-auth user for OpenSearch.',
  },
  {
    key: 'opensearch.password',
    env: 'OPENSEARCH_PASSWORD',
    type: 'string',
    secret: true,
    description: 'Basic-auth password for OpenSearch.',
  },
  {
    key: 'opensearch.caFile',
    env: 'OPENSEARCH_CA_FILE',
    type: 'string',
    description: 'PEM CA that signed the OpenSearch certificate (TLS is always verified).',
  },
  {
    key: 'opensearch.certFile',
    env: 'OPENSEARCH_CERT_FILE',
    type: 'string',
    description: 'PEM client certificate for OpenSearch (mutual TLS).',
  },
  {
    key: 'opensearch.keyFile',
    env: 'OPENSEARCH_KEY_FILE',
    type: 'string',
    secret: true,
    description: 'PEM private key of the client certificate.',
  },
  {
    key: 'opensearch.requestTimeoutMs',
    env: 'OPENSEARCH_REQUEST_TIMEOUT_MS',
    type: 'integer',
    default: 30000,
    minimum: 100,
    description: 'Timeout of one OpenSearch request.',
  },
  {
    key: 'opensearch.maxResponseBytes',
    env: 'OPENSEARCH_MAX_RESPONSE_BYTES',
    type: 'integer',
    default: 8388608,
    minimum: 65536,
    description:
      'Largest answer of one read the sidecar parses. Orders index (search or multi-get): a larger page is read again with half the orders, so a listing may return fewer than `size` (with a cursor); an order larger than this alone is listed without its `command.action.args`. Agents index (a search of a group walk, a lookup of agents by id): a larger answer is asked again for half as many agents; an agent larger than this alone fails the walk or the lookup (503). Request records (`GET /requests`): a larger answer is asked again for half as many records.',
  },
  // Indices
  {
    key: 'indices.orders',
    env: 'CM_ORDERS_INDEX',
    type: 'string',
    default: 'wazuh-commands',
    description: 'The orders index shared by every sidecar (Wazuh layout).',
  },
  {
    key: 'indices.agents',
    env: 'CM_AGENTS_INDEX',
    type: 'string',
    default: 'wazuh-agents',
    description: 'The agents index read to expand groups and check agents.',
  },
  {
    key: 'indices.agentsSearchSize',
    env: 'CM_AGENTS_SEARCH_SIZE',
    type: 'integer',
    default: 10000,
    minimum: 1,
    maximum: 10000,
    description:
      "Members one search of a group walk reads at most: its first search reads a page (1,000), each next one twice the last, up to this. Every search visits all of the group's members in OpenSearch, so a large group costs less in fewer, larger searches; each answer is bounded by `opensearch.maxResponseBytes`.",
  },
  {
    key: 'indices.shards',
    env: 'CM_INDEX_SHARDS',
    type: 'integer',
    default: 1,
    minimum: 1,
    description:
      'Primary shards of the orders index, its monthly archives and the requests index (request records, the request id counter, partition leases).',
  },
  {
    key: 'indices.replicas',
    env: 'CM_INDEX_REPLICAS',
    type: 'integer',
    default: 0,
    minimum: 0,
    description:
      'Replicas of the orders index, its archives and the requests index. With 0, a node lost loses them: set 1 as soon as the cluster has two data nodes (docs/scaling.md).',
  },
  // HTTP
  {
    key: 'http.host',
    env: 'CM_HTTP_HOST',
    type: 'string',
    default: '127.0.0.1',
    description: 'Address the API listens on.',
  },
  {
    key: 'http.port',
    env: 'CM_HTTP_PORT',
    type: 'integer',
    default: 8080,
    minimum: 0,
    maximum: 65535,
    description: 'Port the API listens on (0: any free port).',
  },
  {
    key: 'http.bodyLimitBytes',
    env: 'CM_HTTP_BODY_LIMIT_BYTES',
    type: 'integer',
    default: 1048576,
    minimum: 1024,
    description: 'Largest request body accepted (413 beyond).',
  },
  {
    key: 'http.tls.certFile',
    env: 'CM_TLS_CERT_FILE',
    type: 'string',
    description: 'PEM certificate of the API listener; set with `keyFile` to serve HTTPS.',
  },
  {
    key: 'http.tls.keyFile',
    env: 'CM_TLS_KEY_FILE',
    type: 'string',
    secret: true,
    description: 'PEM private key of the API listener.',
  },
  {
    key: 'http.tls.clientCaFile',
    env: 'CM_TLS_CLIENT_CA_FILE',
    type: 'string',
    description: 'PEM CA for client certificates: enables mutual TLS.',
  },
  {
    key: 'http.trustedProxies',
    env: 'CM_HTTP_TRUSTED_PROXIES',
    type: 'list',
    default: [],
    description:
      'Addresses or CIDRs (comma-separated; also `loopback`, `linklocal`, `uniquelocal`) of reverse proxies whose `X-Forwarded-For` is believed for the client address (failed-login limits, logs). Empty: the connecting address is the client.',
  },
  {
    key: 'http.readyCacheMs',
    env: 'CM_HTTP_READY_CACHE_MS',
    type: 'integer',
    default: 1000,
    minimum: 0,
    maximum: 60000,
    description:
      'How long a `/ready` verdict is reused: unauthenticated probes cost at most one OpenSearch check per period (0: every probe checks).',
  },
  {
    key: 'http.console',
    env: 'CM_HTTP_CONSOLE',
    type: 'boolean',
    default: true,
    description:
      'Serve the browser console under `/console/` (static pages; its API calls are authenticated like any other).',
  },
  {
    key: 'http.events.intervalMs',
    env: 'CM_EVENTS_INTERVAL_MS',
    type: 'integer',
    default: REQUEST_EVENT_DEFAULTS.intervalMs,
    minimum: 100,
    maximum: 60000,
    description:
      'Progress event streams (`…/requests/:id/events`): time between two readings of a request on this sidecar, shared by every stream following it; an event is sent only when the body changed.',
  },
  {
    key: 'http.events.heartbeatMs',
    env: 'CM_EVENTS_HEARTBEAT_MS',
    type: 'integer',
    default: REQUEST_EVENT_DEFAULTS.heartbeatMs,
    minimum: 1000,
    maximum: 300000,
    description:
      'Time between two heartbeat comments on an open event stream (keeps proxies from closing it).',
  },
  {
    key: 'http.events.maxStreams',
    env: 'CM_EVENTS_MAX_STREAMS',
    type: 'integer',
    default: REQUEST_EVENT_DEFAULTS.maxStreams,
    minimum: 1,
    maximum: 100000,
    description: 'Event streams open at once on this sidecar; one more is answered 429 `TOO_MANY_STREAMS`.',
  },
  {
    key: 'http.events.maxStreamsPerCaller',
    env: 'CM_EVENTS_MAX_STREAMS_PER_CALLER',
    type: 'integer',
    default: REQUEST_EVENT_DEFAULTS.maxStreamsPerCaller,
    minimum: 1,
    maximum: 100000,
    description: 'Event streams one principal may have open at once on this sidecar (429 beyond).',
  },
  // Audit
  {
    key: 'audit.retentionMs',
    env: 'CM_AUDIT_RETENTION_MS',
    type: 'integer',
    default: AUDIT_LOG_DEFAULTS.retentionMs,
    minimum: 60000,
    description:
      'Audit records older than this are deleted (every `scheduler.retentionIntervalMs`, by every sidecar); default 90 days. Retention removes the oldest records, so `audit verify` sees chains that start later, never gaps.',
  },
  {
    key: 'audit.flushIntervalMs',
    env: 'CM_AUDIT_FLUSH_INTERVAL_MS',
    type: 'integer',
    default: AUDIT_LOG_DEFAULTS.flushIntervalMs,
    minimum: 50,
    maximum: 60000,
    description:
      'Time between two bulk writes of queued audit records. A successful call that fills a batch (`audit.maxBatch`) sends it at once, one bulk in flight at a time; refused calls alone cost at most one bulk per period, whatever their rate.',
  },
  {
    key: 'audit.maxBatch',
    env: 'CM_AUDIT_MAX_BATCH',
    type: 'integer',
    default: AUDIT_LOG_DEFAULTS.maxBatch,
    minimum: 1,
    maximum: 10000,
    description: 'Audit records written by one bulk.',
  },
  {
    key: 'audit.maxQueued',
    env: 'CM_AUDIT_MAX_QUEUED',
    type: 'integer',
    default: AUDIT_LOG_DEFAULTS.maxQueued,
    minimum: 1,
    maximum: 1000000,
    description:
      'Audit records waiting to be written; beyond, calls are only counted, and the count is written as one record (`dropped`).',
  },
  {
    key: 'audit.maxQueuedBytes',
    env: 'CM_AUDIT_MAX_QUEUED_BYTES',
    type: 'integer',
    default: AUDIT_LOG_DEFAULTS.maxQueuedBytes,
    minimum: 1024,
    maximum: 33554432,
    description:
      'Bytes of the audit records waiting to be written, as JSON (a record is about 200–500 bytes; each takes about as much of the heap); beyond, calls are only counted, as beyond `audit.maxQueued`.',
  },

  // Auth
  {
    key: 'auth.usersFile',
    env: 'CM_USERS_FILE',
    type: 'string',
    description:
      "JSON file of users (scrypt password hashes), API tokens (sha256) and roles. Unset: every API call is refused; only /health, /ready, /openapi.json and the console's own files are served.",
  },
  {
    key: 'auth.failedLoginWindowMs',
    env: 'CM_AUTH_FAILED_LOGIN_WINDOW_MS',
    type: 'integer',
    default: 60000,
    minimum: 1000,
    description: 'Window of the failed-login limits below (a refused client may retry when its window ends).',
  },
  {
    key: 'auth.maxFailedLoginsPerUser',
    env: 'CM_AUTH_MAX_FAILED_LOGINS_PER_USER',
    type: 'integer',
    default: 10,
    minimum: 1,
    description:
      'Failed Basic logins of one user name from one client address per window; beyond it that name is refused (429) from that address. Counted when an attempt starts.',
  },
  {
    key: 'auth.maxFailedLoginsPerAddress',
    env: 'CM_AUTH_MAX_FAILED_LOGINS_PER_ADDRESS',
    type: 'integer',
    default: 10,
    minimum: 1,
    description:
      'Failed logins from one client address per window beyond which credentials that name no caller (unknown token, malformed header, unmapped certificate) are refused. A valid token or certificate is never refused.',
  },
  {
    key: 'auth.maxFailedPasswordsPerAddress',
    env: 'CM_AUTH_MAX_FAILED_PASSWORDS_PER_ADDRESS',
    type: 'integer',
    default: 100,
    minimum: 1,
    description:
      'Failed logins from one client address per window beyond which every Basic login from it is refused (stops spraying passwords over many names).',
  },
  {
    key: 'auth.maxTrackedLoginClients',
    env: 'CM_AUTH_MAX_TRACKED_LOGIN_CLIENTS',
    type: 'integer',
    default: 10000,
    minimum: 100,
    maximum: 1000000,
    description:
      'Addresses, and address-identity pairs, whose failures are remembered (each; the least recent is forgotten first). An address takes about 130 bytes of heap, a pair up to about 500 (an identity is cut at 256 characters): the default holds up to about 6 MB.',
  },
  {
    key: 'auth.maxConcurrentVerifications',
    env: 'CM_AUTH_MAX_CONCURRENT_VERIFICATIONS',
    type: 'integer',
    default: 2,
    minimum: 1,
    maximum: 64,
    description: 'Password verifications (scrypt, about 50 ms of CPU each) running at once.',
  },
  {
    key: 'auth.maxQueuedVerifications',
    env: 'CM_AUTH_MAX_QUEUED_VERIFICATIONS',
    type: 'integer',
    default: 32,
    minimum: 0,
    maximum: 10000,
    description:
      'Password verifications waiting for a slot; a Basic login beyond it is refused at once with 429 and `Retry-After: 1` (not counted as a failure).',
  },
  {
    key: 'auth.maxVerificationsPerAddress',
    env: 'CM_AUTH_MAX_VERIFICATIONS_PER_ADDRESS',
    type: 'integer',
    default: 4,
    minimum: 1,
    description:
      'Password verifications running or waiting for one client address, so that one address cannot fill the queue; beyond it 429 with `Retry-After: 1`.',
  },
  // Limits
  {
    key: 'limits.maxBatchCommands',
    env: 'CM_MAX_BATCH_COMMANDS',
    type: 'integer',
    default: 100,
    minimum: 1,
    maximum: 10000,
    description:
      "Commands in one submission. The API's header limit grows with it (16 KiB plus the longest `Plan-Token`: 44 bytes a command, about 59 in base64url), so that a dry run's token can be sent back: 22,279 bytes at the default, 603,079 at the maximum.",
  },
  {
    key: 'limits.maxFanOut',
    env: 'CM_MAX_FAN_OUT',
    type: 'integer',
    default: 200000,
    minimum: 1,
    description:
      'Orders one submission may expand to, summed over all its commands (checked before anything is written; 422 beyond).',
  },
  {
    key: 'limits.maxArgsBytes',
    env: 'CM_MAX_ARGS_BYTES',
    type: 'integer',
    default: 16384,
    minimum: 2,
    atMost: {
      key: 'scheduler.deliveryMaxBytes',
      why: 'a command with larger args would be accepted and then fail as undeliverable',
    },
    description:
      "Bytes of one command's `action.args` as serialized JSON, for every action, registered or not (checked before anything is written; 413 beyond). Every order of the command carries them. Whatever this allows, one value with its dotted path may hold at most 16,384 bytes (the index stores each as one term).",
  },
  {
    key: 'limits.maxTargetAgents',
    env: 'CM_MAX_TARGET_AGENTS',
    type: 'integer',
    default: 1000,
    minimum: 1,
    description:
      'Agent ids in one `"type": "agents"` target (`target.ids`; each id at most 256 characters, so at most ~1 MiB of UTF-8 at the default; 400 beyond).',
  },
  {
    key: 'limits.maxExcludeAgents',
    env: 'CM_MAX_EXCLUDE_AGENTS',
    type: 'integer',
    default: 1000,
    minimum: 1,
    description:
      "Agent ids in one command's `exclude_agents` (each id at most 256 characters, so at most ~1 MiB of UTF-8 at the default; 400 beyond).",
  },
  {
    key: 'limits.maxRequestWriteBytes',
    env: 'CM_MAX_REQUEST_WRITE_BYTES',
    type: 'integer',
    default: 67108864,
    minimum: 1024,
    description:
      'Bytes of args one submission may write: args bytes × orders, summed over its commands (checked before anything is written; 422 beyond). 64 MiB lets a 100,000-agent group through with args of up to ~670 bytes.',
  },
  {
    key: 'limits.maxResultsPerReport',
    env: 'CM_MAX_RESULTS_PER_REPORT',
    type: 'integer',
    default: 1000,
    minimum: 1,
    description: 'Results in one bulk report.',
  },
  {
    key: 'limits.maxResultDataBytes',
    env: 'CM_MAX_RESULT_DATA_BYTES',
    type: 'integer',
    default: DEFAULT_MAX_RESULT_DATA_BYTES,
    minimum: 2,
    atMost: {
      key: 'opensearch.maxResponseBytes',
      divisor: 2,
      why: 'one order with such a result could not be read (listings, retention), even without its args',
    },
    description:
      "Bytes of one result's `data` as serialized JSON; a larger report is answered `invalid` (RESULT_NOT_STORABLE) and not written. Every read of the order carries it.",
  },
  {
    key: 'limits.staleWriteMs',
    env: 'CM_STALE_WRITE_MS',
    type: 'integer',
    default: 60000,
    minimum: 1000,
    description:
      'A request still being written whose writer sent no heartbeat for this long (its process died mid fan-out) is marked `partial` or `failed`; checked every half of it.',
  },
  {
    key: 'limits.idempotencyReservationTtlMs',
    env: 'CM_IDEMPOTENCY_RESERVATION_TTL_MS',
    type: 'integer',
    default: 600000,
    minimum: 1000,
    atMost: {
      key: 'limits.idempotencyRetentionMs',
      below: true,
      why: 'the retention run could delete the key of a submission still running, and a retry would write it again',
    },
    description:
      'An `Idempotency-Key` whose first submission has not answered after this long (its sidecar died) is taken over by the next retry with that key. Keep it well above the longest submission.',
  },
  {
    key: 'limits.idempotencyRetentionMs',
    env: 'CM_IDEMPOTENCY_RETENTION_MS',
    type: 'integer',
    default: 86400000,
    minimum: 60000,
    description:
      'How long an `Idempotency-Key` and its answer are kept (from its first use); a retry after that is a new submission. Deleted by the retention run (every `scheduler.retentionIntervalMs`).',
  },
  {
    key: 'limits.requestRetentionMs',
    env: 'CM_REQUEST_RETENTION_MS',
    type: 'integer',
    default: 2592000000,
    minimum: 60000,
    description:
      'How long a request record (`GET /requests/:id`, cancel) is kept after its creation; a record still being written is kept. Deleted by the same retention run.',
  },
  // Actions
  {
    key: 'actions.permissive',
    env: 'CM_ACTIONS_PERMISSIVE',
    type: 'boolean',
    default: false,
    description: 'Accept action names that are not registered.',
  },
  {
    key: 'actions.definitionsFile',
    env: 'CM_ACTIONS_FILE',
    type: 'string',
    description: 'JSON file of extra action definitions (args JSON Schema and target types per version).',
  },
  {
    key: 'actions.updateServerIds',
    env: 'CM_UPDATE_SERVER_IDS',
    type: 'list',
    default: ['vulnerability-detector'],
    description: 'Server components an `update` may target (comma-separated).',
  },
  // Scheduler
  {
    key: 'scheduler.enabled',
    env: 'CM_SCHEDULER_ENABLED',
    type: 'boolean',
    default: true,
    description: 'Run the dispatch scheduler in this sidecar.',
  },
  {
    key: 'scheduler.delivery',
    env: 'CM_DELIVERY',
    type: 'enum',
    values: ['push', 'pull'],
    default: 'push',
    description:
      '`push`: post due orders to `scheduler.managementApiUrl`. `pull`: servers claim them (`…/orders/_claim`, `…/orders/_ack`); `scheduler.managementApiUrl` is then ignored, and deadlines, retention and rollout control keep running.',
  },
  {
    key: 'scheduler.maxClaimWaiters',
    env: 'CM_MAX_CLAIM_WAITERS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.maxClaimWaiters,
    minimum: 0,
    maximum: 10000,
    description:
      'Pull claims long-polling at once on this sidecar; one more is answered 503 with `Retry-After`.',
  },
  {
    key: 'scheduler.managementApiUrl',
    env: 'CM_MANAGEMENT_API_URL',
    type: 'url',
    description:
      'Base URL of the Wazuh Management API (`/accept_commands` is posted there) in push delivery. Unset with `scheduler.delivery` `push`: the scheduler does not run (orders stay pending) and a warning says so.',
  },
  {
    key: 'scheduler.auth.type',
    env: 'CM_MANAGEMENT_API_AUTH',
    type: 'enum',
    values: ['none', 'basic', 'bearer', 'wazuh-jwt'],
    default: 'none',
    description: 'How the scheduler authenticates to the Management API.',
  },
  {
    key: 'scheduler.auth.username',
    env: 'CM_MANAGEMENT_API_USERNAME',
    type: 'string',
    description: 'User for `basic` and `wazuh-jwt`.',
  },
  {
    key: 'scheduler.auth.password',
    env: 'CM_MANAGEMENT_API_PASSWORD',
    type: 'string',
    secret: true,
    description: 'Password for `basic` and `wazuh-jwt`.',
  },
  {
    key: 'scheduler.auth.token',
    env: 'CM_MANAGEMENT_API_TOKEN',
    type: 'string',
    secret: true,
    description: 'Token for `bearer`.',
  },
  {
    key: 'scheduler.tls.caFile',
    env: 'CM_MANAGEMENT_API_CA_FILE',
    type: 'string',
    description: 'PEM CA of the Management API (TLS is always verified; there is no trust-all option).',
  },
  {
    key: 'scheduler.tls.certFile',
    env: 'CM_MANAGEMENT_API_CERT_FILE',
    type: 'string',
    description: 'PEM client certificate for the Management API.',
  },
  {
    key: 'scheduler.tls.keyFile',
    env: 'CM_MANAGEMENT_API_KEY_FILE',
    type: 'string',
    secret: true,
    description: 'PEM private key of that client certificate.',
  },
  {
    key: 'scheduler.pollIntervalMs',
    env: 'CM_POLL_INTERVAL_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.pollIntervalMs,
    minimum: 10,
    description: 'How often due orders written by other sidecars are looked for.',
  },
  {
    key: 'scheduler.batchSize',
    env: 'CM_DISPATCH_BATCH_SIZE',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.batchSize,
    minimum: 1,
    maximum: 10000,
    description: 'Orders per `/accept_commands` call.',
  },
  {
    key: 'scheduler.deliveryMaxBytes',
    env: 'CM_DISPATCH_MAX_BYTES',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.deliveryMaxBytes,
    minimum: 1024,
    description:
      'Bytes of args per `/accept_commands` call, or per pull claim answer: claims read orders without their args, and delivery reads them just before each call, as many as fit (a batch is sent in several calls if needed; a claim answer holds fewer orders, the rest released for the next claim). An order whose args alone are larger fails as undeliverable.',
  },
  {
    key: 'scheduler.concurrency',
    env: 'CM_DISPATCH_CONCURRENCY',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.concurrency,
    minimum: 1,
    maximum: 64,
    description: '`/accept_commands` calls in flight at once.',
  },
  {
    key: 'scheduler.leaseMs',
    env: 'CM_LEASE_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.leaseMs,
    minimum: 1000,
    description:
      "Partition lease: sidecars share dispatch by partitions of the orders index, each renewing its leases every third of this; a lease seen unchanged this long (on the observer's own clock) is taken over, so a dead sidecar's orders go out again after about this long.",
  },
  {
    key: 'scheduler.partitions',
    env: 'CM_PARTITIONS',
    type: 'integer',
    default: DEFAULT_PARTITIONS,
    minimum: 1,
    maximum: MAX_PARTITIONS,
    description:
      'Partitions of an orders index this sidecar creates, recorded in its mapping; an existing index keeps the count it was created with. At least the number of sidecars dispatching from it.',
  },
  {
    key: 'scheduler.searchLagMs',
    env: 'CM_SEARCH_LAG_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.searchLagMs,
    minimum: 0,
    description:
      "How long an order whose verdict this sidecar wrote is not taken again at the revision it was taken at; longer than the orders index's refresh interval (verdicts are written without a refresh).",
  },
  {
    key: 'scheduler.searchLagMaxOrders',
    env: 'CM_SEARCH_LAG_MAX_ORDERS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.searchLagMaxOrders,
    minimum: 0,
    maximum: 1000000,
    description:
      'Orders whose revisions are remembered for `scheduler.searchLagMs` at most (about 180 bytes of heap each: the default, reached at 40,000 verdicts a second with the default lag, holds about 36 MB); beyond, the oldest are forgotten, and a search still showing one as it was before its verdict may deliver it again.',
  },
  {
    key: 'scheduler.requestTimeoutMs',
    env: 'CM_DISPATCH_TIMEOUT_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.requestTimeoutMs,
    minimum: 100,
    description: 'Timeout of one `/accept_commands` call.',
  },
  {
    key: 'scheduler.retryBaseMs',
    env: 'CM_RETRY_BASE_MS',
    type: 'integer',
    default: defaultRetryPolicy.baseMs,
    minimum: 1,
    atMost: { key: 'scheduler.retryMaxMs', why: 'the first retry delay would be longer than the longest' },
    description: 'First retry delay (capped exponential backoff with jitter).',
  },
  {
    key: 'scheduler.retryMaxMs',
    env: 'CM_RETRY_MAX_MS',
    type: 'integer',
    default: defaultRetryPolicy.maxMs,
    minimum: 1,
    description: 'Longest retry delay.',
  },
  {
    key: 'scheduler.breakerFailureThreshold',
    env: 'CM_BREAKER_FAILURE_THRESHOLD',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.breakerFailureThreshold,
    minimum: 1,
    description:
      'Consecutive failed `/accept_commands` calls (network, timeout, 408/429/5xx) that open the circuit breaker; a 401/403 (after one re-authentication) or a 404 opens it at once.',
  },
  {
    key: 'scheduler.breakerOpenMs',
    env: 'CM_BREAKER_OPEN_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.breakerOpenMs,
    minimum: 100,
    description:
      'How long an open breaker stops dispatch (nothing is claimed; orders stay pending, no attempt counted) before one trial call.',
  },
  {
    key: 'scheduler.clockSkewMaxMs',
    env: 'CM_CLOCK_SKEW_MAX_MS',
    type: 'integer',
    default: CLOCK_SKEW_DEFAULTS.maxSkewMs,
    minimum: 2000,
    description:
      "Largest tolerated difference between this sidecar's clock and the indexer's (read in whole seconds); beyond it the sidecar logs an error, sets `scheduler_clock_skew_exceeded` and enforces no deadline (no sweep, failed deliveries retried) until it is back within.",
  },
  {
    key: 'scheduler.clockSkewCheckIntervalMs',
    env: 'CM_CLOCK_SKEW_CHECK_INTERVAL_MS',
    type: 'integer',
    default: CLOCK_SKEW_DEFAULTS.checkIntervalMs,
    minimum: 1000,
    description: "How often the sidecar compares its clock with the indexer's (`_cat/health`).",
  },
  {
    key: 'scheduler.offlineAgentStatuses',
    env: 'CM_OFFLINE_AGENT_STATUSES',
    type: 'list',
    default: [...DEFAULT_OFFLINE_AGENT_STATUSES],
    description:
      "Values of the agents index's `agent.status` (comma-separated) that mean an agent is offline. The deadline sweep looks up the agents of overdue orders: an order whose agent is offline at every check until its delivery window (`delivery_window_s`) ends fails with result code 908 (agent offline).",
  },
  {
    key: 'scheduler.membershipPollIntervalMs',
    env: 'CM_MEMBERSHIP_POLL_INTERVAL_MS',
    type: 'integer',
    default: MEMBERSHIP_DEFAULTS.intervalMs,
    minimum: 100,
    description:
      'Time between two rounds of the live-membership poller (one sidecar at a time, lock `membership`): each round walks the group of every live request whose window is open and gives its joiners their orders. An agent that joins is given its order within two intervals.',
  },
  {
    key: 'scheduler.membershipMaxRequests',
    env: 'CM_MEMBERSHIP_MAX_REQUESTS',
    type: 'integer',
    default: MEMBERSHIP_DEFAULTS.maxRequests,
    minimum: 1,
    maximum: 1000,
    description:
      'Live requests (the oldest first) whose groups one membership round walks; each costs a search of the orders and a multi-get per 1,000 members, and a search of the agents per up to 10,000.',
  },
  {
    key: 'scheduler.retentionMs',
    env: 'CM_RETENTION_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.retentionMs,
    minimum: 60000,
    description: 'Terminal orders older than this are archived or deleted (default 7 days).',
  },
  {
    key: 'scheduler.retentionMode',
    env: 'CM_RETENTION_MODE',
    type: 'enum',
    values: ['archive', 'delete'],
    default: SCHEDULER_DEFAULTS.retentionMode,
    description: '`archive` copies to `<orders>-archive-YYYY.MM` then deletes; `delete` only deletes.',
  },
  {
    key: 'scheduler.retentionIntervalMs',
    env: 'CM_RETENTION_INTERVAL_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.retentionIntervalMs,
    minimum: 1000,
    description:
      'How often retention runs: of orders by one sidecar at a time (under a lock), of request and audit records by every sidecar.',
  },
  {
    key: 'scheduler.shutdownTimeoutMs',
    env: 'CM_SHUTDOWN_TIMEOUT_MS',
    type: 'integer',
    default: SCHEDULER_DEFAULTS.shutdownTimeoutMs,
    minimum: 0,
    description: 'Bound on finishing or releasing in-flight work at shutdown.',
  },
  // Logging
  {
    key: 'log.level',
    env: 'CM_LOG_LEVEL',
    type: 'enum',
    values: ['error', 'warn', 'info', 'debug'],
    default: 'info',
    description: 'Log level (JSON logs on stderr).',
  },
];
