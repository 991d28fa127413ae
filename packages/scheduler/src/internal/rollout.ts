import type { RequestRecord } from '@command-manager/core';

export interface RolloutLimits {
  maxConcurrency?: number;
  /** Failures allowed; one more stops the rollout. */
  errorBudget?: number;
  stopped: boolean;
}

/**
 * The error budget of a request: `max_errors` as a count (`5`, `"5"`) or a percentage of the request's
 * orders (`"10%"` of 200 orders = 20, rounded down). Undefined when unset or unreadable (no budget).
 */
export function errorBudget(maxErrors: number | string | undefined, totalOrders: number): number | undefined {
  if (maxErrors === undefined || maxErrors === null) return undefined;
  if (typeof maxErrors === 'number')
    return Number.isFinite(maxErrors) && maxErrors >= 0 ? Math.floor(maxErrors) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(maxErrors);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === '%' ? Math.floor((Math.max(0, totalOrders) * n) / 100) : Math.floor(n);
}

/** Rollout limits of a request record; undefined when the request has none (nothing to control). */
export function rolloutLimits(record: RequestRecord | undefined): RolloutLimits | undefined {
  if (!record) return undefined;
  const stopped = record.rollout_stopped_at != null;
  const mc = record.command.max_concurrency;
  const maxConcurrency =
    typeof mc === 'number' && Number.isFinite(mc) && mc >= 1 ? Math.floor(mc) : undefined;
  const budget = errorBudget(record.command.max_errors, record.total_orders);
  if (!stopped && maxConcurrency === undefined && budget === undefined) return undefined;
  const limits: RolloutLimits = { stopped };
  if (maxConcurrency !== undefined) limits.maxConcurrency = maxConcurrency;
  if (budget !== undefined) limits.errorBudget = budget;
  return limits;
}
