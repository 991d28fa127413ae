/**
 * Wazuh's own senders, unchanged: each body of `support/wazuh-bodies.ts` is posted byte for byte through the
 * real HTTP app over a real OpenSearch, and the stored orders are read back the way Wazuh's `wazuh-commands`
 * index template sees them (wazuh-indexer-plugins `plugins/command-manager/src/main/resources/
 * index-template-commands.json`): by searching each mapped field (`command.user`, `command.source`,
 * `command.target.*`, `command.action.*`, `command.status`, `agent.groups`, `@timestamp`,
 * `delivery_timestamp`) and checking its mapped type.
 */
import request from 'supertest';
import { createOpenSearchClient } from '@command-manager/opensearch';
import { adminClientOptions } from '@command-manager/test-support';
import { CONTENT_MANAGER_BODY, basic, buildApp, type TestUser } from './support/fixtures';
import { P, openSearchWorld, postCommands } from './support/opensearch-world';
import { WAZUH_AGENT_ID, WAZUH_BODIES } from './support/wazuh-bodies';

jest.setTimeout(120_000);

const world = openSearchWorld(__filename, { waitForWrites: true });
const { client, ordersIndex } = world;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

beforeAll(async () => {
  await world.setUp([{ id: WAZUH_AGENT_ID, groups: ['default'], status: 'active' }]);
  ({ app } = await buildApp(world.service()));
});

afterAll(() => world.tearDown());

/** Posts a body as the raw bytes given. */
function post(as: TestUser, body: string): request.Test {
  return postCommands(app, as, body, { headers: { 'Content-Type': 'application/json' } });
}

interface WazuhView {
  '@timestamp': string;
  delivery_timestamp: string;
  agent?: { groups?: string[] };
  command: {
    source: string;
    user: string;
    target: { type: string; id: string };
    action: { name: string; version?: string; args: Record<string, unknown> };
    timeout: number;
    status: string;
  };
}

/**
 * The stored document, after checking that OpenSearch finds it by every field Wazuh's template maps, with
 * the value the document holds (a field stored under another name or type would not be found).
 */
async function readAsWazuh(id: string): Promise<WazuhView> {
  const raw = await client.get({ index: ordersIndex, id });
  const doc = raw.body._source as WazuhView;
  const c = doc.command;
  const terms: Array<[string, unknown]> = [
    ['command.source', c.source],
    ['command.user', c.user],
    ['command.target.type', c.target.type],
    ['command.target.id', c.target.id],
    ['command.action.name', c.action.name],
    ['command.status', c.status],
    ['command.timeout', c.timeout],
  ];
  if (c.action.version !== undefined) terms.push(['command.action.version', c.action.version]);
  for (const g of doc.agent?.groups ?? []) terms.push(['agent.groups', g]);
  await client.indices.refresh({ index: ordersIndex });
  for (const [field, value] of terms) {
    const body: Record<string, unknown> = {
      query: { bool: { filter: [{ ids: { values: [id] } }, { term: { [field]: value } }] } },
    };
    const res = await client.search({ index: ordersIndex, body });
    expect({ field, hits: (res.body.hits.total as { value: number }).value }).toEqual({ field, hits: 1 });
  }
  for (const field of ['@timestamp', 'delivery_timestamp'] as const) {
    const at = doc[field];
    const res = await client.search({
      index: ordersIndex,
      body: {
        query: {
          bool: { filter: [{ ids: { values: [id] } }, { range: { [field]: { gte: at, lte: at } } }] },
        },
      },
    });
    expect({ field, hits: (res.body.hits.total as { value: number }).value }).toEqual({ field, hits: 1 });
  }
  // The deadline is `@timestamp` + `timeout` seconds, as the plugin's `Order` wrote it.
  expect(Date.parse(doc.delivery_timestamp) - Date.parse(doc['@timestamp'])).toBe(c.timeout * 1000);
  return doc;
}

/**
 * The types Wazuh's template gives the fields it maps, as this product maps them. The deliberate differences
 * (opensearch `internal/mappings.ts`): `command.result.code` is an `integer` (Wazuh: `short`), and
 * `command.request_id`/`order_id` (Wazuh: `keyword`) and `command.action.args` (Wazuh: `object`) are left out
 * here because they are mapped as numbers and `flat_object`.
 */
