import { Registry } from 'prom-client';
import { createHttpMetrics, createRegistryMetrics } from '@command-manager/express';

describe('createRegistryMetrics (the scheduler’s inc/set/observe into the app’s registry)', () => {
  it('feeds counters, gauges and histograms registered in the same registry as the HTTP metrics', async () => {
    const http = createHttpMetrics();
    const unknown: string[] = [];
    const m = createRegistryMetrics(
      http.registry,
      [
        { name: 'scheduler_orders_dispatched_total', type: 'counter', help: 'd', labelNames: [] },
        { name: 'scheduler_orders_rejected_total', type: 'counter', help: 'r', labelNames: ['reason'] },
        { name: 'scheduler_breaker_state', type: 'gauge', help: 'b', labelNames: [] },
        {
          name: 'scheduler_submit_to_accepted_seconds',
          type: 'histogram',
          help: 's',
          labelNames: [],
          buckets: [0.1, 1],
        },
      ],
      (name) => unknown.push(name),
    );
    m.inc('scheduler_orders_dispatched_total', undefined, 5);
    m.inc('scheduler_orders_rejected_total', { reason: 'rejected' });
    m.inc('scheduler_orders_rejected_total', { wrong: 'label' });
    m.set('scheduler_breaker_state', 1);
    m.observe('scheduler_submit_to_accepted_seconds', 0.5);
    m.inc('not_defined_total');
    http.ordersWritten(3);
    const text = await http.registry.metrics();
    expect(text).toContain('scheduler_orders_dispatched_total 5');
    expect(text).toContain('scheduler_orders_rejected_total{reason="rejected"} 1');
    expect(text).toContain('scheduler_breaker_state 1');
    expect(text).toContain('scheduler_submit_to_accepted_seconds_bucket{le="1"} 1');
    expect(text).toContain('command_manager_orders_written_total 3');
    expect(unknown.sort()).toEqual(['not_defined_total', 'scheduler_orders_rejected_total']);
  });

  it('never touches prom-client’s global registry', async () => {
    const { register } = await import('prom-client');
    createHttpMetrics();
    createRegistryMetrics(new Registry(), [{ name: 'x_total', type: 'counter', help: 'x', labelNames: [] }]);
    expect(await register.metrics()).not.toContain('http_requests_total');
  });
});
