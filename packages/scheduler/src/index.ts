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
