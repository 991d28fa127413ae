import type { AuditPage, AuditRecord } from '@command-manager/core';
import { OpenSearchAuditLog } from '@command-manager/opensearch';
import { killLeftovers, runCli, startServe, type RunningCli } from './support/cli-process';
import { callApi, createFixture, eventually, submitRestart, type Fixture } from './support/fixture';

// The audit trail of a real `serve`: what is recorded, read back with filters and pages, verified by
// `command-manager audit verify`, which finds an edited and a deleted record; and retention.

const API = '/_plugins/_command_manager';

let fx: Fixture;
let serve: RunningCli & { url: string };
let auditIndex: string;
let client: Record<string, string>;
let requestId: number;

beforeAll(async () => {
  fx = await createFixture(__filename, { web: ['web-001', 'web-002'] });
  auditIndex = `${fx.prefix}orders-audit`;
  serve = await startServe({
    ...fx.env,
    CM_ORDERS_INDEX: `${fx.prefix}orders`,
    CM_NODE_ID: 'audit-a',
    CM_AUDIT_FLUSH_INTERVAL_MS: '100',
  });
  client = { CM_API_URL: serve.url, CM_API_TOKEN: fx.adminToken };

  const submitted = await submitRestart(serve.url, fx.adminToken, { type: 'group', id: 'web' });
  expect(submitted.status).toBe(201);
  requestId = submitted.body.commands[0]?.request_id ?? 0;
  // Refused: a role without `submit` (403), an unknown token (401). A read is not recorded.
  expect((await submitRestart(serve.url, fx.commsToken, { type: 'group', id: 'web' })).status).toBe(403);
  expect((await callApi(serve.url, 'not-a-token', 'GET', `${API}/requests/${requestId}`)).status).toBe(401);
  expect((await callApi(serve.url, fx.adminToken, 'GET', `${API}/requests/${requestId}`)).status).toBe(200);
  await eventually(
    () => auditPage(''),
    (page) => page.records.length >= 3,
  );
});

afterAll(async () => {
  await killLeftovers();
  await fx.cleanup();
});

async function auditPage(query: string, token = fx.adminToken): Promise<AuditPage> {
  const res = await callApi<AuditPage>(serve.url, token, 'GET', `${API}/audit?${query}`);
  expect(res.status).toBe(200);
  return res.body;
}

