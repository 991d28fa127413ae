import { Client } from '@opensearch-project/opensearch';
import { readFileSync } from 'node:fs';
import { adminClientOptions, testIndexPrefix } from '@command-manager/test-support';

// Proves the harness: a real node answers, and the core features the product relies on behave as
// documented (templates, bulk, conditional writes with if_seq_no/if_primary_term, search).
describe('integration harness', () => {
  const prefix = testIndexPrefix(__filename);
  const index = `${prefix}orders`;
  let client: Client;

  beforeAll(() => {
    // As an administrator on a secured node: the harness reads the node's info, beyond the sidecar's role.
    const { node, auth, caFile } = adminClientOptions();
    client = new Client({
      node,
      ...(auth && { auth }),
      ...(caFile && { ssl: { ca: readFileSync(caFile) } }),
    });
  });

  afterAll(async () => {
    await client.indices.delete({ index: `${prefix}*` }, { ignore: [404] });
    await client.indices.deleteIndexTemplate({ name: `${prefix}template` }, { ignore: [404] });
    await client.close();
  });

  it('runs against a real OpenSearch 2.19 node', async () => {
    const { body } = await client.info();
    process.stderr.write(`[integration] OpenSearch ${body.version.number} (${body.version.distribution})\n`);
    expect(body.version.number).toMatch(/^2\.19\./);
  });

  it('applies a template, bulk-writes, updates conditionally, refuses a stale write and searches back', async () => {
    await client.indices.putIndexTemplate({
      name: `${prefix}template`,
      body: {
        index_patterns: [`${prefix}*`],
        template: {
          settings: { number_of_shards: 1, number_of_replicas: 0 },
          mappings: {
            dynamic: 'strict',
            properties: { status: { type: 'keyword' }, n: { type: 'integer' } },
          },
        },
      },
    });

    const bulk = await client.bulk({
      refresh: 'wait_for',
      body: [1, 2, 3].flatMap((n) => [
        { create: { _index: index, _id: `r-${n}` } },
        { status: 'pending', n },
      ]),
    });
    expect(bulk.body.errors).toBe(false);

    const mapping = await client.indices.getMapping({ index });
    expect(mapping.body[index]?.mappings.dynamic).toBe('strict');

    const read = await client.get({ index, id: 'r-2' });
    const seqNo = read.body._seq_no as number;
    const primaryTerm = read.body._primary_term as number;

    const ok = await client.index({
      index,
      id: 'r-2',
      if_seq_no: seqNo,
      if_primary_term: primaryTerm,
      refresh: 'wait_for',
      body: { status: 'sent', n: 2 },
    });
    expect(ok.statusCode).toBe(200);

    const stale = await client.index(
      { index, id: 'r-2', if_seq_no: seqNo, if_primary_term: primaryTerm, body: { status: 'failure', n: 2 } },
      { ignore: [409] },
    );
    expect(stale.statusCode).toBe(409);

    const found = await client.search({ index, body: { query: { term: { status: 'sent' } } } });
    const hits = found.body.hits.hits.map((h) => h._id);
    expect(hits).toEqual(['r-2']);

    const strict = await client.index({ index, id: 'x', body: { unknown: 1 } }, { ignore: [400] });
    expect(strict.statusCode).toBe(400);
  });
});
