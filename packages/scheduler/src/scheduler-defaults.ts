/**
 * The default of every scheduler option, written once. The scheduler, the maintenance runner, the Management
 * API client, its circuit breaker and pull delivery fill unset options from here, and the sidecar's settings
 * table takes its defaults from here, so the library and the configured sidecar cannot disagree. The retry
 * policy's default is core's `defaultRetryPolicy`.
 */
const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export const SCHEDULER_DEFAULTS = Object.freeze({
  pollIntervalMs: 1000,
  batchSize: 500,
  concurrency: 4,
  leaseMs: 10_000,
  searchLagMs: 5000,
  searchLagMaxOrders: 200_000,
  shutdownTimeoutMs: 10_000,
  sweepIntervalMs: 5000,
  sweepBatchSize: 500,
  retentionMs: 7 * DAY_MS,
  retentionIntervalMs: 60 * MINUTE_MS,
  retentionMode: 'archive' as 'archive' | 'delete',
  retentionPageSize: 500,
  retentionLockTtlMs: 5 * MINUTE_MS,
  deliveryMaxBytes: 2 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  maxConnections: 16,
  breakerFailureThreshold: 5,
  breakerOpenMs: 30_000,
  maxClaimWaiters: 256,
});
