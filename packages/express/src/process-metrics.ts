import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's gauges whose names end in `_total`, which Prometheus reserves for counters (`promtool check
 * metrics` reports them). Their values are the sums of `nodejs_active_handles`, `nodejs_active_requests` and
 * `nodejs_active_resources` (by `type`), which stay.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * The process and runtime metrics every Node exporter has (prom-client's defaults: `process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, `nodejs_heap_size_used_bytes`,
 * `nodejs_gc_duration_seconds` …), into `registry`, without the gauges named like counters.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}
