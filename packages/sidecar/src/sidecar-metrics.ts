import { createHttpMetrics, createRegistryMetrics, type HttpMetrics } from '@command-manager/express';
import { schedulerMetricDefinitions, type SchedulerMetrics } from '@command-manager/scheduler';

/** Everything a sidecar's `/metrics` shows, on one registry of its own. */
export interface SidecarMetrics {
  /** HTTP requests, commands by source and action, and the process and runtime metrics. */
  http: HttpMetrics;
  /** The scheduler's metrics, registered on first call (a sidecar that dispatches nothing has none). */
  scheduler(): SchedulerMetrics;
}

/** `actions`: the action registry's names, each counted under its own label value (any other is `other`). */
export function createSidecarMetrics(actions: readonly string[]): SidecarMetrics {
  const http = createHttpMetrics({ collectProcessMetrics: true, actions });
  let scheduler: SchedulerMetrics | undefined;
  return {
    http,
    scheduler: () => (scheduler ??= createRegistryMetrics(http.registry, schedulerMetricDefinitions)),
  };
}
