import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { ActionRegistry } from '@command-manager/core';
import { schedulerMetricDefinitions } from '@command-manager/scheduler';
import { promtoolCheckMetrics, promtoolMissing } from '@command-manager/test-support';
import { basic, bearer, buildApp, inMemoryWorld, TOKENS } from '../../express/test/support/fixtures';
import { createSidecarMetrics } from '../src/sidecar-metrics';

// The sidecar's /metrics as its composition root builds it (HTTP, commands, scheduler, process and runtime),
// served by the real app after real traffic: what Prometheus scrapes, checked by Prometheus's own linter, and
// every metric the example Grafana dashboard (docker/grafana-dashboard.json) queries is in it.

const API = '/_plugins/_command_manager';
const DASHBOARD = path.resolve(__dirname, '../../../docker/grafana-dashboard.json');
const README = path.resolve(__dirname, '../../../README.md');

/** A sidecar's app over the in-memory stores (agents 001..003 in group `Test`), after some traffic. */
async function scrapedMetrics(): Promise<string> {
  const registry = ActionRegistry.withDefaults({ permissive: true });
  const { service } = inMemoryWorld({ agents: 3, registry });
  const metrics = createSidecarMetrics(registry.names());
  const scheduler = metrics.scheduler();
  const { app } = await buildApp(service, { metrics: metrics.http });
  const command = (source: string, action: string, target: { type: string; id: string }) => ({
    source,
    user: 'admin',
    target,
    action: { name: action, args: {} },
    timeout: 60,
  });
  const submitted = await request(app)
    .post(`${API}/commands`)
    .set('Authorization', basic('admin'))
    .send({
      commands: [
        command('Users/Services', 'restart', { type: 'group', id: 'Test' }),
        command('engine', 'restart', { type: 'agent', id: '001' }),
        // A permissive registry accepts any action: it is counted as `other`, never as a new label value.
        command('Users/Services', 'made-up-action-7f3a', { type: 'agent', id: '002' }),
      ],
    });
  expect(submitted.status).toBe(201);
  const [first] = submitted.body.commands as Array<{ request_id: number }>;
  await request(app)
    .post(`${API}/requests/${first?.request_id}/cancel`)
    .set('Authorization', basic('admin'))
    .expect(200);
  await request(app)
    .post(`${API}/results`)
    .set('Authorization', bearer(TOKENS.comms))
    .send({
      results: [{ id: `${first?.request_id}-1`, status: 'success', result: { code: 0, message: 'ok' } }],
    })
    .expect(200);
  // Every scheduler metric with a sample, as a dispatching sidecar has them.
  for (const d of schedulerMetricDefinitions) {
    const labels = Object.fromEntries(d.labelNames.map((l) => [l, 'x']));
    if (d.type === 'counter') scheduler.inc(d.name, labels);
    else if (d.type === 'gauge') scheduler.set(d.name, 1);
    else scheduler.observe(d.name, 0.2);
  }
  const res = await request(app).get('/metrics').set('Authorization', basic('admin'));
  expect(res.status).toBe(200);
  return res.text;
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or variables. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'bool', 'offset']);
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)) {
    const name = m[1] as string;
    if (!keywords.has(name)) names.add(name);
  }
  return [...names];
}

interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; query?: { query: string } | string }> };
}

/** Every PromQL query of the dashboard: the panels' targets and the template variables' queries. */
function dashboardQueries(dashboard: Dashboard): string[] {
  const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = dashboard.templating.list.flatMap((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const labelValues = q?.match(/^label_values\(([^,]+),/);
    return labelValues ? [labelValues[1] as string] : [];
  });
  return [...panels, ...variables];
}

/** The names a scrape exposes: each `# TYPE` name, and a histogram's `_bucket`, `_sum` and `_count`. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram' || type === 'summary')
      for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe("the sidecar's /metrics", () => {
  let text: string;
  beforeAll(async () => {
    text = await scrapedMetrics();
  });

  it('has the process and runtime metrics, and counts commands by bounded source, action and target type', () => {
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).not.toContain('nodejs_active_handles_total');
    expect(text).toContain(
      'command_manager_requests_submitted_total{source="Users/Services",action="restart",target_type="group"} 1',
    );
    // `engine` in any case is the schema's `Engine`.
    expect(text).toContain(
      'command_manager_requests_submitted_total{source="Engine",action="restart",target_type="agent"} 1',
    );
    expect(text).toContain(
      'command_manager_requests_submitted_total{source="Users/Services",action="other",target_type="agent"} 1',
    );
    expect(text).not.toContain('made-up-action-7f3a');
    expect(text).toContain(
      'command_manager_orders_submitted_total{source="Users/Services",action="restart",target_type="group"} 3',
    );
    expect(text).toContain('command_manager_orders_written_total 5');
    // A result for a cancelled order is a conflict, labelled with the status it found.
    expect(text).toContain('command_manager_result_reports_total{outcome="conflict",status="failure"} 1');
    expect(text).toContain('command_manager_orders_cancelled_total 3');
    // No request or order id is ever a label value.
    expect(text).not.toMatch(/request_id=|order_id=|\{[^}]*"\d+-\d+"/);
  });

  it('passes `promtool check metrics`', async () => {
    const missing = promtoolMissing();
    if (missing !== undefined) {
      process.stdout.write(`SKIPPED promtool check: ${missing}\n`);
      return;
    }
    expect(await promtoolCheckMetrics(text)).toEqual([]);
    // The check is real: a gauge named like a counter is reported.
    expect(await promtoolCheckMetrics('# HELP x_total x\n# TYPE x_total gauge\nx_total 1\n')).not.toEqual([]);
  });

  it('has every metric the example Grafana dashboard queries', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queried = new Set(dashboardQueries(dashboard).flatMap(metricNamesIn));
    // The extraction finds names in each part of the dashboard (commands, delivery, HTTP, process).
    for (const name of [
      'command_manager_requests_submitted_total',
      'scheduler_submit_to_accepted_seconds_bucket',
      'http_requests_total',
      'process_resident_memory_bytes',
    ]) {
      expect(queried).toContain(name);
    }
    const exposed = exposedNames(text);
    expect([...queried].filter((name) => !exposed.has(name))).toEqual([]);
    const empty = dashboard.panels.filter((p) => p.type !== 'row' && (p.targets ?? []).length === 0);
    expect(empty.map((p) => p.title)).toEqual([]);
  });

  it("is documented metric by metric in the README's Metrics section", () => {
    const readme = readFileSync(README, 'utf8');
    const start = readme.indexOf('\n### Metrics\n');
    expect(start).toBeGreaterThan(0);
    const section = readme.slice(start, readme.indexOf('\n## ', start));
    // Names in backticks, `a_{b,c}_d` written for `a_b_d` and `a_c_d`.
    const documented = new Set(
      [...section.matchAll(/`([a-z0-9_{},]+)`/g)].flatMap((m) => {
        const name = m[1] as string;
        const braces = name.match(/^(.*)\{([^}]*)\}(.*)$/);
        return braces ? (braces[2] as string).split(',').map((v) => `${braces[1]}${v}${braces[3]}`) : [name];
      }),
    );
    const exposed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string);
    expect(exposed.length).toBeGreaterThan(40);
    expect(exposed.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(metricNamesIn('sum(a_total{x="y"}) / on(instance) b + c offset 5m')).toEqual([
      'a_total',
      'b',
      'c',
    ]);
  });
});
