/**
 * What every fault scenario needs besides processes: its own indices on a real OpenSearch (a unique prefix,
 * deleted with their templates afterwards), a users file with one token per built-in role, an agents index
 * with a group of N agents, an HTTP client for the API, bounded waits, and direct reads of the orders
 * index (the ground truth the assertions count).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import {
  createAgentsIndex,
  createOpenSearchClient,
  OpenSearchPartitionLeaseStore,
  seedAgents,
} from '@command-manager/opensearch';
import { hashApiToken, hashPassword } from '@command-manager/express';
import {
  deleteTestIndices,
  opensearchClientOptions,
  opensearchEnv,
  testIndexPrefix,
} from '@command-manager/test-support';
import { DEFAULT_PARTITIONS } from '@command-manager/core';
import type { Order, OrderStatus } from '@command-manager/core';

export const API = '/_plugins/_command_manager';

/** Bounded polling: resolves once `check` returns a value other than undefined/false, or throws naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------
// Users

export const TOKENS = {
  admin: 'fault-admin-token-0123456789abcdef0123456789',
  managementApi: 'fault-mgmt-token-0123456789abcdef0123456789',
  engine: 'fault-engine-token-0123456789abcdef012345678',
  contentManager: 'fault-content-token-0123456789abcdef0123456',
  comms: 'fault-comms-token-0123456789abcdef0123456789',
  readOnly: 'fault-readonly-token-0123456789abcdef012345',
  monitoring: 'fault-monitoring-token-0123456789abcdef01234',
} as const;
export const BASIC_USER = { name: 'wazuh-server', password: 'correct horse battery staple' };

export interface UsersFixture {
  file: string;
  dispose(): void;
}

/** A users file: one token per built-in role (the principal's name is the role's), and one Basic user. */
export async function writeUsersFile(): Promise<UsersFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cm-faults-'));
  const token = (name: string, value: string, role: string): Record<string, unknown> => ({
    name,
    token_sha256: hashApiToken(value),
    roles: [role],
  });
  const users = {
    users: [
      {
        name: BASIC_USER.name,
        password_hash: await hashPassword(BASIC_USER.password),
        roles: ['management-api'],
      },
    ],
    tokens: [
      token('admin', TOKENS.admin, 'admin'),
      token('management-api', TOKENS.managementApi, 'management-api'),
      token('engine', TOKENS.engine, 'engine'),
      token('Content Manager', TOKENS.contentManager, 'content-manager'),
      token('comms', TOKENS.comms, 'comms'),
      token('read-only', TOKENS.readOnly, 'read-only'),
      token('monitoring', TOKENS.monitoring, 'monitoring'),
    ],
  };
  const file = path.join(dir, 'users.json');
  writeFileSync(file, JSON.stringify(users), { mode: 0o600 });
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------------
// HTTP

