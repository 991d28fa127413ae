/**
 * Metrics of the scheduler, behind a tiny interface so that this package never imports prom-client: the
 * sidecar binds `SchedulerMetrics` to its registry (one counter/gauge/histogram per entry of
 * `schedulerMetricDefinitions`), tests use `InMemorySchedulerMetrics`, and the default is `noopSchedulerMetrics`.
 */

export type MetricLabels = Readonly<Record<string, string>>;

export interface SchedulerMetrics {
  /** Adds `n` (default 1) to a counter. */
  inc(name: SchedulerMetricName, labels?: MetricLabels, n?: number): void;
  /** Sets a gauge. */
  set(name: SchedulerMetricName, value: number): void;
  /** Records one observation in a histogram. */
  observe(name: SchedulerMetricName, value: number): void;
}

/** Names of the metrics the scheduler emits (Prometheus conventions: `_total` counters, base units). */
export const SchedulerMetricNames = {
  /** Orders sent to `/accept_commands` (every attempt counts). */
  DISPATCHED: 'scheduler_orders_dispatched_total',
  /** Orders the Management API accepted (now `sent`). */
  ACCEPTED: 'scheduler_orders_accepted_total',
  /** Orders the Management API rejected, or failed by a non-retryable answer (label `reason`: `rejected` | `http_4xx`). */
  REJECTED: 'scheduler_orders_rejected_total',
  /** Delivery attempts that will be retried later. */
  RETRIED: 'scheduler_orders_retried_total',
  /** Orders failed by a deadline (label `kind`: `undelivered` | `no_result`). */
  EXPIRED: 'scheduler_orders_expired_total',
  /** Dispatch leases lost to another holder while the order was in flight. */
  LEASE_LOSSES: 'scheduler_lease_losses_total',
  /** Orders failed because their request's error budget was spent. */
  ROLLOUT_STOPPED: 'scheduler_orders_rollout_stopped_total',
  /** Terminal orders removed by retention (label `mode`: `archive` | `delete`). */
  RETAINED: 'scheduler_orders_retention_removed_total',
  /**
   * Deliveries stopped because the Management API refused the dispatcher itself (label `reason`: `auth` for
   * 401/403 after re-authentication, `not_found` for 404): the breaker opens and the orders stay pending.
   */
  DELIVERY_HALTED: 'scheduler_delivery_halted_total',
  /** Batches split in two because the Management API refused the batch as a whole (413, other 4xx). */
  BATCH_SPLITS: 'scheduler_batches_split_total',
  /** Circuit breaker to the Management API: 0 closed, 1 open, 2 half-open. */
  BREAKER_STATE: 'scheduler_breaker_state',
  /** Seconds from an order's `@timestamp` (submission) to its acceptance by the Management API. */
  SUBMIT_TO_ACCEPTED_SECONDS: 'scheduler_submit_to_accepted_seconds',
  /** Pull claims answered (label `result`: `orders` | `empty`). */
  PULL_CLAIMS: 'scheduler_pull_claims_total',
  /** Orders handed to pull consumers (leased to them). */
  PULL_ORDERS_CLAIMED: 'scheduler_pull_orders_claimed_total',
  /** Acknowledged orders by outcome (label `outcome`: `applied` | `not_yours` | `expired` | `unknown` | `conflict`). */
  PULL_ACKS: 'scheduler_pull_acks_total',
  /** Claims long-polling on this sidecar right now. */
  PULL_WAITERS: 'scheduler_pull_waiters',
  /** This sidecar's clock minus OpenSearch's, in seconds, at the last check (see `clock-skew.ts`). */
  CLOCK_SKEW_SECONDS: 'scheduler_clock_skew_seconds',
  /** 1 while the clock skew is beyond the bound (deadlines are then not enforced by this sidecar), else 0. */
  CLOCK_SKEW_EXCEEDED: 'scheduler_clock_skew_exceeded',
} as const;

export type SchedulerMetricName = (typeof SchedulerMetricNames)[keyof typeof SchedulerMetricNames];

export interface SchedulerMetricDefinition {
  name: SchedulerMetricName;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  labelNames: readonly string[];
  /** Histogram buckets (seconds). */
  buckets?: readonly number[];
}