const WAZUH_TEMPLATE_TYPES: Record<string, string> = {
  '@timestamp': 'date',
  delivery_timestamp: 'date',
  'agent.groups': 'keyword',
  'command.source': 'keyword',
  'command.user': 'keyword',
  'command.target.type': 'keyword',
  'command.target.id': 'keyword',
  'command.action.name': 'keyword',
  'command.action.version': 'keyword',
  'command.status': 'keyword',
  'command.timeout': 'short',
  'command.result.code': 'integer',
  'command.result.message': 'keyword',
};

async function firstOrderOf(res: request.Response): Promise<WazuhView> {
  expect(res.status).toBe(201);
  const requestId = (res.body as { commands: Array<{ request_id: number }> }).commands[0]?.request_id;
  return readAsWazuh(`${String(requestId)}-1`);
}

describe('bodies exactly as Wazuh sends them', () => {
  it('the orders index maps every field Wazuh’s template maps, with its type', async () => {
    // Field mappings are read as an administrator: beyond the sidecar's role on a secured node.
    const admin = createOpenSearchClient({ ...adminClientOptions(), maxRetries: 1 });
    const res = await admin.indices
      .getFieldMapping({ index: ordersIndex, fields: '*' })
      .finally(() => admin.close());
    const mappings = (
      Object.values(res.body as Record<string, { mappings: Record<string, { mapping: object }> }>)[0] as {
        mappings: Record<string, { mapping: Record<string, { type: string }> }>;
      }
    ).mappings;
    const types = Object.fromEntries(
      Object.keys(WAZUH_TEMPLATE_TYPES).map((f) => {
        const m = mappings[f]?.mapping;
        return [f, m ? Object.values(m)[0]?.type : undefined];
      }),
    );
    expect(types).toEqual(WAZUH_TEMPLATE_TYPES);
  });

  it('content manager (no user, "Content Manager"): accepted; user is the authenticated caller', async () => {
    const doc = await firstOrderOf(await post('Content Manager', WAZUH_BODIES.contentManagerUpdate.body));
    expect(doc.command).toMatchObject({
      source: 'Content manager',
      user: 'Content Manager',
      target: { type: 'server', id: 'vulnerability-detector' },
      action: { name: 'update', version: '5.0.0', args: { index: 'content-index', offset: '42' } },
      timeout: 100,
      status: 'pending',
    });
    expect(doc.agent?.groups ?? []).toEqual([]);
  });

  it('content manager with user (March 2025): accepted as before', async () => {
    const doc = await firstOrderOf(
      await post('Content Manager', WAZUH_BODIES.contentManagerUpdateWithUser.body),
    );
    expect(doc.command.user).toBe('Content Manager');
  });

  it('the existing fixture with an added user still passes (kept coverage)', async () => {
    const res = await request(app)
      .post(`${P}/commands`)
      .set('Authorization', basic('Content Manager'))
      .send(CONTENT_MANAGER_BODY);
    expect(res.status).toBe(201);
  });

  it('server set-group (args.groups): stored with user "Management API" and the agent’s groups', async () => {
    const doc = await firstOrderOf(await post('wazuh-server', WAZUH_BODIES.serverSetGroup.body));
    expect(doc.command).toMatchObject({
      source: 'Users/Services',
      user: 'Management API',
      target: { type: 'agent', id: WAZUH_AGENT_ID },
      action: { name: 'set-group', version: '5.0.0', args: { groups: ['g1', 'g2'] } },
    });
    expect(doc.agent?.groups).toEqual(['default']);
  });

  it('server restart without args: args default to {}', async () => {
    const doc = await firstOrderOf(await post('wazuh-server', WAZUH_BODIES.serverRestart.body));
    expect(doc.command.action).toEqual({ name: 'restart', version: '5.0.0', args: {} });
  });

  it('server fetch-config with args {}: accepted', async () => {
    const doc = await firstOrderOf(await post('wazuh-server', WAZUH_BODIES.serverFetchConfig.body));
    expect(doc.command.action).toEqual({ name: 'fetch-config', version: '5.0.0', args: {} });
  });

  it('server set-group with args as a list (Dec 2024–Jan 2025): stored as args.groups', async () => {
    const doc = await firstOrderOf(await post('wazuh-server', WAZUH_BODIES.serverSetGroupListArgs.body));
    expect(doc.command.action.args).toEqual({ groups: ['g1', 'g2'] });
  });

  it('one bare command (Oct–Nov 2024): accepted as a batch of one, answered with its _id', async () => {
    const res = await post('wazuh-server', WAZUH_BODIES.serverBareSetGroup.body);
    expect(res.status).toBe(201);
    const requestId = (res.body as { commands: Array<{ request_id: number }> }).commands[0]?.request_id;
    expect(res.body._id).toBe(`${String(requestId)}-1`);
    const doc = await readAsWazuh(`${String(requestId)}-1`);
    expect(doc.command.action).toEqual({
      name: 'set-group',
      version: 'v5.0.0',
      args: { groups: ['g1', 'g2'] },
    });
    const restart = await firstOrderOf(await post('wazuh-server', WAZUH_BODIES.serverBareRestart.body));
    expect(restart.command.action).toEqual({ name: 'restart', version: 'v5.0.0', args: {} });
  });

  it('a bare command with a bad field is refused with a pointer into the body as sent', async () => {
    const bad = WAZUH_BODIES.serverBareRestart.body.replace('"timeout":100', '"timeout":"soon"');
    const res = await post('wazuh-server', bad);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ pointer: '/timeout', message: 'must be of type integer' }]);
  });

  it('update-group (renamed fetch-config in Jan 2025) is refused as an unknown action, naming the field', async () => {
    const res = await post('wazuh-server', WAZUH_BODIES.serverUpdateGroup.body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('UNKNOWN_ACTION');
    expect(res.body.error.details[0].pointer).toBe('/commands/0/action/name');
  });

  it('the plugin’s refresh example (no user): accepted for a caller allowed refresh as Users/Services', async () => {
    const doc = await firstOrderOf(await post('admin', WAZUH_BODIES.pluginRefreshExample.body));
    expect(doc.command).toMatchObject({
      source: 'Users/Services',
      user: 'admin',
      target: { type: 'server', id: 'rbac' },
      action: { name: 'refresh', args: { index: ['index-a', 'index-b'] } },
    });
  });

  it('target.type in another case is stored in lower case (the plugin compared ignoring case)', async () => {
    const body = WAZUH_BODIES.serverRestart.body.replace('"type":"agent"', '"type":"Agent"');
    const doc = await firstOrderOf(await post('wazuh-server', body));
    expect(doc.command.target.type).toBe('agent');
  });

  it('timeout absent is refused, as the plugin did ("Missing arguments: [timeout]")', async () => {
    const body = WAZUH_BODIES.serverRestart.body.replace(',"timeout":100', '');
    const res = await post('wazuh-server', body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ pointer: '/commands/0/timeout', message: 'is required' }]);
  });

  it('args as a list for another action than set-group is refused by name', async () => {
    const body = WAZUH_BODIES.serverRestart.body.replace(
      '"version":"5.0.0"',
      '"version":"5.0.0","args":["x"]',
    );
    const res = await post('wazuh-server', body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { pointer: '/commands/0/action/args', message: 'must be of type object' },
    ]);
  });
});

