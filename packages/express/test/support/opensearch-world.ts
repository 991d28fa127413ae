/**
 * The set-up the HTTP integration tests share: one client, a per-file index prefix, the OpenSearch stores
 * over it, a `CommandService` over those stores and the clean-up of everything under the prefix; and the
 * request that submits commands.
 */
import request from 'supertest';
import { ActionRegistry, CommandService, type AgentDirectory, type Clock } from '@command-manager/core';
import {
  OpenSearchAgentDirectory,
  OpenSearchOrderStore,
  OpenSearchRequestIdAllocator,
  OpenSearchRequestStore,
  createAgentsIndex,
  createOpenSearchClient,
  seedAgents,
  type IndexLayout,
} from '@command-manager/opensearch';
import { deleteTestIndices, opensearchClientOptions, testIndexPrefix } from '@command-manager/test-support';
import { basic, type TestApp, type TestUser } from './fixtures';

/** The API's path prefix. */
export const P = '/_plugins/_command_manager';

type Client = ReturnType<typeof createOpenSearchClient>;
type Limits = ConstructorParameters<typeof CommandService>[0]['limits'];
type AgentSeed = Parameters<typeof seedAgents>[1] extends Iterable<infer A> ? A : never;

/** The limits the HTTP integration tests run with unless they say otherwise. */
const LIMITS: Limits = { maxBatchCommands: 100, maxFanOut: 10_000, maxResultsPerReport: 1000 };

export interface OpenSearchWorld {
  client: Client;
  prefix: string;
  ordersIndex: string;
  agentsIndex: string;
  layout: IndexLayout;
  orders: OpenSearchOrderStore;
  requests: OpenSearchRequestStore;
  ids: OpenSearchRequestIdAllocator;
  agents: OpenSearchAgentDirectory;
  /** A service over the stores: the world's agents, `LIMITS` merged with `limits`, the system clock. */
  service(options?: { agents?: AgentDirectory; limits?: Partial<Limits>; clock?: Clock }): CommandService;
  /** Creates the indices and templates, and the agents index holding `agents`. */
  setUp(agents: AgentSeed[]): Promise<void>;
  /** Deletes every index under the prefix and the templates, then closes the client and `others`. */
  tearDown(...others: Client[]): Promise<void>;
}

/**
 * The world of one test file. `waitForWrites` makes submissions and writes wait for a refresh
 * (`'wait_for'`), so that what an answer reports is searchable right after it.
 */
export function openSearchWorld(file: string, options: { waitForWrites?: boolean } = {}): OpenSearchWorld {
  const client = createOpenSearchClient({ ...opensearchClientOptions(), maxRetries: 1 });
  const prefix = testIndexPrefix(file);
  const ordersIndex = `${prefix}orders`;
  const agentsIndex = `${prefix}agents`;
  const orders = new OpenSearchOrderStore({
    client,
    ordersIndex,
    replicas: 0,
    ...(options.waitForWrites ? ({ saveRefresh: 'wait_for', writeRefresh: 'wait_for' } as const) : {}),
  });
  const requests = new OpenSearchRequestStore({ client, ordersIndex, replicas: 0 });
  const ids = new OpenSearchRequestIdAllocator({ client, ordersIndex, replicas: 0 });
  const agents = new OpenSearchAgentDirectory({ client, agentsIndex });
  const { layout } = orders;
  return {
    client,
    prefix,
    ordersIndex,
    agentsIndex,
    layout,
    orders,
    requests,
    ids,
    agents,
    service: (o = {}) =>
      new CommandService({
        orders,
        requests,
        ids,
        agents: o.agents ?? agents,
        registry: ActionRegistry.withDefaults(),
        limits: { ...LIMITS, ...o.limits },
        indexName: ordersIndex,
        ...(o.clock !== undefined && { clock: o.clock }),
      }),
    setUp: async (seed) => {
      await Promise.all([orders.init(), requests.init()]);
      await ids.init();
      await createAgentsIndex(client, { index: agentsIndex });
      await seedAgents(client, seed, { index: agentsIndex });
    },
    tearDown: async (...others) => {
      try {
        await deleteTestIndices(client, prefix, { templates: Object.values(layout.templates) });
      } finally {
        await Promise.all([client, ...others].map((c) => c.close()));
      }
    },
  };
}

/** `POST /commands` as `as`, with the extra headers given (`query` is appended to the path). */
export function postCommands(
  app: TestApp['app'],
  as: TestUser,
  body: object | string,
  options: { headers?: Record<string, string>; query?: string } = {},
): request.Test {
  let req = request(app)
    .post(`${P}/commands${options.query ?? ''}`)
    .set('Authorization', basic(as));
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  return req.send(body);
}
