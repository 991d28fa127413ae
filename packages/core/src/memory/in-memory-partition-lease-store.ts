import type { PartitionLease, PartitionLeaseStore, PartitionLeaseWrite } from '../ports';

/**
 * The in-memory twin of the partition lease documents. Same contract as the OpenSearch adapter
 * (`test/contract/partition-lease-store-contract.ts`): every write is conditional on the revision read (or
 * create-only), and a lost race is `undefined`, never an exception.
 */
export class InMemoryPartitionLeaseStore implements PartitionLeaseStore {
  private readonly leases = new Map<number, PartitionLease>();
  private revision = 0;

  async init(): Promise<void> {}

  async readLeases(partitions: number): Promise<PartitionLease[]> {
    const out: PartitionLease[] = [];
    for (let p = 0; p < partitions; p++) {
      const lease = this.leases.get(p);
      if (lease) out.push({ ...lease });
    }
    return out;
  }

  async writeLease(lease: PartitionLeaseWrite, rev: string | undefined): Promise<string | undefined> {
    const current = this.leases.get(lease.partition);
    if (current?.rev !== rev) return undefined;
    const next = String(++this.revision);
    this.leases.set(lease.partition, { ...lease, rev: next });
    return next;
  }
}
