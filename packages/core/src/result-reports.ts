/**
 * Result reports from agents (through the Management API), applied following the order lifecycle.
 */
import { CommandManagerError, ErrorCodes, isCommandManagerError } from './errors';
import type { ErrorDetail } from './errors';
import { applyResult } from './lifecycle';
import type { OrderStatus, ResultReport } from './model';
import { parseOrderDocumentId } from './model';
import type { Clock, ConditionalWrite, Logger, OrderStore } from './ports';
import { resultStorageProblem } from './result-bounds';
import type { Principal, ResultOutcome } from './service-types';
import { readOrders } from './internal/store-access';

/** Re-reads after a lost conditional write before an order is reported as conflicting. */
const MAX_WRITE_ATTEMPTS = 3;

export interface ResultReportsDeps {
  orders: OrderStore;
  clock: Clock;
  logger: Logger;
  /** Largest `result.data` as JSON (default `DEFAULT_MAX_RESULT_DATA_BYTES`, result-bounds.ts). */
  maxResultDataBytes?: number;
}

/**
 * Applies validated result reports following the lifecycle: unknown order → `unknown`; a transition the
 * lifecycle forbids (late or duplicate result) → `conflict` with the current status, not applied; otherwise
 * a conditional write, re-read and retried when another writer got there first. A second report for the
 * same id in one call is a `conflict` (the first one wins). A report the index cannot store (see
 * result-bounds.ts) is `invalid` (RESULT_NOT_STORABLE) and the others go on. A write the store refuses
 * is `error` for that report only; the call fails (STORE_UNAVAILABLE) only when nothing of it was applied,
 * so that a retry of the whole call is then safe. The reporting principal is stored on each order
 * (`scheduling.reported_by`). The writes force no refresh: progress counts catch up within the refresh
 * interval, while reads by id see them at once.
 */
export async function applyResultReports(
  deps: ResultReportsDeps,
  reports: readonly ResultReport[],
  principal: Principal,
): Promise<ResultOutcome[]> {
  const now = deps.clock.now();
  const outcomes: Array<ResultOutcome | undefined> = new Array<ResultOutcome | undefined>(reports.length);

  const firstIndex = new Map<string, number>();
  reports.forEach((r, i) => {
    const unstorable = resultStorageProblem(r.result, deps.maxResultDataBytes);
    if (!parseOrderDocumentId(r.id)) {
      outcomes[i] = { id: r.id, outcome: 'unknown', message: 'not an order id (<request_id>-<order_id>)' };
    } else if (unstorable !== undefined) {
      outcomes[i] = {
        id: r.id,
        outcome: 'invalid',
        message: unstorable,
        code: ErrorCodes.RESULT_NOT_STORABLE,
      };
    } else if (!firstIndex.has(r.id)) {
      firstIndex.set(r.id, i);
    }
  });

  let todo = [...firstIndex.values()];
  const storeErrors: ErrorDetail[] = [];
  for (let attempt = 1; todo.length > 0; attempt++) {
    const current = await readOrders(
      deps.orders,
      todo.map((i) => (reports[i] as ResultReport).id),
    );
    const writes: Array<{ index: number; write: ConditionalWrite; status: OrderStatus }> = [];
    for (const i of todo) {
      const report = reports[i] as ResultReport;
      const stored = current.get(report.id);
      if (!stored) {
        outcomes[i] = { id: report.id, outcome: 'unknown', message: 'no such order' };
        continue;
      }
      if (attempt > MAX_WRITE_ATTEMPTS) {
        outcomes[i] = conflictOutcome(
          report,
          stored.order.command.status,
          'the order kept changing; try again',
        );
        continue;
      }
      try {
        const order = applyResult(stored.order, report, now);
        order.scheduling.reported_by = principal.name;
        writes.push({ index: i, write: { id: stored.id, rev: stored.rev, order }, status: report.status });
      } catch (e) {
        if (!isCommandManagerError(e, ErrorCodes.INVALID_TRANSITION)) throw e;
        outcomes[i] = conflictOutcome(report, stored.order.command.status);
      }
    }
    const retry: number[] = [];
    const results =
      writes.length > 0
        ? await deps.orders.writeConditional(
            writes.map((w) => w.write),
            { searchable: false },
          )
        : [];
    results.forEach((res, k) => {
      const w = writes[k];
      if (!w) return;
      if (res.ok) outcomes[w.index] = { id: w.write.id, outcome: 'applied', status: w.status };
      else if (res.reason === 'conflict') retry.push(w.index);
      else if (res.reason === 'not_found')
        outcomes[w.index] = { id: w.write.id, outcome: 'unknown', message: 'no such order' };
      else {
        const message = res.message ?? 'the store refused the write';
        storeErrors.push({ pointer: `/results/${w.index}`, message });
        outcomes[w.index] = { id: w.write.id, outcome: 'error', message };
      }
    });
    todo = retry;
  }

  // Later reports for an id already handled in this call: the first one wins.
  reports.forEach((r, i) => {
    if (outcomes[i] !== undefined) return;
    const first = outcomes[firstIndex.get(r.id) ?? -1];
    if (first?.outcome === 'error') {
      outcomes[i] = { id: r.id, outcome: 'error', message: first.message };
      return;
    }
    const status =
      first && first.outcome !== 'unknown' && first.outcome !== 'invalid' ? first.status : undefined;
    outcomes[i] =
      status === undefined
        ? { id: r.id, outcome: 'unknown', message: 'no such order' }
        : conflictOutcome(r, status, 'duplicate report in the same call; the first one was used');
  });

  if (storeErrors.length > 0 && !outcomes.some((o) => o?.outcome === 'applied')) {
    // Nothing was applied: retrying the whole call is safe (and a report applied meanwhile by another
    // caller comes back as `conflict` with its status).
    throw new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'some results could not be written', {
      details: storeErrors,
      retryAfterSec: 1,
    });
  }
  const applied = outcomes.filter((o) => o?.outcome === 'applied').length;
  deps.logger.debug('results reported', { principal: principal.name, reports: reports.length, applied });
  return outcomes as ResultOutcome[];
}

function conflictOutcome(report: ResultReport, status: OrderStatus, message?: string): ResultOutcome {
  return {
    id: report.id,
    outcome: 'conflict',
    status,
    message:
      message ??
      `the order is ${status}; a ${report.status} result cannot be applied (late or duplicate result)`,
  };
}