/** Everything needed to register the metrics with prom-client (or anything else). */
export const schedulerMetricDefinitions: readonly SchedulerMetricDefinition[] = [
  {
    name: SchedulerMetricNames.DISPATCHED,
    type: 'counter',
    help: 'Orders sent to /accept_commands',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.ACCEPTED,
    type: 'counter',
    help: 'Orders accepted by the Management API',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.REJECTED,
    type: 'counter',
    help: 'Orders rejected by the Management API or failed by a non-retryable answer',
    labelNames: ['reason'],
  },
  {
    name: SchedulerMetricNames.RETRIED,
    type: 'counter',
    help: 'Delivery attempts scheduled for retry',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.EXPIRED,
    type: 'counter',
    help: 'Orders failed by their deadline',
    labelNames: ['kind'],
  },
  {
    name: SchedulerMetricNames.LEASE_LOSSES,
    type: 'counter',
    help: 'Dispatch leases lost while in flight',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.ROLLOUT_STOPPED,
    type: 'counter',
    help: 'Orders failed because their rollout error budget was spent',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.RETAINED,
    type: 'counter',
    help: 'Terminal orders removed by retention',
    labelNames: ['mode'],
  },
  {
    name: SchedulerMetricNames.DELIVERY_HALTED,
    type: 'counter',
    help: 'Deliveries stopped because the Management API refused the dispatcher (401/403/404); orders stay pending',
    labelNames: ['reason'],
  },
  {
    name: SchedulerMetricNames.BATCH_SPLITS,
    type: 'counter',
    help: 'Batches split in two after the Management API refused a whole batch (413 or another 4xx)',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.BREAKER_STATE,
    type: 'gauge',
    help: 'Management API circuit breaker: 0 closed, 1 open, 2 half-open',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.SUBMIT_TO_ACCEPTED_SECONDS,
    type: 'histogram',
    help: 'Seconds from submission (@timestamp) to acceptance by the Management API',
    labelNames: [],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  },
  {
    name: SchedulerMetricNames.PULL_CLAIMS,
    type: 'counter',
    help: 'Pull claims answered, with orders or empty',
    labelNames: ['result'],
  },
  {
    name: SchedulerMetricNames.PULL_ORDERS_CLAIMED,
    type: 'counter',
    help: 'Orders leased to pull consumers',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.PULL_ACKS,
    type: 'counter',
    help: 'Orders acknowledged by pull consumers, by outcome',
    labelNames: ['outcome'],
  },
  {
    name: SchedulerMetricNames.PULL_WAITERS,
    type: 'gauge',
    help: 'Pull claims long-polling on this sidecar',
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.CLOCK_SKEW_SECONDS,
    type: 'gauge',
    help: "This sidecar's clock minus OpenSearch's at the last check, in seconds",
    labelNames: [],
  },
  {
    name: SchedulerMetricNames.CLOCK_SKEW_EXCEEDED,
    type: 'gauge',
    help: '1 while the clock skew is beyond the bound and this sidecar enforces no deadline',
    labelNames: [],
  },
];

export const noopSchedulerMetrics: SchedulerMetrics = {
  inc: () => undefined,
  set: () => undefined,
  observe: () => undefined,
};

/** Keeps every value in memory, for tests. */
export class InMemorySchedulerMetrics implements SchedulerMetrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();
  private readonly observations = new Map<string, number[]>();

  inc(name: SchedulerMetricName, labels?: MetricLabels, n = 1): void {
    const key = counterKey(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  set(name: SchedulerMetricName, value: number): void {
    this.gauges.set(name, value);
  }

  observe(name: SchedulerMetricName, value: number): void {
    const list = this.observations.get(name) ?? [];
    list.push(value);
    this.observations.set(name, list);
  }

  /** A counter's value: with `labels`, that series only; without, the sum over all its series. */
  counter(name: SchedulerMetricName, labels?: MetricLabels): number {
    if (labels) return this.counters.get(counterKey(name, labels)) ?? 0;
    let sum = 0;
    for (const [key, v] of this.counters) if (key === name || key.startsWith(`${name}{`)) sum += v;
    return sum;
  }

  gauge(name: SchedulerMetricName): number | undefined {
    return this.gauges.get(name);
  }

  observed(name: SchedulerMetricName): readonly number[] {
    return this.observations.get(name) ?? [];
  }
}

function counterKey(name: string, labels?: MetricLabels): string {
  if (!labels || Object.keys(labels).length === 0) return name;
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}
