import {
  ActionRegistry,
  CommandService,
  InMemoryAgentDirectory,
  InMemoryOrderStore,
  InMemoryRequestStore,
  InProcessIdAllocator,
  type CommandManagerApi,
} from '@command-manager/core';
import {
  createApp,
  createAuthenticator,
  createHttpMetrics,
  hashApiToken,
  hashPassword,
  parseUsersFile,
  type AppDeps,
  type AuthConfig,
  type AuthenticatorOptions,
  type HttpMetrics,
} from '@command-manager/express';
import { RecordingLogger } from '@command-manager/test-support';

/** Cheap scrypt cost for tests (production default is 16384). */
const TEST_COST = 1024;

export const PASSWORDS = {
  admin: 'admin-secret-1',
  'wazuh-server': 'server-secret-2',
  'Content Manager': 'content-secret-3',
  engine: 'engine-secret-4',
  comms: 'comms-secret-5',
  reader: 'reader-secret-6',
} as const;
export type TestUser = keyof typeof PASSWORDS;

export const TOKENS = {
  engine: 'tok-engine-0123456789abcdef',
  comms: 'tok-comms-0123456789abcdef',
} as const;

const ROLES: Record<TestUser, string[]> = {
  admin: ['admin'],
  'wazuh-server': ['management-api'],
  'Content Manager': ['content-manager'],
  engine: ['engine'],
  comms: ['comms'],
  reader: ['read-only'],
};

let cached: Promise<AuthConfig> | undefined;

/** A users file with one user per built-in role, two tokens and one certificate mapping. */
export function testAuthConfig(): Promise<AuthConfig> {
  cached ??= (async () => {
    const users = await Promise.all(
      (Object.keys(PASSWORDS) as TestUser[]).map(async (name) => ({
        name,
        password_hash: await hashPassword(PASSWORDS[name], { cost: TEST_COST }),
        roles: ROLES[name],
      })),
    );
    return parseUsersFile({
      users,
      tokens: [
        { name: 'engine-token', token_sha256: hashApiToken(TOKENS.engine), roles: ['engine'] },
        { name: 'comms-token', token_sha256: hashApiToken(TOKENS.comms), roles: ['comms'] },
      ],
      certificates: [{ subject_cn: 'comms-api.example', name: 'comms-cert', roles: ['comms'] }],
    });
  })();
  return cached;
}

export function basic(user: TestUser, password: string = PASSWORDS[user]): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

export const BODY_LIMIT_BYTES = 64 * 1024;

export interface TestApp {
  app: ReturnType<typeof createApp>;
  metrics: HttpMetrics;
  logger: RecordingLogger;
}

export async function buildApp(
  api: CommandManagerApi,
  overrides: Partial<AppDeps> = {},
  authOptions: AuthenticatorOptions = {},
): Promise<TestApp> {
  const logger = new RecordingLogger();
  const metrics = createHttpMetrics();
  const auth = createAuthenticator(await testAuthConfig(), { logger, ...authOptions });
  const app = createApp({
    api,
    auth,
    metrics,
    logger,
    readiness: async () => ({ ready: true, checks: { opensearch: true, templates: true } }),
    limits: { bodyLimitBytes: BODY_LIMIT_BYTES, defaultPageSize: 10, maxPageSize: 100 },
    ...overrides,
  });
  return { app, metrics, logger };
}

export interface InMemoryWorld {
  service: CommandService;
  orders: InMemoryOrderStore;
  requests: InMemoryRequestStore;
  agents: InMemoryAgentDirectory;
}

/** The real CommandService over the in-memory twins, with agents `001`..`00n` in group `Test`. */
export function inMemoryWorld(
  options: {
    agents?: number;
    maxFanOut?: number;
    maxBatchCommands?: number;
    orders?: InMemoryOrderStore;
    registry?: ActionRegistry;
  } = {},
): InMemoryWorld {
  const orders = options.orders ?? new InMemoryOrderStore();
  const requests = new InMemoryRequestStore({ orders });
  const agents = new InMemoryAgentDirectory();
  const n = options.agents ?? 5;
  for (let i = 1; i <= n; i++)
    agents.addAgent({ id: String(i).padStart(3, '0'), groups: ['Test'], status: 'active' });
  agents.addAgent({ id: 'd5b250c4-dfa1-4d94-827f-9f99fbbedc6f', groups: ['default'], status: 'active' });
  const service = new CommandService({
    orders,
    requests,
    ids: new InProcessIdAllocator(),
    agents,
    registry: options.registry ?? ActionRegistry.withDefaults(),
    limits: {
      maxBatchCommands: options.maxBatchCommands ?? 100,
      maxFanOut: options.maxFanOut ?? 100_000,
      maxResultsPerReport: 1000,
    },
    indexName: 'wazuh-commands',
  });
  return { service, orders, requests, agents };
}

/** The body Wazuh's server (Management API) sends. */
export const WAZUH_SERVER_BODY = {
  commands: [
    {
      action: { args: {}, name: 'fetch-config', version: '5.0.0' },
      source: 'Users/Services',
      user: 'Management API',
      timeout: 100,
      target: { id: 'd5b250c4-dfa1-4d94-827f-9f99fbbedc6f', type: 'agent' },
    },
  ],
};

/**
 * The content manager's body with an added `user` (its builder of March 2025 sent one; today's sends none:
 * see `CONTENT_MANAGER_BODY_AS_SENT` and wazuh-bodies.ts).
 */
export const CONTENT_MANAGER_BODY = {
  commands: [
    {
      action: { args: { index: 'content-index', offset: '1111' }, name: 'update', version: '5.0.0' },
      source: 'Content Manager',
      timeout: 100,
      target: { id: 'vulnerability-detector', type: 'server' },
      user: 'Content Manager',
    },
  ],
};

/** The body as Wazuh's content manager builds it today: no `user` (support/wazuh-bodies.ts has its bytes). */
export const CONTENT_MANAGER_BODY_AS_SENT = {
  commands: [
    {
      action: { name: 'update', args: { index: 'content-index', offset: '1111' }, version: '5.0.0' },
      source: 'Content Manager',
      timeout: 100,
      target: { id: 'vulnerability-detector', type: 'server' },
    },
  ],
};

export function groupCommand(user = 'wazuh-server', group = 'Test'): Record<string, unknown> {
  return {
    source: 'Users/Services',
    user,
    target: { type: 'group', id: group },
    action: { name: 'restart', args: {} },
    timeout: 60,
  };
}