describe('defaults never let a caller forge user or source', () => {
  it('a caller that may not delegate still cannot name another user', async () => {
    const body = WAZUH_BODIES.serverRestart.body.replace('"Users/Services"', '"Engine"');
    const res = await post('engine', body);
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([
      {
        pointer: '/commands/0/user',
        message: 'must be "engine": this principal may not act for another user',
      },
    ]);
  });

  it('without user, such a caller is stored as itself', async () => {
    const body = WAZUH_BODIES.serverRestart.body
      .replace('"Users/Services"', '"Engine"')
      .replace('"user":"Management API",', '');
    const doc = await firstOrderOf(await post('engine', body));
    expect(doc.command).toMatchObject({ source: 'Engine', user: 'engine' });
  });

  it('a source casing does not let a caller claim a source its role does not allow', async () => {
    const body = WAZUH_BODIES.contentManagerUpdate.body.replace('"Content Manager"', '"USERS/SERVICES"');
    const res = await post('Content Manager', body);
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual([
      {
        pointer: '/commands/0/source',
        message: 'Content Manager may not send commands as "Users/Services"',
      },
    ]);
  });

  it('a bare command keeps the same checks, with pointers into the body as sent', async () => {
    const body = WAZUH_BODIES.serverBareRestart.body.replace('"Users/Services"', '"Engine"');
    const res = await post('engine', body);
    expect(res.status).toBe(403);
    expect(res.body.error.details[0].pointer).toBe('/user');
  });
});
