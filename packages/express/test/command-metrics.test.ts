import { Registry } from 'prom-client';
import { OTHER_LABEL, commandLabelValues, createCommandMetrics } from '@command-manager/express';

describe('command metrics: label values from closed sets only', () => {
  const actions = new Set(['restart', 'update']);

  it('keeps known values (sources in their canonical case) and maps anything else to `other`', () => {
    expect(
      commandLabelValues(
        { source: 'content MANAGER', action: { name: 'update' }, target: { type: 'server' } },
        actions,
      ),
    ).toEqual({ source: 'Content manager', action: 'update', target_type: 'server' });
    expect(
      commandLabelValues({ source: 'Nope', action: { name: 'rm -rf' }, target: { type: 'x' } }, actions),
    ).toEqual({ source: OTHER_LABEL, action: OTHER_LABEL, target_type: OTHER_LABEL });
    expect(commandLabelValues(null, actions)).toEqual({
      source: OTHER_LABEL,
      action: OTHER_LABEL,
      target_type: OTHER_LABEL,
    });
  });

  it('a bare command counts as one; a thousand distinct action names add one series, `other`', async () => {
    const registry = new Registry();
    const metrics = createCommandMetrics(registry, { actions: ['restart'] });
    const command = (name: string) => ({
      source: 'Engine',
      action: { name, args: {} },
      target: { type: 'agent', id: '001' },
      timeout: 10,
    });
    const answer = { request_id: 1, orders: 1, unresolved: [], write_state: 'complete' as const };
    metrics.submitted(command('restart'), { index: 'i', commands: [answer] });
    const names = Array.from({ length: 1000 }, (_, i) => `action-${i}`);
    metrics.submitted({ commands: names.map(command) }, { index: 'i', commands: names.map(() => answer) });
    const text = await registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('command_manager_requests_submitted_total{'));
    expect(series).toEqual([
      'command_manager_requests_submitted_total{source="Engine",action="restart",target_type="agent"} 1',
      'command_manager_requests_submitted_total{source="Engine",action="other",target_type="agent"} 1000',
    ]);
  });

  it('counts result reports by outcome and status, and cancelled orders', async () => {
    const registry = new Registry();
    const metrics = createCommandMetrics(registry);
    metrics.resultsReported([
      { id: '1-1', outcome: 'applied', status: 'success' },
      { id: '1-2', outcome: 'applied', status: 'success' },
      { id: '1-3', outcome: 'unknown', message: 'no such order' },
    ]);
    metrics.ordersCancelled(4);
    metrics.ordersCancelled(0);
    const text = await registry.metrics();
    expect(text).toContain('command_manager_result_reports_total{outcome="applied",status="success"} 2');
    expect(text).toContain('command_manager_result_reports_total{outcome="unknown",status="none"} 1');
    expect(text).toContain('command_manager_orders_cancelled_total 4');
  });
});
