/**
 * Cluster-wide request ids from one counter document in the requests index, whose `_version` IS the id.
 *
 * Every `index` of a document makes the primary shard bump its `_version` by one under the document's lock
 * and return the new value; replicas apply the same version; an acknowledged write is on every in-sync copy,
 * so a promoted replica continues from it. Hence each allocation (one `index` of the counter, any sidecar)
 * gets a distinct version, and versions grow in the order the primary applied them: unique and strictly
 * increasing with one round trip and no retry loop, using only core features.
 *
 * Chosen over a counter advanced by conditional writes (`get` then `index` with `if_seq_no`): that one
 * needs two round trips per attempt and, under contention, every loser retries; with 1,000 concurrent
 * allocations it degrades to O(n²) requests (measured: see the report of issue 4 and
 * `test/request-id-allocator.int.test.ts`).
 *
 * `init()` also advances the counter to the highest request id already present in the orders index, its
 * archives and the request records (an `index` with `version_type: external` succeeds only when the given
 * version is greater than the current one): if the requests index is ever lost, ids resume above every id in
 * use instead of restarting at 1 and colliding with stored orders.
 */
import type { Logger, RequestIdAllocator } from '@command-manager/core';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { IndexSettingsOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { bulkOp, itemReason, sendBulk } from './internal/bulk';
import { noopLogger } from './internal/noop-logger';
import { guarded, responseErrorInfo, toStoreError } from './internal/store-errors';

export interface OpenSearchRequestIdAllocatorOptions extends IndexSettingsOptions {
  client: Client;
  /** Orders index (default `wazuh-commands`); the counter lives in `<orders>-requests`. */
  ordersIndex?: string;
  /** Counter name, for several independent sequences (default `request-id`). */
  counterName?: string;
  logger?: Logger;
}

/** Largest id `nextBlock` hands out at once. */
const MAX_BLOCK = 10_000;

export class OpenSearchRequestIdAllocator implements RequestIdAllocator {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;
  private readonly docId: string;
  private readonly logger: Logger;

  constructor(options: OpenSearchRequestIdAllocatorOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
    this.docId = `counter-${options.counterName ?? 'request-id'}`;
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-request-id-allocator' });
  }

  /** Sets up the requests index and advances the counter past every request id already stored. */
  async init(): Promise<void> {
    await this.setup.initRequests();
    const highest = await this.highestStoredId();
    if (highest > 0) await this.advanceTo(highest);
  }

  async next(): Promise<number> {
    const response = await guarded('allocate request id', () =>
      this.client.index({
        index: this.layout.requests,
        id: this.docId,
        body: { kind: 'counter' },
        refresh: false,
      }),
    );
    return toId(response.body._version);
  }

  /**
   * `n` ids in one round trip: a bulk of `n` `index` operations on the counter. They are unique and
   * increasing, but NOT necessarily consecutive (another allocator's operations may interleave).
   */
  async nextBlock(n: number): Promise<number[]> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_BLOCK) {
      throw new CommandManagerError(
        ErrorCodes.VALIDATION_FAILED,
        `block size must be an integer in 1..${MAX_BLOCK}`,
        {
          details: [{ pointer: '/n', message: `must be an integer in 1..${MAX_BLOCK}` }],
        },
      );
    }
    const op = bulkOp({ index: { _id: this.docId } }, { kind: 'counter' }).text;
    const items = await sendBulk(this.client, {
      index: this.layout.requests,
      body: op.repeat(n),
      refresh: false,
      operation: 'allocate request id block',
      count: n,
    });
    const failed = items.find(
      (item) => (item.status !== 200 && item.status !== 201) || item.version === undefined,
    );
    // Versions already consumed are simply skipped ids; nothing to undo.
    if (failed)
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        `request id allocation failed: ${itemReason(failed)}`,
        { retryAfterSec: 1 },
      );
    return items.map((item) => toId(item.version)).sort((a, b) => a - b);
  }

  /** Makes the next id greater than `id` (no-op when the counter is already there). */
  async advanceTo(id: number): Promise<void> {
    try {
      await this.client.index({
        index: this.layout.requests,
        id: this.docId,
        body: { kind: 'counter' },
        version: id,
        version_type: 'external',
        refresh: false,
      });
      this.logger.info('request id counter advanced', { to: id });
    } catch (e) {
      // 409: the counter is already at or beyond `id`.
      if (responseErrorInfo(e)?.status !== 409) throw toStoreError(e, 'advance request id counter');
    }
  }

  private async highestStoredId(): Promise<number> {
    const body: Record<string, unknown> = {
      size: 0,
      track_total_hits: false,
      aggs: {
        orders: { max: { field: 'command.request_id' } },
        requests: { max: { field: 'request.request_id' } },
      },
    };
    const response = await guarded('find highest request id', () =>
      this.client.search({
        index: [this.layout.orders, this.layout.archivePattern, this.layout.requests],
        ignore_unavailable: true,
        allow_no_indices: true,
        body,
      }),
    );
    const aggs = (response.body as { aggregations?: Record<string, { value?: number | null }> }).aggregations;
    return Math.max(0, aggs?.orders?.value ?? 0, aggs?.requests?.value ?? 0);
  }
}

function toId(version: unknown): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new CommandManagerError(ErrorCodes.INTERNAL, 'request id counter returned no usable version');
  }
  return version;
}
