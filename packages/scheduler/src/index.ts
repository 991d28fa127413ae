/**
 * The scheduler package: what happens to an order between its submission and its verdict.
 * - `scheduler.ts`: dispatch. Takes due orders of the partitions it holds, applies rollout control
 *   (`max_concurrency`, `max_errors`; the rules in `internal/rollout.ts`), delivers them in batches and
 *   records the verdicts; `held-orders.ts` keeps it from taking an order twice.
 * - `partition-leases.ts`: shares the partitions of the orders stream between sidecars (lease documents
 *   with a renewal counter, judged on each observer's monotonic clock; stealing towards a fair share).
 * - `maintenance-runner.ts`: maintenance apart from dispatch: the deadline sweep, order and request
 *   retention, and the stale-write check, each on its own timer.
 * - `order-delivery.ts`: the delivery port; `management-api-client.ts` (push to `/accept_commands`, behind a
 *   `circuit-breaker.ts`, in byte-bounded calls by `bounded-delivery.ts`) and `pull-delivery.ts` (servers
 *   claim and acknowledge) implement the two ways orders leave.
 * - `membership-poller.ts`: orders for agents that join live groups (run by the maintenance runner).
 * - `agent-presence.ts`: whether agents are online (the agents index's `agent.status`), for the sweep.
 * - `clock-skew.ts`: compares this clock with the indexer's; beyond a bound deadlines are not enforced here.
 * - `scheduler-defaults.ts`: every option's default, which the sidecar's settings table also uses.
 * - `scheduler-metrics.ts`: the metrics, behind an interface the sidecar binds to its registry.
 */
export { Scheduler } from './scheduler';
export type { SchedulerDeps, WakeHint, SchedulerOptions, DispatchSummary } from './scheduler';
export { SCHEDULER_DEFAULTS } from './scheduler-defaults';
export {
  MaintenanceRunner,
  RETENTION_LOCK,
  EXPIRED_UNDELIVERED_MESSAGE,
  NO_RESULT_IN_TIME_MESSAGE,
} from './maintenance-runner';
export type {
  MaintenanceDeps,
  MaintenanceOptions,
  SweepSummary,
  RetentionSummary,
} from './maintenance-runner';
export { ManagementApiClient, parseAcceptAnswer, parseRetryAfter } from './management-api-client';
export type {
  ManagementApiAuth,
  ManagementApiTls,
  ManagementApiClientOptions,
} from './management-api-client';
export { toAcceptCommandsOrder } from './order-delivery';
export type { OrderDelivery, OrderVerdict, DeliverOptions, AcceptCommandsOrder } from './order-delivery';
export { CircuitBreaker, BREAKER_STATE_VALUE } from './circuit-breaker';
export type { BreakerState, CircuitBreakerOptions } from './circuit-breaker';
export {
  SchedulerMetricNames,
  schedulerMetricDefinitions,
  noopSchedulerMetrics,
  InMemorySchedulerMetrics,
} from './scheduler-metrics';
export type {
  SchedulerMetrics,
  SchedulerMetricName,
  SchedulerMetricDefinition,
  MetricLabels,
} from './scheduler-metrics';
export { errorBudget } from './internal/rollout';
export { PullDelivery, consumerLeaseOwner } from './pull-delivery';
export type { PullDeliveryDeps, PullDeliveryOptions, ConsumerAdmission } from './pull-delivery';
export {
  PartitionLeaseManager,
  PARTITION_LEASE_DEFAULTS,
  allPartitions,
  systemMonotonicClock,
} from './partition-leases';
export type {
  PartitionOwnership,
  MonotonicClock,
  PartitionLeaseDeps,
  PartitionLeaseOptions,
  LeaseRoundSummary,
} from './partition-leases';
export { ClockSkewGuard, CLOCK_SKEW_DEFAULTS } from './clock-skew';
export type { ClockSkewDeps, ClockSkewOptions, ServerTimeSource } from './clock-skew';
export { AgentDirectoryPresence } from './agent-presence';
export type { AgentPresenceSource } from './agent-presence';
export { MembershipPoller, MEMBERSHIP_DEFAULTS, MEMBERSHIP_LOCK } from './membership-poller';
export type {
  MembershipPollerDeps,
  MembershipPollerOptions,
  MembershipRoundSummary,
} from './membership-poller';
