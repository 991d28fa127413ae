/**
 * The byte bounds on what one submission writes, over HTTP against a real OpenSearch: refused with the
 * standard error body and the pointer of the offending field, before anything is written (no order, no
 * request record, no request id taken from the cluster-wide counter).
 */
import { buildApp } from './support/fixtures';
import { openSearchWorld, postCommands } from './support/opensearch-world';

jest.setTimeout(120_000);

const world = openSearchWorld(__filename);
const { client, prefix, ordersIndex, layout } = world;
let app: Awaited<ReturnType<typeof buildApp>>['app'];

const setGroup = (groups: string[], group = 'Big'): Record<string, unknown> => ({
  source: 'Users/Services',
  user: 'wazuh-server',
  target: { type: 'group', id: group },
  action: { name: 'set-group', args: { groups } },
  timeout: 60,
});
const names = (n: number, len: number): string[] =>
  Array.from({ length: n }, (_, i) => `g${i}`.padEnd(len, 'x'));

async function documents(): Promise<{ orders: number; records: number }> {
  await client.indices.refresh({ index: `${prefix}*` });
  const o = await client.count({ index: ordersIndex });
  const r = await client.count({ index: layout.requests, body: { query: { term: { kind: 'request' } } } });
  return { orders: (o.body as { count: number }).count, records: (r.body as { count: number }).count };
}

beforeAll(async () => {
  await world.setUp(
    Array.from({ length: 300 }, (_, i) => ({
      id: `a${String(i).padStart(4, '0')}`,
      groups: ['Big'],
      status: 'active',
    })),
  );
  ({ app } = await buildApp(
    world.service({
      limits: {
        maxFanOut: 1000,
        maxResultsPerReport: 100,
        maxArgsBytes: 16 * 1024,
        maxRequestWriteBytes: 1024 * 1024,
      },
    }),
  ));
});

afterAll(() => world.tearDown());

const post = (body: object) => postCommands(app, 'wazuh-server', body);

it('args over maxArgsBytes: 413 ARGS_TOO_LARGE at /commands/i/action/args, nothing written', async () => {
  const before = await documents();
  const res = await post({ commands: [setGroup(['a']), setGroup(names(100, 200))] });
  expect(res.status).toBe(413);
  expect(res.body).toEqual({
    error: {
      code: 'ARGS_TOO_LARGE',
      message: expect.any(String),
      details: [{ pointer: '/commands/1/action/args', message: expect.stringContaining('16384') }],
    },
  });
  expect(await documents()).toEqual(before);
});

it('args × fan-out over maxRequestWriteBytes: 422 REQUEST_WRITE_TOO_LARGE, no order, no record, no id taken', async () => {
  const last = await post({ commands: [setGroup(['z'])] });
  expect(last.status).toBe(201);
  const lastId = last.body.commands[0].request_id as number;
  const before = await documents();
  // ~6 KB of args to 300 agents: ~1.8 MB to write, against 1 MiB.
  const res = await post({ commands: [setGroup(names(120, 50))] });
  expect(res.status).toBe(422);
  expect(res.body.error.code).toBe('REQUEST_WRITE_TOO_LARGE');
  expect(res.body.error.details).toEqual([
    { pointer: '/commands/0/action/args', message: expect.stringContaining('300 order(s)') },
  ]);
  expect(await documents()).toEqual(before);
  // No request id was consumed: the next submission takes the id right after the last one handed out
  // before the refusal (one id per round trip with the allocator's default block size).
  const ok = await post({ commands: [setGroup(['a'])] });
  expect(ok.status).toBe(201);
  expect(ok.body.commands[0].request_id).toBe(lastId + 1);
});

it('maxFanOut bounds the whole submission: four 300-agent commands (1,200 orders) against 1,000: 422', async () => {
  const before = await documents();
  const res = await post({ commands: [setGroup(['a']), setGroup(['b']), setGroup(['c']), setGroup(['d'])] });
  expect(res.status).toBe(422);
  expect(res.body.error.code).toBe('FANOUT_EXCEEDED');
  expect(res.body.error.details).toEqual([
    { pointer: '/commands', message: expect.stringContaining('1200') },
  ]);
  expect(await documents()).toEqual(before);
});
