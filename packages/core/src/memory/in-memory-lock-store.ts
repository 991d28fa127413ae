import type { LockStore } from '../ports';

interface Held {
  owner: string;
  /** Epoch milliseconds after which the lock is free. */
  expiresAtMs: number;
}

/**
 * The in-memory twin of the named lease-locks. Same contract as the OpenSearch adapter
 * (`test/contract/lock-store-contract.ts`): a lock is free when absent or when `now >= expiry`; its owner
 * may re-acquire (renew) it at any time; `release` by anyone but the owner does nothing.
 */
export class InMemoryLockStore implements LockStore {
  private readonly locks = new Map<string, Held>();

  async acquire(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    const held = this.locks.get(name);
    const t = now.getTime();
    if (held && held.owner !== owner && held.expiresAtMs > t) return false;
    this.locks.set(name, { owner, expiresAtMs: t + ttlMs });
    return true;
  }

  async release(name: string, owner: string): Promise<void> {
    if (this.locks.get(name)?.owner === owner) this.locks.delete(name);
  }
}
