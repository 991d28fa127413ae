/**
 * Group commit: concurrent calls share one round trip. A call made while `maxInflight` batches are in flight
 * waits, and goes out with every call that arrived meanwhile as ONE batch (bounded by `maxWeight`). There is
 * no timer: a call on an idle store is sent at once, so batching adds no latency at low load and grows with
 * the load. Why it pays: every write request costs OpenSearch a translog fsync per shard it touches
 * (`index.translog.durability: request`, the default) and a write-pool task; 32 single-document requests
 * cost 32 of each, one bulk of 32 documents one.
 *
 * A call's items stay together in one batch, in order, and it gets back exactly the outcomes of its items.
 * If the batch fails as a whole, every call in it gets that error.
 */
export interface GroupCommitOptions<I> {
  /** Batches in flight at once (at least 1). */
  maxInflight: number;
  /** Most total weight in one batch; a single call heavier than this still goes, alone. */
  maxWeight: number;
  /** Weight of one item (default 1). */
  weight?: (item: I) => number;
}

interface Waiting<I, O> {
  items: readonly I[];
  weight: number;
  resolve: (outcomes: O[]) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<I, O> {
  private readonly queue: Array<Waiting<I, O>> = [];
  private inflight = 0;
  private readonly maxInflight: number;
  private readonly maxWeight: number;
  private readonly weight: (item: I) => number;

  /** `send` gets the items of every call of a batch and returns one outcome per item, in order. */
  constructor(
    private readonly send: (items: I[]) => Promise<O[]>,
    options: GroupCommitOptions<I>,
  ) {
    this.maxInflight = Math.max(1, Math.floor(options.maxInflight));
    this.maxWeight = Math.max(1, options.maxWeight);
    this.weight = options.weight ?? (() => 1);
  }

  /** Sends `items` in the next batch; resolves with their outcomes, in order. */
  run(items: readonly I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      const weight = items.reduce((sum, item) => sum + this.weight(item), 0);
      this.queue.push({ items, weight, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inflight < this.maxInflight && this.queue.length > 0) {
      const batch: Array<Waiting<I, O>> = [];
      let weight = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0] as Waiting<I, O>;
        if (batch.length > 0 && weight + next.weight > this.maxWeight) break;
        batch.push(next);
        weight += next.weight;
        this.queue.shift();
      }
      this.inflight++;
      void this.flush(batch);
    }
  }

  private async flush(batch: Array<Waiting<I, O>>): Promise<void> {
    const items = batch.flatMap((w) => w.items);
    try {
      const outcomes = await this.send(items);
      if (outcomes.length !== items.length) {
        throw new Error(`group commit: ${outcomes.length} outcomes for ${items.length} items`);
      }
      let at = 0;
      for (const w of batch) {
        w.resolve(outcomes.slice(at, at + w.items.length));
        at += w.items.length;
      }
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.inflight--;
      this.pump();
    }
  }
}
