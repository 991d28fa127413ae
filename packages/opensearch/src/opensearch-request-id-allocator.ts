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
 * allocations it degrades to O(n²) requests.
 *
 * `init()` also advances the counter to the highest request id already present in the orders index, its
 * archives and the request records (an `index` with `version_type: external` succeeds only when the given
 * version is greater than the current one): if the requests index is ever lost, ids resume above every id in
 * use instead of restarting at 1 and colliding with stored orders.
 *
 * The counter can also vanish while sidecars run (the requests index deleted by an operator or a bad
 * retention policy): the next `index` then CREATES the counter (status 201) at version 1. Every allocation
 * checks for that, and for an id not above the last one this allocator handed out (another sidecar
 * re-created the counter first): unless the ids are above every stored one, they are then dropped, the counter is advanced above the highest
 * request id stored (orders, archives, request records; the orders index refreshed first so that orders
 * written a moment ago count) and above this allocator's own last id, and the allocation is made again. A
 * sidecar that took ids from a re-created counter before any check could see it is caught at the write:
 * an order create that finds its id held by another request's order fails (ORDER_ID_TAKEN).
 *
 * `blockSize` (default 1) trades order for round trips. With 1, every id costs one round trip and ids are
 * strictly increasing cluster-wide, in the order the primary applied the allocations. With N > 1, the
 * allocator takes N ids at once (`nextBlock`, one bulk) and hands them out locally: ids stay unique
 * cluster-wide and strictly increasing within this allocator (every block is above every earlier one, and
 * ids are handed out in call order), but not across sidecars: a request submitted later to another sidecar
 * may get a smaller id. Ids left in the block when the process stops are never used (gaps are allowed).
 */
