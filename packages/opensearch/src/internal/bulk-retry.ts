/**
 * The adapter's one retry loop for `_bulk`: items refused as unavailable (429, full write queue, write block:
 * `isUnavailable`) were not applied, so they are resent, up to `retries` times, after `delayMs · 2^attempt`.
 * Every other item is the caller's to read (`settle`). A request that failed as a whole is thrown, unless
 * `retryRequest` says it may succeed later: then the same operations are resent, within the same retries.
 */
import type { BulkItemResult } from './bulk';
import { sleep } from './bulk';
import { isUnavailable } from './store-errors';

export interface BulkRetryOptions<T> {
  /** Resends after the first try. */
  retries: number;
  /** Wait before the first resend, doubled each time. */
  delayMs: number;
  /** Sends one bulk of `pending`; one result per operation, in order. */
  send(pending: readonly T[]): Promise<BulkItemResult[]>;
  /** Reads the result of an operation that is not resent. */
  settle(op: T, item: BulkItemResult): void;
  /** After each answer is settled (before any resend). */
  afterRound?(): Promise<void>;
  /** Before items refused as unavailable are resent (`attempt` counts from 1). */
  onResendItems?(attempt: number, count: number): void;
  /** Whether a failed request is resent whole (default: never); `onResendRequest` runs before it is. */
  retryRequest?(e: unknown): boolean;
  onResendRequest?(attempt: number, count: number): void;
}

export async function bulkWithRetries<T>(ops: readonly T[], how: BulkRetryOptions<T>): Promise<void> {
  let pending = ops;
  for (let attempt = 0; pending.length > 0; attempt++) {
    let items: BulkItemResult[];
    try {
      items = await how.send(pending);
    } catch (e) {
      if (attempt >= how.retries || how.retryRequest?.(e) !== true) throw e;
      how.onResendRequest?.(attempt + 1, pending.length);
      await sleep(how.delayMs * 2 ** attempt);
      continue;
    }
    const resend: T[] = [];
    items.forEach((item, i) => {
      const op = pending[i] as T;
      if (isUnavailable(item.status, item.errorType) && attempt < how.retries) resend.push(op);
      else how.settle(op, item);
    });
    await how.afterRound?.();
    if (resend.length === 0) return;
    how.onResendItems?.(attempt + 1, resend.length);
    await sleep(how.delayMs * 2 ** attempt);
    pending = resend;
  }
}