export interface ApiAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One API call; `auth` is a bearer token, `{ basic }`, or nothing. Never throws on an HTTP status. */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  options: {
    token?: string;
    basic?: string;
    body?: unknown;
    rawBody?: string | Buffer;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.basic !== undefined)
    headers.authorization = `Basic ${Buffer.from(options.basic, 'utf8').toString('base64')}`;
  let body: string | Buffer | undefined = options.rawBody;
  if (body === undefined && options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${baseUrl}${pathAndQuery}`, {
    method,
    headers,
    ...(body !== undefined && { body }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface CommandOptions {
  targetType?: 'agent' | 'group';
  targetId: string;
  timeoutSec?: number;
  user?: string;
  source?: string;
  action?: string;
}

export function command(o: CommandOptions): Record<string, unknown> {
  return {
    source: o.source ?? 'Users/Services',
    user: o.user ?? 'admin',
    target: { type: o.targetType ?? 'agent', id: o.targetId },
    action: { name: o.action ?? 'restart', args: {} },
    timeout: o.timeoutSec ?? 600,
  };
}

export interface SubmitAnswer {
  _index: string;
  commands: Array<{ request_id: number; orders: number; write_state: string }>;
}

/** Reads one Prometheus sample (`name` or `name{labels}`), summing series when no labels are given. */
export function metricValue(text: string, name: string): number | undefined {
  let found: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    found = (found ?? 0) + Number(m[3]);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------
// OpenSearch

export interface FaultIndices {
  client: Client;
  prefix: string;
  ordersIndex: string;
  requestsIndex: string;
  agentsIndex: string;
  /** Creates the agents index and `n` agents `<prefix>agent-<i>` in `group`. */
  seedGroup(group: string, n: number, idPrefix?: string): Promise<string[]>;
  refresh(): Promise<void>;
  /** Documents in the orders index (after a refresh). */
  countOrders(query?: Record<string, unknown>): Promise<number>;
  /** Documents in the requests index (records, the id counter, locks, idempotency entries). */
  countRequestsIndex(): Promise<number>;
  statusCounts(): Promise<Record<OrderStatus, number>>;
  /** Every order of the index (search_after paging), as stored. */
  allOrders(): Promise<Array<{ id: string; order: Order }>>;
  requestRecord(requestId: number): Promise<Record<string, unknown> | undefined>;
  /** The last request id handed out (the counter document's version; layout of the opensearch adapter). */
  lastRequestId(): Promise<number>;
  /** Per owner, how many of the first `partitions` partition leases it holds (as stored). */
  leaseOwners(partitions?: number): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** Indices of one scenario under a unique prefix, on the node at `url`. */
export function faultIndices(file: string, url: string, name = 'orders'): FaultIndices {
  // The test run's node: with its credentials and CA when it is secured.
  const base = url === process.env.OPENSEARCH_URL ? opensearchClientOptions() : { node: url };
  const client = createOpenSearchClient({ ...base, maxRetries: 0, requestTimeoutMs: 30_000 });
  const prefix = testIndexPrefix(file.replace(/\.fault\.test\.ts$/, '.test.ts'));
  const ordersIndex = `${prefix}${name}`;
  const requestsIndex = `${ordersIndex}-requests`;
  const agentsIndex = `${prefix}agents`;
  const refresh = async (): Promise<void> => {
    await client.indices.refresh({ index: `${prefix}*`, ignore_unavailable: true, allow_no_indices: true });
  };
  const countOrders = async (query?: Record<string, unknown>): Promise<number> => {
    await refresh();
    const res = await client.count({ index: ordersIndex, body: query ? { query } : {} });
    return (res.body as { count: number }).count;
  };
  return {
    client,
    prefix,
    ordersIndex,
    requestsIndex,
    agentsIndex,
    seedGroup: async (group, n, idPrefix = 'agent-') => {
      await createAgentsIndex(client, { index: agentsIndex, replicas: 0 });
      const ids = Array.from({ length: n }, (_, i) => `${idPrefix}${String(i + 1).padStart(6, '0')}`);
      await seedAgents(
        client,
        ids.map((id) => ({ id, groups: [group], status: 'active' })),
        { index: agentsIndex, refresh: true },
      );
      return ids;
    },
    refresh,
    countOrders,
    countRequestsIndex: async () => {
      await refresh();
      const res = await client.count({ index: requestsIndex });
      return (res.body as { count: number }).count;
    },
    statusCounts: async () => {
      await refresh();
      const body: Record<string, unknown> = {
        size: 0,
        aggs: { s: { terms: { field: 'command.status', size: 10 } } },
      };
      const res = await client.search({ index: ordersIndex, body });
      const counts: Record<OrderStatus, number> = { pending: 0, sent: 0, success: 0, failure: 0 };
      const buckets = (
        res.body as unknown as { aggregations: { s: { buckets: Array<{ key: string; doc_count: number }> } } }
      ).aggregations.s.buckets;
      for (const b of buckets) counts[b.key as OrderStatus] = b.doc_count;
      return counts;
    },
    allOrders: async () => {
      await refresh();
      const out: Array<{ id: string; order: Order }> = [];
      let after: unknown[] | undefined;
      for (;;) {
        const body: Record<string, unknown> = {
          size: 5000,
          sort: [{ 'command.request_id': 'asc' }, { 'command.order_id': 'asc' }],
        };
        if (after) body.search_after = after;
        const res = await client.search({ index: ordersIndex, body });
        const hits = (
          res.body as unknown as { hits: { hits: Array<{ _id: string; _source: Order; sort: unknown[] }> } }
        ).hits.hits;
        for (const h of hits) out.push({ id: h._id, order: h._source });
        if (hits.length < 5000) return out;
        after = hits[hits.length - 1]?.sort;
      }
    },
    requestRecord: async (requestId) => {
      // Layout of the requests index (packages/opensearch/src/internal/mappings.ts): `request-<id>`.
      const res = await client.get({ index: requestsIndex, id: `request-${requestId}` }, { ignore: [404] });
      const body = res.body as { found?: boolean; _source?: { request?: Record<string, unknown> } };
      return body.found ? body._source?.request : undefined;
    },
    lastRequestId: async () => {
      const res = await client.get({ index: requestsIndex, id: 'counter-request-id' }, { ignore: [404] });
      const body = res.body as { found?: boolean; _version?: number };
      return body.found ? (body._version ?? 0) : 0;
    },
    leaseOwners: async (partitions = DEFAULT_PARTITIONS) => {
      const store = new OpenSearchPartitionLeaseStore({ client, ordersIndex });
      const owners = new Map<string, number>();
      for (const lease of await store.readLeases(partitions))
        if (lease.owner !== null) owners.set(lease.owner, (owners.get(lease.owner) ?? 0) + 1);
      return owners;
    },
    close: async () => {
      try {
        await deleteTestIndices(client, prefix, { hidden: true, templates: [`command-manager-${prefix}*`] });
      } finally {
        await client.close();
      }
    },
  };
}

/** The environment every sidecar of a scenario shares. */
export function sidecarEnv(options: {
  opensearchUrl: string;
  indices: FaultIndices;
  usersFile: string;
  managementApiUrl?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    ...opensearchEnv(options.opensearchUrl),
    CM_ORDERS_INDEX: options.indices.ordersIndex,
    CM_AGENTS_INDEX: options.indices.agentsIndex,
    CM_INDEX_REPLICAS: '0',
    CM_USERS_FILE: options.usersFile,
    CM_LOG_LEVEL: 'info',
    // Interrupted writes are detected within seconds, not the production minute.
    CM_STALE_WRITE_MS: '3000',
    ...(options.managementApiUrl !== undefined && { CM_MANAGEMENT_API_URL: options.managementApiUrl }),
    ...options.extra,
  };
}
