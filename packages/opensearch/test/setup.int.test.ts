import { OpenSearchSetup } from '@command-manager/opensearch';
import { testIndices } from './helpers/test-indices';

const t = testIndices(__filename);
jest.setTimeout(60_000);

afterAll(async () => {
  await t.close();
});

type Mapping = {
  dynamic?: string;
  properties?: Record<string, { type?: string; properties?: Record<string, unknown> }>;
};

async function mappingOf(index: string): Promise<Mapping> {
  const res = await t.client.indices.getMapping({ index });
  return (res.body[index] as { mappings: Mapping }).mappings;
}

describe('OpenSearchSetup', () => {
  it('gives orders and archive indices created by an older mapping the fields added since', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const setup = new OpenSearchSetup({ client: t.client, ordersIndex, replicas: 0 });
    const archive = `${ordersIndex}-archive-2020.01`;
    const old = {
      dynamic: 'strict',
      properties: { scheduling: { properties: { principal: { type: 'keyword' } } } },
    };
    for (const index of [ordersIndex, archive])
      await t.client.indices.create({ index, body: { mappings: old } as Record<string, unknown> });
    await setup.init();
    for (const index of [ordersIndex, archive]) {
      const scheduling = (await mappingOf(index)).properties?.scheduling?.properties as Record<
        string,
        { type?: string }
      >;
      expect(scheduling.reported_by?.type).toBe('keyword');
    }
    await t.dropLayout(ordersIndex);
  });

  it('is idempotent and safe when several sidecars initialise at once', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const sidecars = Array.from(
      { length: 6 },
      () => new OpenSearchSetup({ client: t.client, ordersIndex, replicas: 0 }),
    );
    await Promise.all(sidecars.map((s) => s.init()));
    await sidecars[0]!.init();
    const layout = sidecars[0]!.layout;
    const exists = await t.client.indices.exists({ index: [layout.orders, layout.requests] });
    expect(exists.body).toBe(true);
    const orders = await mappingOf(layout.orders);
    expect(orders.dynamic).toBe('strict');
    const command = orders.properties?.command?.properties as Record<
      string,
      { type?: string; properties?: Record<string, { type?: string }> }
    >;
    expect(command.request_id?.type).toBe('long');
    expect(command.order_id?.type).toBe('integer');
    expect(command.timeout?.type).toBe('short');
    expect(command.action?.properties?.args?.type).toBe('flat_object');
    expect(Object.keys(orders.properties?.scheduling?.properties ?? {})).toEqual(
      expect.arrayContaining([
        'principal',
        'attempts',
        'next_attempt_at',
        'lease_owner',
        'lease_expires_at',
        'sent_at',
        'completed_at',
        'last_error',
      ]),
    );
    for (const name of Object.values(layout.templates)) {
      const template = await t.client.indices.getIndexTemplate({ name });
      expect(template.body.index_templates.map((x: { name: string }) => x.name)).toEqual([name]);
    }
    await t.dropLayout(ordersIndex);
  });

  it('applies shards and replicas', async () => {
    const ordersIndex = t.nextOrdersIndex();
    const setup = new OpenSearchSetup({ client: t.client, ordersIndex, shards: 2, replicas: 0 });
    await setup.init();
    const res = await t.client.indices.getSettings({ index: ordersIndex });
    const settings = (res.body[ordersIndex] as { settings: { index: Record<string, string> } }).settings
      .index;
    expect(settings.number_of_shards).toBe('2');
    expect(settings.number_of_replicas).toBe('0');
    await t.dropLayout(ordersIndex);
  });

  it('adds the scheduling object to an orders index created before it existed', async () => {
    const ordersIndex = t.nextOrdersIndex();
    await t.client.indices.create({
      index: ordersIndex,
      body: {
        settings: { number_of_replicas: 0 },
        mappings: { properties: { command: { properties: { status: { type: 'keyword' } } } } },
      },
    });
    await new OpenSearchSetup({ client: t.client, ordersIndex, replicas: 0 }).init();
    const mapping = await mappingOf(ordersIndex);
    expect(mapping.properties?.scheduling).toBeDefined();
    expect(mapping.properties?.command?.properties?.request_id).toEqual({ type: 'long' });
    await t.dropLayout(ordersIndex);
  });

  it('refuses an orders index whose mapping conflicts (e.g. request_id as keyword), naming the problem', async () => {
    const ordersIndex = t.nextOrdersIndex();
    await t.client.indices.create({
      index: ordersIndex,
      body: {
        settings: { number_of_replicas: 0 },
        mappings: { properties: { command: { properties: { request_id: { type: 'keyword' } } } } },
      },
    });
    await expect(
      new OpenSearchSetup({ client: t.client, ordersIndex, replicas: 0 }).init(),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('request_id'),
    });
    await t.dropLayout(ordersIndex);
  });
});
