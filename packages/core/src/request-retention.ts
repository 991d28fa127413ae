/**
 * Retention of the request store: idempotency entries and request records are deleted once they are older
 * than their retention, page by page, apart from the hot path (the sidecar runs it on a timer). Safe to
 * run in several processes at once: a document deleted twice is simply gone.
 */
import { noopLogger } from './noop-logger';
import type { Clock, Logger, RequestStore } from './ports';
import { systemClock } from './ports';

export interface RequestRetentionOptions {
  requests: RequestStore;
  /** Idempotency entries are kept this long after their reservation (a retry after that is a new submission). */
  idempotencyRetentionMs: number;
  /** Request records are kept this long after their creation (never while still `writing`). */
  requestRetentionMs: number;
  /** Documents of each kind deleted per round trip (default 500). */
  pageSize?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Rounds of one run, at most: a run that finds more than this waits for the next tick. */
const MAX_ROUNDS = 20;

export class RequestRetention {
  private readonly requests: RequestStore;
  private readonly idempotencyRetentionMs: number;
  private readonly requestRetentionMs: number;
  private readonly pageSize: number;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: RequestRetentionOptions) {
    this.requests = options.requests;
    this.idempotencyRetentionMs = options.idempotencyRetentionMs;
    this.requestRetentionMs = options.requestRetentionMs;
    this.pageSize = options.pageSize ?? 500;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? noopLogger).child({ component: 'request-retention' });
  }

  /** Deletes what is past its retention; returns how many documents were deleted. */
  async run(): Promise<number> {
    const now = this.clock.now().getTime();
    const bounds = {
      idempotency: new Date(now - this.idempotencyRetentionMs),
      requests: new Date(now - this.requestRetentionMs),
    };
    let removed = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const n = await this.requests.removeExpired(bounds, this.pageSize);
      removed += n;
      if (n === 0) break;
    }
    if (removed > 0) this.logger.info('expired idempotency keys and request records removed', { removed });
    return removed;
  }
}
