/**
 * Sorts the orders a `create` found already stored (409) into repeated writes of the same order
 * (`existing`) and ids held by ANOTHER request's order (`taken`: the request id was handed out twice). The
 * stored orders are read by id (real-time GET), so the check holds right after the conflicting write.
 */
import type { Order, StoredOrder } from '@command-manager/core';
import { isSameOrder } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import { guarded } from './store-errors';

export interface CreateConflicts {
  existing: number;
  /** Ids whose stored order is another request's (or vanished since the conflict). */
  taken: string[];
}

export async function sortCreateConflicts(
  conflicts: ReadonlyArray<{ id: string; order: Order }>,
  getOrders: (ids: readonly string[]) => Promise<StoredOrder[]>,
): Promise<CreateConflicts> {
  if (conflicts.length === 0) return { existing: 0, taken: [] };
  const stored = new Map((await getOrders(conflicts.map((c) => c.id))).map((s) => [s.id, s.order]));
  let existing = 0;
  const taken: string[] = [];
  for (const { id, order } of conflicts) {
    const found = stored.get(id);
    if (found !== undefined && isSameOrder(found, order)) existing++;
    else taken.push(id);
  }
  return { existing, taken };
}

/** Orders by id (real-time mget), for `sortCreateConflicts` where no order store is at hand. */
export async function readOrders(
  client: Client,
  index: string,
  ids: readonly string[],
): Promise<StoredOrder[]> {
  if (ids.length === 0) return [];
  const response = await guarded('read orders whose id was taken', () =>
    client.mget({ index, body: { ids: [...ids] } }),
  );
  const docs = (response.body as { docs: Array<{ _id: string; found?: boolean; _source?: Order }> }).docs;
  return docs
    .filter((d) => d.found === true && d._source !== undefined)
    .map((d) => ({ id: d._id, rev: '', order: d._source as Order }));
}
