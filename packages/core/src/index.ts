/**
 * `@command-manager/core`: the command manager without a datastore or HTTP.
 *
 * - The model and its rules: model.ts (orders, requests, statuses), schemas.ts and validation.ts (bodies),
 *   action-registry.ts, lifecycle.ts (legal transitions) with claim-rule.ts beside it (when an order may be
 *   claimed, `hasLiveLease`) and deadline-rule.ts (what happens past a deadline: the delivery window), retry-policy.ts, expansion.ts (group → orders, paged), write-bounds.ts and
 *   result-bounds.ts (what a submission or a result may write) with flat-object-leaves.ts (what one value of
 *   `args` or `result.data` may hold), canonical-json.ts (the one JSON comparison).
 * - Ports (ports.ts): every method production uses is required; the in-memory twins (memory/) implement
 *   all of them, and one contract suite (test/contract) runs against them and the OpenSearch adapter.
 * - The service: command-service.ts is a thin facade over one module per concern: authorisation.ts,
 *   idempotency.ts, submission-writer.ts (plan, allocate ids, write records and orders), submission-plan.ts
 *   with plan-token.ts (dry runs and the plan a send is held to), eligibility.ts, stale-writes.ts,
 *   request-progress.ts, request-history.ts (listing), result-reports.ts and cancel-request.ts.
 *   fail-pending-orders.ts fails a request's pending orders: cancel and the scheduler's rollout stop both
 *   run it. request-retention.ts removes expired records and keys. live-membership.ts: the port and rules of
 *   live group commands (joiners get an order, never two).
 */
export * from './model';
export * from './ports';
export * from './errors';
export * from './service-types';
export * from './lifecycle';
export * from './claim-rule';
export * from './deadline-rule';
export * from './partitions';
export * from './canonical-json';
export * from './retry-policy';
export * from './memory';
export * from './schemas';
export * from './validation';
export * from './action-registry';
export * from './expansion';
export * from './in-process-id-allocator';
export * from './noop-logger';
export * from './command-service';
export * from './pull-schemas';
export * from './pull-types';
export * from './pull-validation';
export * from './wazuh-bodies';
export * from './request-history';
export * from './page-cursor';
export * from './fail-pending-orders';
export * from './request-retention';
export * from './order-identity';
export * from './result-bounds';
export { applyResultReports } from './result-reports';
export type { ResultReportsDeps } from './result-reports';
export * from './write-bounds';
export * from './eligibility';
export * from './submission-plan';
export { maxPlanTokenLength } from './plan-token';
export * from './audit';
export * from './live-membership';
