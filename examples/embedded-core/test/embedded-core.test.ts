import { contentManager, runEmbeddedExample } from '../src';

describe('content manager embedding the core library', () => {
  it('writes one pending `update` order for vulnerability-detector, stamped with its principal', async () => {
    const { submitted, order } = await runEmbeddedExample('4200');

    expect(submitted).toEqual({
      index: 'wazuh-commands',
      commands: [{ request_id: 1, orders: 1, unresolved: [], write_state: 'complete' }],
    });
    expect(order.id).toBe('1-1');
    expect(order.order.command).toMatchObject({
      source: 'Content manager',
      user: 'content-manager',
      target: { type: 'server', id: 'vulnerability-detector' },
      action: { name: 'update', args: { index: 'wazuh-cve', offset: '4200' }, version: '5.0.0' },
      timeout: 100,
      status: 'pending',
      request_id: 1,
      order_id: 1,
    });
    expect(order.order.scheduling.principal).toBe(contentManager.name);
    // The deadline is @timestamp + timeout seconds.
    expect(Date.parse(order.order.delivery_timestamp) - Date.parse(order.order['@timestamp'])).toBe(100_000);
  });
});
