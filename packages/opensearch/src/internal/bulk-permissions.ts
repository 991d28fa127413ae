/**
 * A bulk into an index the user may not write answers HTTP 200 with `errors: true` and a 401/403 item per
 * operation (the security plugin checks permissions per index, after the cluster-level `bulk`). Such an item
 * is never a retryable or "already exists" outcome: the whole call is a clear error that names the
 * operation and OpenSearch's reason, so that nothing is reported written that was refused.
 */
import { CommandManagerError, ErrorCodes } from '@command-manager/core';

/** What is read of a bulk item here (bulk.ts's BulkItemResult has it). */
interface ItemStatus {
  status: number;
  errorType?: string;
  errorReason?: string;
}

export function assertBulkPermitted(items: readonly ItemStatus[], operation: string): void {
  const refused = items.filter((item) => item.status === 401 || item.status === 403);
  if (refused.length === 0) return;
  const first = refused[0]!;
  const reason = `${first.errorType ?? `status ${first.status}`}${first.errorReason ? `: ${first.errorReason.slice(0, 300)}` : ''}`;
  throw new CommandManagerError(
    ErrorCodes.INTERNAL,
    `OpenSearch refused ${operation}: ${refused.length} of ${items.length} operations not permitted for this user (${reason})`,
  );
}

/**
 * An `mget` the user may not run on an index answers HTTP 200 with an `error` per document (e.g. without
 * `indices:data/read/mget[shard]`): reading that as "no such document" would make every order look missing.
 * Any document error is an error of the whole call.
 */
export function assertDocsRead(docs: ReadonlyArray<{ error?: unknown }>, operation: string): void {
  const failed = docs.filter((doc) => doc.error !== undefined && doc.error !== null);
  if (failed.length === 0) return;
  const error = failed[0]!.error as { type?: unknown; reason?: unknown } | string;
  const reason =
    typeof error === 'string'
      ? error
      : `${typeof error.type === 'string' ? error.type : 'error'}${typeof error.reason === 'string' ? `: ${error.reason.slice(0, 300)}` : ''}`;
  throw new CommandManagerError(
    ErrorCodes.INTERNAL,
    `OpenSearch ${operation} failed for ${failed.length} of ${docs.length} documents (${reason})`,
  );
}
