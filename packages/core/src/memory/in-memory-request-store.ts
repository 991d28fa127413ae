import { CommandManagerError, ErrorCodes } from '../errors';
import type { RequestRecord } from '../model';
import type {
  IdempotencyEntry,
  RequestFilter,
  RequestListPage,
  RequestPosition,
  RequestStore,
} from '../ports';
import { clone } from './internal/clone';

/**
 * The in-memory twin of the request records and idempotency keys. Same contract as the OpenSearch adapter
 * (`test/contract/request-store-contract.ts`): `createRequest` and `reserveIdempotency` are create-only,
 * so of concurrent callers exactly one wins; completing an unknown key is NOT_FOUND.
 */
export class InMemoryRequestStore implements RequestStore {
  private readonly requests = new Map<number, RequestRecord>();
  private readonly keys = new Map<string, IdempotencyEntry>();

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

  async findStaleWrites(before: Date, limit: number): Promise<RequestRecord[]> {
    const beat = (r: RequestRecord): number => Date.parse(r.updated_at ?? r.created_at);
    return [...this.requests.values()]
      .filter((r) => r.write_state === 'writing' && beat(r) < before.getTime())
      .sort((a, b) => beat(a) - beat(b) || a.request_id - b.request_id)
      .slice(0, limit)
      .map(clone);
  }

  async reserveIdempotency(key: string, fingerprint: string): Promise<IdempotencyEntry | undefined> {
    const seen = this.keys.get(key);
    if (seen) return clone(seen);
    this.keys.set(key, { fingerprint });
    return undefined;
  }

  async completeIdempotency(key: string, response: unknown): Promise<void> {
    const entry = this.keys.get(key);
    if (!entry) {
      throw new CommandManagerError(ErrorCodes.NOT_FOUND, `Idempotency key was never reserved: ${key}`);
    }
    this.keys.set(key, { fingerprint: entry.fingerprint, response: clone(response) });
  }
}

function positionOf(r: RequestRecord): RequestPosition {
  return { createdAtMs: Date.parse(r.created_at), requestId: r.request_id };
}

/** Negative when `a` comes first in the newest-first order. */
function newestFirst(a: RequestPosition, b: RequestPosition): number {
  return b.createdAtMs - a.createdAtMs || b.requestId - a.requestId;
}
