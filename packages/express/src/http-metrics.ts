import { Counter, Histogram, Registry } from 'prom-client';
import { createCommandMetrics, type CommandMetrics } from './command-metrics';
import { collectProcessMetrics } from './process-metrics';

/** Metrics of the HTTP adapter, on a Registry of its own (never prom-client's global one). */
export interface HttpMetrics {
  readonly registry: Registry;
  /** One finished HTTP request; `route` is the route pattern (bounded cardinality), never the raw path. */
  observeRequest(labels: { method: string; route: string; status: number }, durationSec: number): void;
  /** Orders written to the orders stream (wire to CommandService's `onOrdersWritten`). */
  ordersWritten(count: number): void;
  /** Requests, orders, result reports and cancels by source, action and outcome (command-metrics.ts). */
  readonly commands: CommandMetrics;
}

export interface HttpMetricsOptions {
  /** Registry to register into; a new one by default. */
  registry?: Registry;
  /** Also collect Node process and runtime metrics (memory, CPU, event loop lag, heap, GC …) into the registry. */
  collectProcessMetrics?: boolean;
  /** Action names counted under their own label value (the action registry's); default: the built-in actions. */
  actions?: readonly string[];
  /** Histogram buckets in seconds. */
  latencyBucketsSec?: number[];
}

export function createHttpMetrics(options: HttpMetricsOptions = {}): HttpMetrics {
  const registry = options.registry ?? new Registry();
  if (options.collectProcessMetrics) collectProcessMetrics(registry);
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: options.latencyBucketsSec ?? [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
    ],
    registers: [registry],
  });
  const orders = new Counter({
    name: 'command_manager_orders_written_total',
    help: 'Orders written to the orders stream',
    registers: [registry],
  });
  const commands = createCommandMetrics(registry, options.actions ? { actions: options.actions } : {});
  return {
    registry,
    commands,
    observeRequest({ method, route, status }, durationSec) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, durationSec);
    },
    ordersWritten(count) {
      if (count > 0) orders.inc(count);
    },
  };
}
