import { randomBytes } from 'node:crypto';
import type { Client } from '@opensearch-project/opensearch';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { agentId } from '@command-manager-examples/agents';
import { startCommsApi, type CommsApiHandle } from '@command-manager-examples/comms-api';
import { startManagementApi, type AcceptedOrder } from '@command-manager-examples/management-api';
import { generateApiToken, hashApiToken } from '@command-manager/express';
import { createAgentsIndex, createOpenSearchClient, seedAgents } from '@command-manager/opensearch';
import { startLocalOpenSearch, stopLocalOpenSearch } from '@command-manager/local-opensearch';
import { REPO_ROOT, startSidecarProcess } from './internal/sidecar-process';
import { startSimulators } from './internal/simulators';

/** A folder named by an environment variable (relative to the working directory), else `fallback`. */
function folderOf(variable: string, fallback: string): string {
  const value = process.env[variable];
  return value !== undefined && value !== '' ? path.resolve(value) : fallback;
}

/**
 * Where the quick start keeps its files, as `serve`'s development mode: `CM_DEV_DIR` (the token, which the
 * CLI reads there, the users file, the sidecar's log) and `OPENSEARCH_HOME_DIR` (the local node's home).
 */
const DEV_DIR = folderOf('CM_DEV_DIR', path.join(REPO_ROOT, '.cache', 'command-manager'));
const LOCAL_NODE_HOME = folderOf(
  'OPENSEARCH_HOME_DIR',
  path.join(REPO_ROOT, '.cache', 'opensearch', 'local'),
);

export interface DemoOptions {
  /** Agents seeded, spread over DEMO_GROUPS; default 3,000. */
  agents?: number;
  /** Share (0..1) of the agents that fail every order (result code 1); default 0.03. */
  failureShare?: number;
  /** The sidecar's port; default 8080 (the CLI's default URL). */
  port?: number;
  /**
   * An OpenSearch of your own instead of the local node: its URL, the sidecar's access to it (environment
   * variables: credentials, CA) and a client allowed to create and write the agents index (not closed here).
   */
  opensearch?: { url: string; sidecarEnv: Record<string, string>; client: Client };
  /** Prefix of the orders and agents indices; default none (`wazuh-commands`, `wazuh-agents`). */
  indexPrefix?: string;
  /** Where the token, users file and sidecar log go; default `CM_DEV_DIR` or `.cache/command-manager` (where the CLI reads). */
  dataDir?: string;
  log?: (message: string) => void;
}

export interface RunningDemo {
  /** The sidecar's base URL. */
  url: string;
  consoleUrl: string;
  tokenFile: string;
  /** Stops everything the demo started, the local OpenSearch last. */
  stop(): Promise<void>;
}

/** Group name → share of the agents. */
export const DEMO_GROUPS: ReadonlyArray<readonly [string, number]> = [
  ['web', 0.5],
  ['database', 0.3],
  ['edge', 0.2],
];

