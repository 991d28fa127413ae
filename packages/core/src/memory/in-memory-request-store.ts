import { sameJson } from '../canonical-json';
import { CommandManagerError, ErrorCodes } from '../errors';
import type { RequestRecord } from '../model';
import type {
  IdempotencyEntry,
  IdempotencyReservation,
  OrderStore,
  RequestFilter,
  RequestListPage,
  RequestPosition,
  RequestStore,
  RequestWithOrders,
  RequestWithOrdersOutcome,
  RetentionBounds,
} from '../ports';
import { clone } from './internal/clone';

export interface InMemoryRequestStoreOptions {
  /** Where `createRequestsWithOrders` writes the orders (the order store the command service reads). */
  orders: OrderStore;
}

/**
 * The in-memory twin of the request records and idempotency keys. Same contract as the OpenSearch adapter
 * (`test/contract/request-store-contract.ts`): `createRequest` and `reserveIdempotency` are create-only,
 * so of concurrent callers exactly one wins; completing an unknown key is NOT_FOUND; a reservation older
 * than its TTL is taken over; `removeExpired` enforces retention; `createRequestsWithOrders` writes each
 * record create-only and its orders into the linked order store with `saveOrders`.
 */
export class InMemoryRequestStore implements RequestStore {
  private readonly requests = new Map<number, RequestRecord>();
  private readonly keys = new Map<string, IdempotencyEntry & { createdAt: number }>();
  private readonly orders: OrderStore;

  constructor(options: InMemoryRequestStoreOptions) {
    this.orders = options.orders;
  }

  async init(): Promise<void> {
    // Nothing to set up; idempotent by construction.
  }

  async createRequest(record: RequestRecord): Promise<boolean> {
    if (this.requests.has(record.request_id)) return false;
    this.requests.set(record.request_id, clone(record));
    return true;
  }

  async getRequest(requestId: number): Promise<RequestRecord | undefined> {
    const record = this.requests.get(requestId);
    return record && clone(record);
  }

  async listRequests(filter: RequestFilter, page: RequestListPage): Promise<RequestRecord[]> {
    const from = filter.from === undefined ? -Infinity : Date.parse(filter.from);
    const to = filter.to === undefined ? Infinity : Date.parse(filter.to);
    const { after } = page;
    return [...this.requests.values()]
      .filter((r) => {
        const at = Date.parse(r.created_at);
        return (
          (filter.source === undefined || r.command.source === filter.source) &&
          (filter.user === undefined || r.command.user === filter.user) &&
          (filter.action === undefined || r.command.action.name === filter.action) &&
          at >= from &&
          at < to &&
          (after === undefined || newestFirst(positionOf(r), after) > 0)
        );
      })
      .sort((a, b) => newestFirst(positionOf(a), positionOf(b)))
      .slice(0, Math.max(0, page.size))
      .map(clone);
  }

  async putRequest(record: RequestRecord): Promise<void> {
    this.requests.set(record.request_id, clone(record));
  }

  /**
   * Per entry: a record with this id that is this very record (an earlier attempt of the same write) counts
   * as created; ANOTHER record with this id makes the entry `exists` and none of its orders is written (so
   * none hangs off someone else's request); otherwise the record is created. The orders of a created record
   * are then saved (create-only, deterministic ids): a repeated call counts them `existing`.
   */
  async createRequestsWithOrders(entries: readonly RequestWithOrders[]): Promise<RequestWithOrdersOutcome[]> {
    const outcomes: RequestWithOrdersOutcome[] = [];
    for (const { record, orders } of entries) {
      const stored = this.requests.get(record.request_id);
      if (stored !== undefined && !sameJson(stored, record)) {
        outcomes.push({ record: 'exists', written: 0, existing: 0, failed: [] });
        continue;
      }
      if (stored === undefined) this.requests.set(record.request_id, clone(record));
      const saved =
        orders.length > 0 ? await this.orders.saveOrders(orders) : { written: 0, existing: 0, failed: [] };
      outcomes.push({ record: 'created', ...saved });
    }
    return outcomes;
  }

  async findStaleWrites(before: Date, limit: number): Promise<RequestRecord[]> {
    const beat = (r: RequestRecord): number => Date.parse(r.updated_at ?? r.created_at);
    return [...this.requests.values()]
      .filter((r) => r.write_state === 'writing' && beat(r) < before.getTime())
      .sort((a, b) => beat(a) - beat(b) || a.request_id - b.request_id)
      .slice(0, limit)
      .map(clone);
  }

  async reserveIdempotency(
    key: string,
    fingerprint: string,
    reservation?: IdempotencyReservation,
  ): Promise<IdempotencyEntry | undefined> {
    const now = (reservation?.now ?? new Date()).getTime();
    const seen = this.keys.get(key);
    const expired =
      seen !== undefined &&
      seen.response === undefined &&
      reservation !== undefined &&
      now - seen.createdAt > reservation.reservationTtlMs;
    if (seen && !expired) return entryOf(seen);
    this.keys.set(key, { fingerprint, createdAt: now });
    return undefined;
  }

  async completeIdempotency(key: string, response: unknown): Promise<void> {
    const entry = this.keys.get(key);
    if (!entry) {
      throw new CommandManagerError(ErrorCodes.NOT_FOUND, `Idempotency key was never reserved: ${key}`);
    }
    this.keys.set(key, { ...entry, response: clone(response) });
  }

  async releaseIdempotency(key: string): Promise<void> {
    if (this.keys.get(key)?.response === undefined) this.keys.delete(key);
  }

  async removeExpired(before: RetentionBounds, limit: number): Promise<number> {
    let removed = 0;
    let keys = 0;
    for (const [key, entry] of this.keys) {
      if (keys >= limit) break;
      if (entry.createdAt < before.idempotency.getTime()) {
        this.keys.delete(key);
        keys++;
      }
    }
    removed += keys;
    let records = 0;
    for (const [id, record] of this.requests) {
      if (records >= limit) break;
      if (record.write_state !== 'writing' && Date.parse(record.created_at) < before.requests.getTime()) {
        this.requests.delete(id);
        records++;
      }
    }
    return removed + records;
  }
}

function positionOf(r: RequestRecord): RequestPosition {
  return { createdAtMs: Date.parse(r.created_at), requestId: r.request_id };
}

/** Negative when `a` comes first in the newest-first order. */
function newestFirst(a: RequestPosition, b: RequestPosition): number {
  return b.createdAtMs - a.createdAtMs || b.requestId - a.requestId;
}

function entryOf(stored: IdempotencyEntry): IdempotencyEntry {
  const entry: IdempotencyEntry = { fingerprint: stored.fingerprint };
  if (stored.response !== undefined) entry.response = clone(stored.response);
  return entry;
}
