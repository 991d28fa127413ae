/**
 * Sidecars' partition lease managers sharing one store, on one manual time that each reads through its own
 * monotonic origin (an arbitrary, very different offset): only the rate of their clocks is shared, never
 * their reading. Every round checks that no partition is usable by two sidecars at once.
 */
import { InMemoryPartitionLeaseStore } from '@command-manager/core';
import type { PartitionLeaseStore } from '@command-manager/core';
import { ManualClock } from '@command-manager/test-support';
import { PartitionLeaseManager } from '@command-manager/scheduler';

export interface LeaseWorldOptions {
  partitions: number;
  leaseMs: number;
  renewIntervalMs: number;
}

export class LeaseWorld {
  readonly clock = new ManualClock(0);
  readonly sidecars = new Map<string, PartitionLeaseManager>();
  /** Partitions each sidecar was told it lost, in the order it was told. */
  readonly lost = new Map<string, number[]>();

  constructor(
    readonly options: LeaseWorldOptions,
    readonly store: PartitionLeaseStore = new InMemoryPartitionLeaseStore(),
  ) {}

  add(owner: string, origin = 0): PartitionLeaseManager {
    const m = new PartitionLeaseManager({
      store: this.store,
      owner,
      clock: { nowMs: () => this.clock.ms + origin },
      onLost: (ps) => this.lost.set(owner, [...(this.lost.get(owner) ?? []), ...ps]),
      options: this.options,
    });
    this.sidecars.set(owner, m);
    return m;
  }

  /**
   * One renewal interval passes and every sidecar not `silent` runs its round: one after the other, or all
   * at once (`together`, racing for the same leases). No partition is ever usable by two sidecars.
   */
  async interval(silent: ReadonlySet<string> = new Set(), together = false): Promise<void> {
    this.clock.advance(this.options.renewIntervalMs);
    const running = [...this.sidecars].filter(([owner]) => !silent.has(owner)).map(([, m]) => m);
    if (together) {
      await Promise.all(running.map((m) => m.tick()));
      this.expectDisjoint();
      return;
    }
    for (const m of running) {
      await m.tick();
      this.expectDisjoint();
    }
  }

  usable(owner: string): number[] {
    return this.sidecars.get(owner)?.usable() ?? [];
  }

  expectDisjoint(): void {
    const users = new Map<number, string>();
    for (const [owner, m] of this.sidecars) {
      for (const p of m.usable()) {
        expect(`${p} used by ${users.get(p) ?? owner}`).toBe(`${p} used by ${owner}`);
        users.set(p, owner);
      }
    }
  }

  /** Partitions usable by each sidecar, in the order they were added. */
  counts(): number[] {
    return [...this.sidecars.values()].map((m) => m.usable().length);
  }
}