/**
 * The demo quick start (`./scripts/start --demo`): a local OpenSearch, a few thousand agents in a few
 * groups (one bulk, one refresh at the end), the sidecar (its own process, on port 8080, with an admin token
 * written where the CLI looks), the reference Management API, Comms API and agent simulators, so that a
 * submitted command goes all the way to `success` / `failure`. Runs until `stop()`.
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const log = options.log ?? (() => undefined);
  const total = Math.max(DEMO_GROUPS.length, Math.floor(options.agents ?? 3000));
  const failing = Math.round(total * (options.failureShare ?? 0.03));
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    let opensearchUrl: string;
    let client: Client;
    if (options.opensearch) {
      ({ url: opensearchUrl, client } = options.opensearch);
    } else {
      log('starting a local OpenSearch (scripts/opensearch)');
      const node = { homeDir: LOCAL_NODE_HOME };
      opensearchUrl = await startLocalOpenSearch(node);
      cleanups.push(() => stopLocalOpenSearch(node));
      const own = createOpenSearchClient({ node: opensearchUrl });
      cleanups.push(() => own.close());
      client = own;
    }
    const prefix = options.indexPrefix ?? '';
    const indices: Record<string, string> = prefix
      ? { CM_ORDERS_INDEX: `${prefix}commands`, CM_AGENTS_INDEX: `${prefix}agents` }
      : {};
    const agentsIndex = indices.CM_AGENTS_INDEX;

    // The agents: `total - failing` that succeed and `failing` that fail, each kind dealt round the groups.
    await createAgentsIndex(client, { ...(agentsIndex && { index: agentsIndex }) });
    const agents = [
      ...Array.from({ length: total - failing }, (_, i) => ({ id: agentId('agent-', i + 1), n: i })),
      ...Array.from({ length: failing }, (_, i) => ({ id: agentId('failing-agent-', i + 1), n: i })),
    ];
    const groupOf = (i: number): string => {
      const at = (i % 100) / 100;
      let sum = 0;
      for (const [name, share] of DEMO_GROUPS) {
        sum += share;
        if (at < sum) return name;
      }
      return DEMO_GROUPS[0]?.[0] ?? 'web';
    };
    const started = Date.now();
    await seedAgents(
      client,
      agents.map(({ id, n }) => ({ id, groups: [groupOf(n)], status: 'active' })),
      { refresh: true, ...(agentsIndex && { index: agentsIndex }) },
    );
    log(
      `seeded ${total} agents in groups ${DEMO_GROUPS.map(([g]) => g).join(', ')} (${failing} of them fail every order) in ${Date.now() - started} ms`,
    );

    // Credentials: the admin token where the CLI looks (mode 0600, never printed), a comms token.
    const dataDir = options.dataDir ?? DEV_DIR;
    const tokenFile = path.join(dataDir, 'admin-token');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const adminToken = generateApiToken();
    const commsToken = generateApiToken();
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    const usersFile = path.join(dataDir, 'demo-users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({
        tokens: [
          { name: 'admin', token_sha256: hashApiToken(adminToken), roles: ['admin'] },
          { name: 'comms-api', token_sha256: hashApiToken(commsToken), roles: ['comms'] },
        ],
      }),
      { mode: 0o600 },
    );

    const commsRef: { current?: CommsApiHandle } = {};
    const mgmtCredentials = { username: 'wazuh-demo', password: randomBytes(12).toString('hex') };
    const mgmt = await startManagementApi({
      port: 0,
      credentials: mgmtCredentials,
      forward: (orders: AcceptedOrder[]) => {
        if (!commsRef.current) throw new Error('the Comms API is not up yet');
        commsRef.current.enqueue(orders.map((o) => ({ ...o })));
      },
    });
    cleanups.push(() => mgmt.close());
    log(`reference Management API on ${mgmt.url}`);

    const sidecarLog = path.join(dataDir, 'demo-sidecar.log');
    const sidecar = await startSidecarProcess({
      logFile: sidecarLog,
      env: {
        OPENSEARCH_URL: opensearchUrl,
        ...options.opensearch?.sidecarEnv,
        ...indices,
        CM_NODE_ID: 'demo-sidecar',
        CM_HTTP_PORT: String(options.port ?? 8080),
        CM_USERS_FILE: usersFile,
        CM_MANAGEMENT_API_URL: mgmt.url,
        CM_MANAGEMENT_API_AUTH: 'wazuh-jwt',
        CM_MANAGEMENT_API_USERNAME: mgmtCredentials.username,
        CM_MANAGEMENT_API_PASSWORD: mgmtCredentials.password,
        CM_POLL_INTERVAL_MS: '250',
      },
    });
    cleanups.push(() => sidecar.stop());
    log(
      `sidecar (pid ${sidecar.pid}) on ${sidecar.url}; its logs in ${path.relative(REPO_ROOT, sidecarLog)}`,
    );

    const comms = await startCommsApi({ port: 0, commandManager: { url: sidecar.url, token: commsToken } });
    commsRef.current = comms;
    cleanups.push(() => comms.close());
    const simulators = startSimulators({
      commsUrl: comms.url,
      succeeding: total - failing,
      failing,
      okPrefix: 'agent-',
      failPrefix: 'failing-agent-',
    });
    cleanups.push(() => simulators.stop());
    log(`reference Comms API on ${comms.url}; ${total} simulated agents polling it`);
    return { url: sidecar.url, consoleUrl: `${sidecar.url}/console/`, tokenFile, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
