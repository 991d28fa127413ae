/**
 * Request records and idempotency keys in `<orders>-requests` (layout: internal/mappings.ts). Records are
 * read by id with real-time GET, so no refresh is needed for read-after-write. `createRequest` and
 * `reserveIdempotency` use `create`: of concurrent callers exactly one gets 201, the others 409.
 */
import { createHash } from 'node:crypto';
import type { IdempotencyEntry, RequestRecord, RequestStore } from '@command-manager/core';
import { CommandManagerError, ErrorCodes } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { OpenSearchSetupOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { guarded, responseErrorInfo, toStoreError } from './internal/store-errors';

export type OpenSearchRequestStoreOptions = OpenSearchSetupOptions;

interface IdempotencySource {
  kind: 'idempotency';
  idempotency: {
    key: string;
    fingerprint: string;
    response_json?: string;
    created_at: string;
    completed_at?: string;
  };
}

export class OpenSearchRequestStore implements RequestStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;

  constructor(options: OpenSearchRequestStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
  }

  async init(): Promise<void> {
    await this.setup.initRequests();
  }

  async createRequest(record: RequestRecord): Promise<boolean> {
    try {
      await this.client.create({
        index: this.layout.requests,
        id: requestDocId(record.request_id),
        body: { kind: 'request', request: record },
      });
      return true;
    } catch (e) {
      if (responseErrorInfo(e)?.status === 409) return false;
      throw toStoreError(e, 'create request record');
    }
  }

  async getRequest(requestId: number): Promise<RequestRecord | undefined> {
    const response = await guarded('get request record', () =>
      this.client.get({ index: this.layout.requests, id: requestDocId(requestId) }, { ignore: [404] }),
    );
    const body = response.body as { found?: boolean; _source?: { request?: RequestRecord } };
    return body.found ? body._source?.request : undefined;
  }

  async putRequest(record: RequestRecord): Promise<void> {
    await guarded('put request record', () =>
      this.client.index({
        index: this.layout.requests,
        id: requestDocId(record.request_id),
        body: { kind: 'request', request: record },
      }),
    );
  }

  async reserveIdempotency(key: string, fingerprint: string): Promise<IdempotencyEntry | undefined> {
    const source: IdempotencySource = {
      kind: 'idempotency',
      idempotency: { key, fingerprint, created_at: new Date().toISOString() },
    };
    try {
      await this.client.create({ index: this.layout.requests, id: idempotencyDocId(key), body: source });
      return undefined;
    } catch (e) {
      if (responseErrorInfo(e)?.status !== 409) throw toStoreError(e, 'reserve idempotency key');
    }
    const seen = await this.getIdempotency(key);
    if (!seen) {
      // Created by someone else a moment ago yet gone now: entries are never deleted by this store, so
      // only an operator could have; report it rather than loop.
      throw new CommandManagerError(
        ErrorCodes.STORE_UNAVAILABLE,
        'idempotency entry vanished while being read',
        { retryAfterSec: 1 },
      );
    }
    const entry: IdempotencyEntry = { fingerprint: seen._source.idempotency.fingerprint };
    const json = seen._source.idempotency.response_json;
    if (json !== undefined) entry.response = JSON.parse(json) as unknown;
    return entry;
  }

  async completeIdempotency(key: string, response: unknown): Promise<void> {
    const seen = await this.getIdempotency(key);
    if (!seen)
      throw new CommandManagerError(ErrorCodes.NOT_FOUND, `Idempotency key was never reserved: ${key}`);
    const source: IdempotencySource = {
      kind: 'idempotency',
      idempotency: {
        ...seen._source.idempotency,
        response_json: JSON.stringify(response ?? null),
        completed_at: new Date().toISOString(),
      },
    };
    await guarded('complete idempotency key', () =>
      this.client.index({ index: this.layout.requests, id: idempotencyDocId(key), body: source }),
    );
  }

  private async getIdempotency(key: string): Promise<{ _source: IdempotencySource } | undefined> {
    const response = await guarded('get idempotency key', () =>
      this.client.get({ index: this.layout.requests, id: idempotencyDocId(key) }, { ignore: [404] }),
    );
    const body = response.body as { found?: boolean; _source?: IdempotencySource };
    return body.found && body._source ? { _source: body._source } : undefined;
  }
}

function requestDocId(requestId: number): string {
  return `request-${requestId}`;
}

/** Keys are caller-chosen (any length, any characters): hashed to fit the 512-byte `_id` limit. */
function idempotencyDocId(key: string): string {
  return `idempotency-${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