import type { Logger, RequestIdAllocator } from '@command-manager/core';
import { CommandManagerError, ErrorCodes, noopLogger } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { IndexSettingsOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { bulkOp, itemRefusal, sendBulk } from './internal/bulk';
import { GroupCommit } from './internal/group-commit';
import { guarded, responseErrorInfo, toStoreError, WHOLE_ANSWER } from './internal/store-errors';

export interface OpenSearchRequestIdAllocatorOptions extends IndexSettingsOptions {
  client: Client;
  /** Orders index (default `wazuh-commands`); the counter lives in `<orders>-requests`. */
  ordersIndex?: string;
  /** Counter name, for several independent sequences (default `request-id`). */
  counterName?: string;
  logger?: Logger;
  /**
   * Ids taken from the cluster counter at once and handed out locally (default 1: every id from the
   * counter). See the class comment for what a block size above 1 gives up. At most 10,000.
   */
  blockSize?: number;
  /** Allocation bulks in flight at once (default 1); calls made meanwhile share the next one. */
  maxInflightBulks?: number;
}

/** Largest id `nextBlock` hands out at once. */
const MAX_BLOCK = 10_000;

export class OpenSearchRequestIdAllocator implements RequestIdAllocator {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;
  private readonly docId: string;
  private readonly logger: Logger;
  private readonly blockSize: number;
  /** Ids taken from the counter and not handed out yet, ascending (blockSize > 1 only). */
  private readonly buffered: number[] = [];
  /** Serialises hand-outs, so that ids leave in call order and one refill serves the callers waiting. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The highest id this allocator handed out: an allocation at or below it means the counter was reset. */
  private highWater = 0;
  /** Concurrent allocations share one bulk on the counter: each call asks for a count, gets its ids. */
  private readonly grouped: GroupCommit<number, number[]>;

  constructor(options: OpenSearchRequestIdAllocatorOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
    this.docId = `counter-${options.counterName ?? 'request-id'}`;
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-request-id-allocator' });
    const blockSize = options.blockSize ?? 1;
    if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK) {
      throw new CommandManagerError(
        ErrorCodes.VALIDATION_FAILED,
        `blockSize must be an integer in 1..${MAX_BLOCK}`,
        { details: [{ pointer: '/blockSize', message: `must be an integer in 1..${MAX_BLOCK}` }] },
      );
    }
    this.blockSize = blockSize;
    this.grouped = new GroupCommit((counts) => this.fetchShared(counts), {
      maxInflight: options.maxInflightBulks ?? 1,
      maxWeight: MAX_BLOCK,
      weight: (n) => n,
    });
  }

  /** Sets up the requests index and advances the counter past every request id already stored. */
  async init(): Promise<void> {
    await this.setup.initRequests();
    const highest = await this.highestStoredId();
    if (highest > 0) await this.advanceTo(highest);
  }

  /**
   * One id. Calls made while an allocation is in flight share the next bulk on the counter (group commit):
   * still strictly increasing cluster-wide in real time, since a call that starts after another one
   * finished is served by a bulk that OpenSearch applies after the other's.
   */
  async next(): Promise<number> {
    return (await this.nextBlock(1))[0] as number;
  }

  /**
   * `n` ids in one round trip: a bulk of `n` `index` operations on the counter. They are unique and
   * increasing, but NOT necessarily consecutive (another allocator's operations may interleave). With a
   * `blockSize` above 1 they come from the local block (refilled with one such bulk when short).
   */
  async nextBlock(n: number): Promise<number[]> {
    checkBlock(n);
    if (this.blockSize > 1) return this.take(n);
    const [ids] = await this.grouped.run([n]);
    return ids as number[];
  }

  /** One bulk for every count of a group-commit batch; each gets its share, in batch order, ascending. */
  private async fetchShared(counts: number[]): Promise<number[][]> {
    const ids = await this.fetchBlock(counts.reduce((a, b) => a + b, 0));
    let at = 0;
    return counts.map((n) => ids.slice(at, (at += n)));
  }

  /** `n` ids from the local block, refilled from the counter when short (blockSize > 1). */
  private take(n: number): Promise<number[]> {
    const taken = this.queue.then(async () => {
      while (this.buffered.length < n) {
        // A refill is above every id handed out before: the counter only grows.
        this.buffered.push(...(await this.fetchBlock(Math.max(this.blockSize, n - this.buffered.length))));
      }
      return this.buffered.splice(0, n);
    });
    // A failed refill fails its caller only; the next caller tries again.
    this.queue = taken.catch(() => undefined);
    return taken;
  }

  private async fetchBlock(n: number): Promise<number[]> {
    const first = await this.indexCounter(n);
    if (!first.reset) return this.handOut(first.ids);
    // The counter document was missing (created by this allocation) or was re-created by another sidecar:
    // these ids may belong to stored requests. Resume above everything stored, then allocate again.
    const highest = Math.max(await this.highestStoredId({ refresh: true }), this.highWater);
    // A counter created on first use, with nothing stored yet: its ids are free.
    if ((first.ids[0] as number) > highest) return this.handOut(first.ids);
    this.logger.warn('request id counter was missing or reset; resuming above the highest stored id', {
      highest,
      dropped: first.ids.length,
    });
    await this.advanceTo(highest);
    const again = await this.indexCounter(n);
    if (again.ids.some((id) => id <= highest)) {
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        'the request id counter was reset while allocating; try again',
        { retryAfterSec: 1 },
      );
    }
    return this.handOut(again.ids);
  }

  private handOut(ids: number[]): number[] {
    this.highWater = Math.max(this.highWater, ...ids);
    return ids;
  }

  /**
   * `n` index operations on the counter; `reset` when one of them created the document (it did not exist)
   * or an id is not above this allocator's last one.
   */
  private async indexCounter(n: number): Promise<{ ids: number[]; reset: boolean }> {
    const op = bulkOp({ index: { _id: this.docId } }, { kind: 'counter' });
    const items = await sendBulk(this.client, {
      index: this.layout.requests,
      ops: Array.from({ length: n }, () => op),
      refresh: false,
      operation: 'allocate request id block',
    });
    const failed = items.find(
      (item) => (item.status !== 200 && item.status !== 201) || item.version === undefined,
    );
    // Versions already consumed are simply skipped ids; nothing to undo.
    if (failed)
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        `request id allocation failed: ${itemRefusal(failed)}`,
        { retryAfterSec: 1 },
      );
    const ids = items.map((item) => toId(item.version)).sort((a, b) => a - b);
    const created = items.some((item) => item.status === 201);
    return { ids, reset: created || (ids[0] as number) <= this.highWater };
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

  private async highestStoredId(options: { refresh?: boolean } = {}): Promise<number> {
    if (options.refresh) {
      await guarded('refresh before finding the highest request id', () =>
        this.client.indices.refresh({
          index: [this.layout.orders, this.layout.requests],
          ignore_unavailable: true,
          allow_no_indices: true,
        }),
      );
    }
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
        ...WHOLE_ANSWER,
        body,
      }),
    );
    const aggs = (response.body as { aggregations?: Record<string, { value?: number | null }> }).aggregations;
    return Math.max(0, aggs?.orders?.value ?? 0, aggs?.requests?.value ?? 0);
  }
}

function checkBlock(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_BLOCK) {
    throw new CommandManagerError(
      ErrorCodes.VALIDATION_FAILED,
      `block size must be an integer in 1..${MAX_BLOCK}`,
      {
        details: [{ pointer: '/n', message: `must be an integer in 1..${MAX_BLOCK}` }],
      },
    );
  }
}

function toId(version: unknown): number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new CommandManagerError(ErrorCodes.INTERNAL, 'request id counter returned no usable version');
  }
  return version;
}
