/**
 * Partition lease documents `partition-lease-<n>` in `<orders>-requests` (owner + renewal counter), read
 * with one real-time multi-get of the known ids and written with `create` (first write) or a conditional
 * `index` (`if_seq_no`/`if_primary_term` of the copy read): of two sidecars racing for a lease, one write gets
 * 409 and that one loses. No time is stored: liveness is judged by each observer's own monotonic clock (see
 * the scheduler's `partition-leases.ts`).
 */
import type { PartitionLease, PartitionLeaseStore, PartitionLeaseWrite } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import type { IndexLayout } from './index-layout';
import type { OpenSearchSetupOptions } from './opensearch-setup';
import { OpenSearchSetup } from './opensearch-setup';
import { guarded, responseErrorInfo, toStoreError } from './internal/store-errors';
import { NO_TRANSPORT_RETRY } from './internal/no-transport-retry';
import { decodeRevision, encodeRevision } from './internal/paging';

export type OpenSearchPartitionLeaseStoreOptions = OpenSearchSetupOptions;

interface LeaseDoc {
  _id?: string;
  found?: boolean;
  _seq_no?: number;
  _primary_term?: number;
  _source?: { partition_lease?: { partition?: number; owner?: string | null; counter?: number } };
}

export class OpenSearchPartitionLeaseStore implements PartitionLeaseStore {
  readonly layout: IndexLayout;
  private readonly client: Client;
  private readonly setup: OpenSearchSetup;

  constructor(options: OpenSearchPartitionLeaseStoreOptions) {
    this.client = options.client;
    this.setup = new OpenSearchSetup(options);
    this.layout = this.setup.layout;
  }

  /** Sets up the requests index that holds the leases. */
  async init(): Promise<void> {
    await this.setup.initRequests();
  }

  async readLeases(partitions: number): Promise<PartitionLease[]> {
    if (partitions <= 0) return [];
    const ids = Array.from({ length: partitions }, (_, p) => leaseDocId(p));
    const response = await guarded('read partition leases', () =>
      this.client.mget({ index: this.layout.requests, body: { ids } }, { ignore: [404] }),
    );
    const docs = ((response.body as { docs?: LeaseDoc[] }).docs ?? []) as LeaseDoc[];
    const out: PartitionLease[] = [];
    for (const doc of docs) {
      const lease = doc._source?.partition_lease;
      if (!doc.found || !lease || doc._seq_no === undefined || doc._primary_term === undefined) continue;
      if (typeof lease.partition !== 'number' || typeof lease.counter !== 'number') continue;
      out.push({
        partition: lease.partition,
        owner: lease.owner ?? null,
        counter: lease.counter,
        rev: encodeRevision(doc._seq_no, doc._primary_term),
      });
    }
    return out;
  }

  async writeLease(lease: PartitionLeaseWrite, rev: string | undefined): Promise<string | undefined> {
    const id = leaseDocId(lease.partition);
    const body = {
      kind: 'partition_lease',
      partition_lease: { partition: lease.partition, owner: lease.owner, counter: lease.counter },
    };
    try {
      if (rev === undefined) {
        const res = await this.client.create({ index: this.layout.requests, id, body }, NO_TRANSPORT_RETRY);
        return revisionOf(res.body);
      }
      const at = decodeRevision(rev);
      if (!at) return undefined;
      const res = await this.client.index(
        {
          index: this.layout.requests,
          id,
          body,
          if_seq_no: at.ifSeqNo,
          if_primary_term: at.ifPrimaryTerm,
        },
        NO_TRANSPORT_RETRY,
      );
      return revisionOf(res.body);
    } catch (e) {
      // 409: another sidecar created or wrote the lease between our read and our write.
      if (responseErrorInfo(e)?.status === 409) return undefined;
      throw toStoreError(e, 'write partition lease');
    }
  }
}

function revisionOf(body: unknown): string | undefined {
  const b = body as { _seq_no?: number; _primary_term?: number };
  return b._seq_no === undefined || b._primary_term === undefined
    ? undefined
    : encodeRevision(b._seq_no, b._primary_term);
}

function leaseDocId(partition: number): string {
  return `partition-lease-${partition}`;
}
