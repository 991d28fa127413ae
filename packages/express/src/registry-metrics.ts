import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** A metric to register: the shape the scheduler exports as `schedulerMetricDefinitions`. */
export interface MetricDefinition {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  labelNames: readonly string[];
  buckets?: readonly number[];
}

/**
 * The generic `inc/set/observe` interface other packages emit through (structurally the scheduler's
 * `SchedulerMetrics`), so that they never import prom-client.
 */
export interface RegistryMetrics {
  inc(name: string, labels?: Readonly<Record<string, string>>, n?: number): void;
  set(name: string, value: number): void;
  observe(name: string, value: number): void;
}

/**
 * Registers every definition in `registry` once and returns the `inc/set/observe` object that feeds them.
 * A name that was not defined, or a type mismatch, is ignored (a metric must never break the caller),
 * and reported once through `onUnknown`.
 */
export function createRegistryMetrics(
  registry: Registry,
  definitions: readonly MetricDefinition[],
  onUnknown?: (name: string, reason: string) => void,
): RegistryMetrics {
  const counters = new Map<string, Counter<string>>();
  const gauges = new Map<string, Gauge<string>>();
  const histograms = new Map<string, Histogram<string>>();
  for (const d of definitions) {
    const common = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [registry] };
    if (d.type === 'counter') counters.set(d.name, new Counter(common));
    else if (d.type === 'gauge') gauges.set(d.name, new Gauge(common));
    else
      histograms.set(d.name, new Histogram({ ...common, ...(d.buckets ? { buckets: [...d.buckets] } : {}) }));
  }
  const reported = new Set<string>();
  const unknown = (name: string, reason: string): void => {
    if (reported.has(name)) return;
    reported.add(name);
    onUnknown?.(name, reason);
  };
  return {
    inc(name, labels, n = 1) {
      const c = counters.get(name);
      if (!c) return unknown(name, 'not a defined counter');
      try {
        if (labels && Object.keys(labels).length > 0) c.inc(labels, n);
        else c.inc(n);
      } catch (e) {
        unknown(name, e instanceof Error ? e.message : 'invalid labels');
      }
    },
    set(name, value) {
      const g = gauges.get(name);
      if (!g) return unknown(name, 'not a defined gauge');
      g.set(value);
    },
    observe(name, value) {
      const h = histograms.get(name);
      if (!h) return unknown(name, 'not a defined histogram');
      h.observe(value);
    },
  };
}
