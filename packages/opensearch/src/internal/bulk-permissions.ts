/**
 * A bulk into an index the user may not write answers HTTP 200 with `errors: true` and a 401/403 item per
 * operation (the security plugin checks permissions per index, after the cluster-level `bulk`). Such an item
 * is never a retryable or "already exists" outcome: the whole call is a clear error that names the
 * operation and OpenSearch's reason, so that nothing is reported written that was refused.
 */
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import type { BulkItemResult } from './bulk';

export function assertBulkPermitted(items: readonly BulkItemResult[], operation: string): void {
  const refused = items.filter((item) => item.status === 401 || item.status === 403);
  if (refused.length === 0) return;
  const first = refused[0]!;
  const reason = `${first.errorType ?? `status ${first.status}`}${first.errorReason ? `: ${first.errorReason.slice(0, 300)}` : ''}`;
  throw new CommandManagerError(
    ErrorCodes.INTERNAL,
    `OpenSearch refused ${operation}: ${refused.length} of ${items.length} operations not permitted for this user (${reason})`,
  );
}
