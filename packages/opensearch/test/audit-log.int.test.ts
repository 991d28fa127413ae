import { auditHash, type AuditEntry, type AuditRecord } from '@command-manager/core';
import { OpenSearchAuditLog } from '@command-manager/opensearch';
import { RecordingLogger } from '@command-manager/test-support';
import { testIndices } from './helpers/test-indices';

// The audit log's bulk write: records stored as chained, and items the store refuses reported as errors
// (here: two logs that both believe they start the same chain, so the second one's first records collide).

const t = testIndices(__filename);
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

function entry(route: string): AuditEntry {
  return {
    '@timestamp': new Date().toISOString(),
    principal: 'alice',
    auth_method: 'token',
    client_ip: '127.0.0.1',
    operation: 'submit',
    route,
    status: 201,
    outcome: 'ok',
    request_ids: [7],
  };
}

async function stored(index: string, id: string): Promise<AuditRecord | undefined> {
  const res = await t.client.get({ index, id }, { ignore: [404] });
  return (res.body as { found?: boolean; _source?: AuditRecord }).found
    ? (res.body as { _source: AuditRecord })._source
    : undefined;
}

it('stores each record with its chain fields, and logs the items the store refused', async () => {
  const index = `${t.prefix}audit`;
  const first = new OpenSearchAuditLog({ client: t.client, index, sidecar: 's1', flushIntervalMs: 60_000 });
  await first.init();
  const logger = new RecordingLogger();
  const second = new OpenSearchAuditLog({
    client: t.client,
    index,
    sidecar: 's1',
    flushIntervalMs: 60_000,
    logger,
  });
  await second.init();

  first.record(entry('POST /a'));
  first.record(entry('POST /b'));
  await first.flush();
  const one = await stored(index, 's1:1');
  expect(one).toMatchObject({
    ...entry('POST /a'),
    '@timestamp': one?.['@timestamp'],
    seq: 1,
    prev_hash: '',
  });
  expect(one?.hash).toBe(auditHash(one as AuditRecord));
  expect(await stored(index, 's1:2')).toMatchObject({ route: 'POST /b', seq: 2, prev_hash: one?.hash });
  expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);

  // The second log starts the same chain: its records 1 and 2 collide, its record 3 is written.
  second.record(entry('POST /c'));
  second.record(entry('POST /d'));
  second.record(entry('POST /e'));
  await second.flush();
  expect(logger.lines.filter((l) => l.level === 'error')).toEqual([
    {
      level: 'error',
      message: 'audit records could not be written',
      meta: { failed: 2, type: 'version_conflict_engine_exception' },
    },
  ]);
  expect(await stored(index, 's1:1')).toMatchObject({ route: 'POST /a' });
  expect(await stored(index, 's1:3')).toMatchObject({ route: 'POST /e', seq: 3 });
  await Promise.all([first.close(), second.close()]);
});
