/**
 * Named lease-locks as documents `lock-<name>` in `<orders>-requests` (owner + expiry). A lock is taken with
 * `create` when absent, or with a conditional `index` (`if_seq_no`/`if_primary_term` of the copy just read)
 * when it is expired or already ours; of two sidecars racing for it, one write gets 409 and that one loses.
 * A lock is free when `now >= expires_at` (callers pass `now`; clocks of sidecars are assumed to agree within
 * a small fraction of the TTL).
 */
import type { LockStore } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { OpenSearchSetupOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { guarded, responseErrorInfo, toStoreError } from './internal/store-errors';
import { NO_TRANSPORT_RETRY } from './internal/no-transport-retry';

export type OpenSearchLockStoreOptions = OpenSearchSetupOptions;

interface LockDoc {
  found?: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: { lock?: { name?: string; owner?: string; expires_at?: string } };
}

export class OpenSearchLockStore implements LockStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;

  constructor(options: OpenSearchLockStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
  }

  /** Sets up the requests index that holds the locks. */
  async init(): Promise<void> {
    await this.setup.initRequests();
  }

  async acquire(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    const id = lockDocId(name);
    const body = {
      kind: 'lock',
      lock: { name, owner, expires_at: new Date(now.getTime() + ttlMs).toISOString() },
    };
    const current = await this.read(id);
    try {
      if (!current) {
        await this.client.create({ index: this.layout.requests, id, body }, NO_TRANSPORT_RETRY);
        return true;
      }
      const held = current._source?.lock;
      const expiresAt = held?.expires_at === undefined ? NaN : Date.parse(held.expires_at);
      const free = held?.owner === owner || !(expiresAt > now.getTime());
      if (!free || current._seq_no === undefined || current._primary_term === undefined) return false;
      await this.client.index(
        {
          index: this.layout.requests,
          id,
          body,
          if_seq_no: current._seq_no,
          if_primary_term: current._primary_term,
        },
        NO_TRANSPORT_RETRY,
      );
      return true;
    } catch (e) {
      // 409: another sidecar created or renewed the lock between our read and our write.
      if (responseErrorInfo(e)?.status === 409) return false;
      throw toStoreError(e, 'acquire lock');
    }
  }

  async release(name: string, owner: string): Promise<void> {
    const id = lockDocId(name);
    const current = await this.read(id);
    if (!current || current._source?.lock?.owner !== owner) return;
    if (current._seq_no === undefined || current._primary_term === undefined) return;
    try {
      await this.client.delete(
        {
          index: this.layout.requests,
          id,
          if_seq_no: current._seq_no,
          if_primary_term: current._primary_term,
        },
        NO_TRANSPORT_RETRY,
      );
    } catch (e) {
      // 409/404: taken over (after expiry) or already gone; either way no longer ours to release.
      const status = responseErrorInfo(e)?.status;
      if (status !== 409 && status !== 404) throw toStoreError(e, 'release lock');
    }
  }

  private async read(id: string): Promise<LockDoc | undefined> {
    const response = await guarded('read lock', () =>
      this.client.get({ index: this.layout.requests, id }, { ignore: [404] }),
    );
    const doc = response.body as LockDoc;
    return doc.found ? doc : undefined;
  }
}

function lockDocId(name: string): string {
  return `lock-${name}`;
}
