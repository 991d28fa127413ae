/**
 * The sidecar against a secured indexer (`scripts/opensearch --secure`, which CI runs): the production
 * least-privilege role after `setup`, per-item bulk refusals, the indexer's certificate checked against the
 * CA, and mutual TLS. These need the admin's credentials (to create users and roles) and the node's
 * certificate folder, so they run only when the test node is secured.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@opensearch-project/opensearch';
import {
  createAgentsIndex,
  createOpenSearchClient,
  OpenSearchOrderStore,
  opensearchReadiness,
  seedAgents,
} from '@command-manager/opensearch';
import {
  adminClientOptions,
  opensearchClientOptions,
  opensearchSecured,
  opensearchUrl,
} from '@command-manager/test-support';
import { makeTestOrder } from '@command-manager/store-contract';
import { killLeftovers, runCli, startServe } from './support/cli-process';
import { createFixture, submitRestart, type Fixture } from './support/fixture';

const secured = opensearchSecured();
const describeSecured = secured ? describe : describe.skip;

// Production names (the role's `wazuh-commands*` / `wazuh-agents*`), unique to this run.
const tag = randomBytes(3).toString('hex');
const ordersIndex = `wazuh-commands-lp${tag}`;
const agentsIndex = `wazuh-agents-lp${tag}`;
const user = `cm-lp-${tag}`;
const role = `cm_lp_${tag}`;
const password = `${randomBytes(16).toString('hex')}Aa1!`;

let admin: Client;
let fx: Fixture;

function certs(name: string): string {
  return path.join(path.dirname(opensearchClientOptions().caFile ?? '.'), name);
}

function lpEnv(): Record<string, string> {
  return {
    ...fx.env,
    OPENSEARCH_USERNAME: user,
    OPENSEARCH_PASSWORD: password,
    CM_ORDERS_INDEX: ordersIndex,
    CM_AGENTS_INDEX: agentsIndex,
  };
}

function lpClient(): Client {
  return createOpenSearchClient({ ...opensearchClientOptions(), auth: { username: user, password } });
}

describeSecured('a secured indexer', () => {
  beforeAll(async () => {
    admin = createOpenSearchClient(adminClientOptions());
    fx = await createFixture(__filename, {});
    // A user holding exactly the production role (copied from the node's `command_manager_sidecar`).
    const api = '/_plugins/_security/api';
    const prod = await admin.transport.request({
      method: 'GET',
      path: `${api}/roles/command_manager_sidecar`,
    });
    const { cluster_permissions, index_permissions } = (
      prod.body as Record<string, { cluster_permissions: string[]; index_permissions: unknown[] }>
    ).command_manager_sidecar!;
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/roles/${role}`,
      body: { cluster_permissions, index_permissions },
    });
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/internalusers/${user}`,
      body: { password },
    });
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/rolesmapping/${role}`,
      body: { users: [user] },
    });
    // The agents index is Wazuh's: an administrator creates and fills it.
    await createAgentsIndex(admin, { index: agentsIndex });
    await seedAgents(
      admin,
      ['001', '002', '003'].map((id) => ({ id, groups: ['web'] })),
      { index: agentsIndex, refresh: 'wait_for' },
    );
  });

  afterAll(async () => {
    await killLeftovers();
    const api = '/_plugins/_security/api';
    await admin.indices.delete(
      { index: [`${ordersIndex}*`, agentsIndex], ignore_unavailable: true, allow_no_indices: true },
      { ignore: [404] },
    );
    await admin.indices.deleteIndexTemplate({ name: `command-manager-${ordersIndex}*` }, { ignore: [404] });
    await admin.transport.request(
      { method: 'DELETE', path: `${api}/rolesmapping/${role}` },
      { ignore: [404] },
    );
    await admin.transport.request({ method: 'DELETE', path: `${api}/roles/${role}` }, { ignore: [404] });
    await admin.transport.request(
      { method: 'DELETE', path: `${api}/internalusers/${user}` },
      { ignore: [404] },
    );
    await admin.close();
    await fx.cleanup();
  });

  it('with the production role the sidecar refuses to start before `setup`, and runs a group command after it', async () => {
    const before = await runCli(['serve'], lpEnv(), 90_000);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain('command-manager setup');

    const setup = await runCli(['setup'], {
      ...lpEnv(),
      OPENSEARCH_USERNAME: adminClientOptions().auth!.username,
      OPENSEARCH_PASSWORD: adminClientOptions().auth!.password,
    });
    expect(setup.stderr).not.toMatch(/error/i);
    expect(setup.code).toBe(0);
    expect(setup.stdout).toContain(`command-manager-${ordersIndex}`);

    const serve = await startServe(lpEnv());
    const ready = await fetch(`${serve.url}/ready`);
    expect(ready.status).toBe(200);
    const res = await submitRestart(serve.url, fx.adminToken, { type: 'group', id: 'web' });
    expect(res.status).toBe(201);
    expect(res.body.commands[0]?.orders).toBe(3);
    await admin.indices.refresh({ index: ordersIndex });
    expect((await admin.count({ index: ordersIndex })).body.count).toBe(3);
    serve.signal('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('the production role reads agents but may not write them, nor any other index', async () => {
    const client = lpClient();
    try {
      await expect(
        seedAgents(client, [{ id: '999', groups: ['x'] }], { index: agentsIndex, refresh: true }),
      ).rejects.toThrow();
      await expect(client.indices.create({ index: `t-other-${tag}` })).rejects.toThrow(/security_exception/);
    } finally {
      await client.close();
    }
  });

  it('a bulk save refused per item (403 inside a 200 answer) is an error, never a success', async () => {
    const client = lpClient();
    try {
      // The agents index: readable by the role, not writable. The store's setup is skipped (it would
      // create templates for this name); the bulk goes straight to the refused index.
      const store = new OpenSearchOrderStore({ client, ordersIndex: agentsIndex, saveRefresh: true });
      const orders = [makeTestOrder(1, 1), makeTestOrder(1, 2)];
      await expect(store.saveOrders(orders)).rejects.toThrow(/not permitted/);
      await admin.indices.refresh({ index: agentsIndex });
      expect((await admin.count({ index: agentsIndex })).body.count).toBe(3);
    } finally {
      await client.close();
    }
  });

  it('an mget refused per document (an error inside a 200 answer) is an error, never "no such order"', async () => {
    // The production role without `indices:data/read/mget[shard]`: OpenSearch answers 200 with an error
    // in every document.
    const api = '/_plugins/_security/api';
    const prod = await admin.transport.request({ method: 'GET', path: `${api}/roles/${role}` });
    const body = (
      prod.body as Record<
        string,
        { cluster_permissions: string[]; index_permissions: Array<{ allowed_actions: string[] }> }
      >
    )[role]!;
    const weaker = `${role}_nomget`;
    const weakUser = `${user}-nomget`;
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/roles/${weaker}`,
      body: {
        cluster_permissions: body.cluster_permissions,
        index_permissions: body.index_permissions.map((p) => ({
          ...p,
          allowed_actions: p.allowed_actions.filter((a) => a !== 'indices:data/read/mget[shard]'),
        })),
      },
    });
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/internalusers/${weakUser}`,
      body: { password },
    });
    await admin.transport.request({
      method: 'PUT',
      path: `${api}/rolesmapping/${weaker}`,
      body: { users: [weakUser] },
    });
    const client = createOpenSearchClient({
      ...opensearchClientOptions(),
      auth: { username: weakUser, password },
    });
    try {
      const store = new OpenSearchOrderStore({ client, ordersIndex });
      await expect(store.getOrders(['1-1'])).rejects.toThrow(/get orders failed/);
    } finally {
      await client.close();
      await admin.transport.request(
        { method: 'DELETE', path: `${api}/rolesmapping/${weaker}` },
        { ignore: [404] },
      );
      await admin.transport.request({ method: 'DELETE', path: `${api}/roles/${weaker}` }, { ignore: [404] });
      await admin.transport.request(
        { method: 'DELETE', path: `${api}/internalusers/${weakUser}` },
        { ignore: [404] },
      );
    }
  });

  it("verifies the indexer's certificate against the CA and refuses one from another CA", async () => {
    const good = createOpenSearchClient({ ...opensearchClientOptions(), maxRetries: 0 });
    const wrong = createOpenSearchClient({
      ...opensearchClientOptions(),
      caFile: certs('other-ca.pem'),
      maxRetries: 0,
    });
    const none = createOpenSearchClient({
      node: opensearchUrl(),
      auth: opensearchClientOptions().auth!,
      maxRetries: 0,
    });
    try {
      expect((await good.cluster.health()).statusCode).toBe(200);
      await expect(wrong.cluster.health()).rejects.toThrow(/certificate/i);
      await expect(none.cluster.health()).rejects.toThrow(/certificate/i);
    } finally {
      await Promise.all([good.close(), wrong.close(), none.close()]);
    }
    // The sidecar given the wrong CA does not start.
    const serve = await runCli(['serve'], { ...lpEnv(), OPENSEARCH_CA_FILE: certs('other-ca.pem') }, 90_000);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).not.toContain(password);
  });

  it('authenticates with a client certificate (mutual TLS) and no password', async () => {
    const { node, caFile } = opensearchClientOptions();
    const mtls = createOpenSearchClient({
      node,
      ...(caFile !== undefined && { caFile }),
      certFile: certs('cm-sidecar.pem'),
      keyFile: certs('cm-sidecar-key.pem'),
      maxRetries: 0,
    });
    const anonymous = createOpenSearchClient({
      node,
      ...(caFile !== undefined && { caFile }),
      maxRetries: 0,
    });
    try {
      const who = await mtls.transport.request({ method: 'GET', path: '/_plugins/_security/authinfo' });
      expect((who.body as { user_name: string }).user_name).toBe('cm-sidecar');
      expect((await mtls.cluster.health()).statusCode).toBe(200);
      await expect(anonymous.cluster.health()).rejects.toMatchObject({ meta: { statusCode: 401 } });
    } finally {
      await Promise.all([mtls.close(), anonymous.close()]);
    }
  });

  it('/ready authenticates: a wrong password is not ready, the right one is', async () => {
    const wrong = createOpenSearchClient({
      ...opensearchClientOptions(),
      auth: { username: user, password: 'nope' },
    });
    const right = lpClient();
    const template = `command-manager-${ordersIndex}`;
    try {
      expect((await opensearchReadiness(wrong, ordersIndex, template)).ready).toBe(false);
      expect(await opensearchReadiness(right, ordersIndex, template)).toEqual({
        ready: true,
        checks: { opensearch: true, templates: true },
      });
    } finally {
      await Promise.all([wrong.close(), right.close()]);
    }
  });
});