describe('audit trail', () => {
  it('records the submission, the refused calls (who, from where, what, outcome) and not the read', async () => {
    const { records } = await auditPage('');
    expect(records).toHaveLength(3);
    const [submitted, forbidden, unauthenticated] = records;
    expect(submitted).toMatchObject({
      principal: 'test-admin',
      auth_method: 'token',
      client_ip: expect.stringMatching(/127\.0\.0\.1$/),
      operation: 'submit',
      route: `POST ${API}/commands`,
      status: 201,
      outcome: 'ok',
      request_ids: [requestId],
      sidecar: 'audit-a',
      seq: 1,
      prev_hash: '',
    });
    expect(forbidden).toMatchObject({
      principal: 'test-comms',
      operation: 'submit',
      status: 403,
      outcome: 'refused',
      code: 'FORBIDDEN',
      seq: 2,
      prev_hash: submitted?.hash,
    });
    expect(unauthenticated).toMatchObject({
      operation: 'read',
      route: `GET ${API}/requests/:id`,
      status: 401,
      outcome: 'refused',
      code: 'UNAUTHENTICATED',
      request_ids: [requestId],
      seq: 3,
    });
    expect(unauthenticated).not.toHaveProperty('principal');
  });

  it('filters by principal, outcome and time, pages with a checked cursor, and needs the audit operation', async () => {
    expect((await auditPage('principal=test-admin')).records.map((r) => r.status)).toEqual([201]);
    expect((await auditPage('outcome=refused')).records.map((r) => r.status)).toEqual([403, 401]);
    expect((await auditPage('from=2999-01-01T00:00:00Z')).records).toEqual([]);
    const first = await auditPage('size=2');
    expect(first.records.map((r) => r.seq)).toEqual([1, 2]);
    const second = await auditPage(`size=2&cursor=${first.cursor ?? ''}`);
    expect(second.records[0]?.seq).toBe(3);

    const garbled = await callApi<{ error: { details: unknown[] } }>(
      serve.url,
      fx.adminToken,
      'GET',
      `${API}/audit?cursor=bm90LWEtY3Vyc29y`,
    );
    expect(garbled.status).toBe(400);
    expect(garbled.body.error.details).toEqual([{ pointer: '/query/cursor', message: expect.any(String) }]);
    const badOutcome = await callApi<{ error: { details: unknown[] } }>(
      serve.url,
      fx.adminToken,
      'GET',
      `${API}/audit?outcome=maybe&size=0`,
    );
    expect(badOutcome.body.error.details).toEqual([
      { pointer: '/query/size', message: expect.any(String) },
      { pointer: '/query/outcome', message: expect.any(String) },
    ]);
    expect((await callApi(serve.url, fx.commsToken, 'GET', `${API}/audit`)).status).toBe(403);
  });

  it('audit verify passes on the trail as written, and finds an edited record and a deleted one', async () => {
    const intact = await runCli(['audit', 'verify'], client);
    expect(intact.stdout).toContain('audit trail intact');
    expect(intact.code).toBe(0);

    // The three records of beforeAll and the 403 of the test above, which the sidecar writes in the background:
    // a record deleted in the middle of a chain must have one after it.
    const hits = await eventually(
      async () => {
        await fx.client.indices.refresh({ index: auditIndex });
        const stored = await fx.client.search({
          index: auditIndex,
          body: { query: { term: { sidecar: 'audit-a' } }, sort: [{ seq: 'asc' }], size: 100 },
        });
        return stored.body.hits.hits as Array<{ _id: string; _source: AuditRecord }>;
      },
      (found) => found.length >= 4,
      10_000,
    );
    const second = hits[1] as { _id: string; _source: AuditRecord };
    await fx.client.index({
      index: auditIndex,
      id: second._id,
      body: { ...second._source, status: 200, outcome: 'ok' },
      refresh: true,
    });
    const edited = await runCli(['audit', 'verify'], client);
    expect(edited.code).toBe(6);
    expect(edited.stdout).toContain('audit-a: edited: record 2 does not match its hash');

    await fx.client.index({ index: auditIndex, id: second._id, body: second._source, refresh: true });
    expect((await runCli(['audit', 'verify'], client)).code).toBe(0);

    await fx.client.delete({ index: auditIndex, id: (hits[2] as { _id: string })._id, refresh: true });
    const deleted = await runCli(['audit', 'verify', '--json'], client);
    expect(deleted.code).toBe(6);
    expect(JSON.parse(deleted.stdout)).toMatchObject({
      ok: false,
      problems: [{ sidecar: 'audit-a', seq: 3, problem: 'missing', message: 'record 3 is missing' }],
    });
  });

  it('a flood beyond the queue is counted, not written record by record: one record says how many', async () => {
    const log = new OpenSearchAuditLog({
      client: fx.client,
      index: auditIndex,
      sidecar: 'flood-test',
      maxQueued: 5,
      maxBatch: 100,
      flushIntervalMs: 60_000,
    });
    await log.init();
    for (let i = 0; i < 50; i++) {
      log.record({
        '@timestamp': new Date().toISOString(),
        client_ip: '10.9.9.9',
        operation: 'submit',
        route: `POST ${API}/commands`,
        status: 401,
        outcome: 'refused',
        code: 'UNAUTHENTICATED',
      });
    }
    await log.close();
    await fx.client.indices.refresh({ index: auditIndex });
    const { records } = await auditPage('sidecar=flood-test');
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records.filter((r) => r.status === 401)).toHaveLength(5);
    expect(records[5]).toMatchObject({ code: 'AUDIT_QUEUE_FULL', outcome: 'refused', dropped: 45 });
  });

  it('the queue is bounded by bytes too: records beyond maxQueuedBytes are counted, not held', async () => {
    // A refused call's record: about 200 bytes as JSON, so 2,000 bytes hold about ten of them; the count bound
    // (10,000 by default) would hold all 50.
    const entry = {
      '@timestamp': new Date().toISOString(),
      client_ip: '10.9.9.10',
      operation: 'submit',
      route: `POST ${API}/commands`,
      status: 401,
      outcome: 'refused' as const,
      code: 'UNAUTHENTICATED',
    };
    const each = Buffer.byteLength(JSON.stringify(entry));
    const held = Math.floor(2000 / each);
    const log = new OpenSearchAuditLog({
      client: fx.client,
      index: auditIndex,
      sidecar: 'flood-bytes',
      maxQueuedBytes: 2000,
      maxBatch: 100,
      flushIntervalMs: 60_000,
    });
    await log.init();
    for (let i = 0; i < 50; i++) log.record(entry);
    await log.close();
    await fx.client.indices.refresh({ index: auditIndex });
    const { records } = await auditPage('sidecar=flood-bytes');
    expect(records.filter((r) => r.status === 401)).toHaveLength(held);
    expect(records[held]).toMatchObject({ code: 'AUDIT_QUEUE_FULL', dropped: 50 - held });
  });

  it('successful calls beyond a batch a period are written at once, none dropped; refused ones wait for the timer', async () => {
    const log = new OpenSearchAuditLog({
      client: fx.client,
      index: auditIndex,
      sidecar: 'busy-test',
      maxQueued: 1000,
      maxBatch: 10,
      flushIntervalMs: 60_000,
    });
    await log.init();
    const entry = (status: number): Parameters<OpenSearchAuditLog['record']>[0] => ({
      '@timestamp': new Date().toISOString(),
      client_ip: '10.7.7.7',
      operation: 'submit',
      route: `POST ${API}/commands`,
      status,
      outcome: status < 400 ? 'ok' : 'refused',
      ...(status >= 400 && { code: 'UNAUTHENTICATED' }),
    });
    const stored = async (): Promise<number> => {
      await fx.client.indices.refresh({ index: auditIndex });
      const res = await fx.client.count({
        index: auditIndex,
        body: { query: { term: { sidecar: 'busy-test' } } },
      });
      return (res.body as { count: number }).count;
    };
    // 15 refused calls: under a batch of successful ones, nothing is sent before the timer (a minute away).
    for (let i = 0; i < 15; i++) log.record(entry(401));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await stored()).toBe(0);
    // 100 successful calls: each full batch goes at once, one bulk at a time, long before the timer would.
    for (let i = 0; i < 100; i++) {
      log.record(entry(201));
      if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await eventually(stored, (n) => n >= 100, 10_000);
    await log.close();
    await fx.client.indices.refresh({ index: auditIndex });
    const res = await fx.client.search({
      index: auditIndex,
      body: { size: 1000, query: { term: { sidecar: 'busy-test' } }, sort: [{ seq: 'asc' }] },
    });
    const records = (res.body.hits.hits as Array<{ _source: AuditRecord }>).map((h) => h._source);
    expect(records.filter((r) => r.status === 201)).toHaveLength(100);
    expect(records.filter((r) => r.status === 401)).toHaveLength(15);
    expect(records.filter((r) => r.dropped !== undefined)).toEqual([]);
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
  });

  it('retention removes records older than it (a chain loses its oldest records, and still verifies)', async () => {
    const log = new OpenSearchAuditLog({
      client: fx.client,
      index: auditIndex,
      sidecar: 'retention-test',
      retentionMs: 3600_000,
    });
    await log.init();
    const at = (msAgo: number): string => new Date(Date.now() - msAgo).toISOString();
    for (const msAgo of [3 * 3600_000, 2 * 3600_000, 60_000]) {
      log.record({
        '@timestamp': at(msAgo),
        client_ip: '10.1.1.1',
        operation: 'cancel',
        route: `POST ${API}/requests/:id/cancel`,
        status: 200,
        outcome: 'ok',
      });
    }
    await log.close();
    await fx.client.indices.refresh({ index: auditIndex });
    expect(await log.removeExpired()).toBe(2);
    const left = await auditPage('sidecar=retention-test');
    expect(left.records.map((r) => r.seq)).toEqual([3]);
    const verified = await runCli(['audit', 'verify', '--sidecar', 'retention-test', '--json'], client);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      chains: { 'retention-test': { first: 3 } },
    });
  });
});
