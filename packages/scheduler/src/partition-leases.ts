/**
 * Shares the partitions of the orders stream between sidecars through lease documents, as Amazon's Kinesis
 * Client Library shares shards between workers through its lease table. Each partition's lease carries an
 * owner and a counter that every write bumps; a sidecar renews its leases every `renewIntervalMs`
 * (conditionally on the revision it wrote last, so a lease taken by another makes the renewal fail and the
 * partition is dropped at once).
 *
 * The clock rule: no time written by another machine is ever compared. A lease is judged silent when its
 * (owner, counter) has not changed for `leaseMs` as measured by the OBSERVER's own monotonic clock since it
 * first saw that value. An owner uses a partition only while its last successful renewal STARTED less than
 * `fenceMs` (< `leaseMs`) ago on its own monotonic clock: any observer first saw that renewal after it
 * started, so it cannot take the lease over before the owner has stopped using it (clocks must run at the
 * same rate, not show the same time).
 *
 * Balance: the live sidecars are the owners of leases seen moving within `leaseMs`, plus this one; each aims
 * at `target = ceil(partitions / live)`, at most its fair share plus one. A sidecar below target takes free
 * leases (released, never written, or silent: up to `floor(partitions / live)` at once, then one a round, as
 * the targets of sidecars starting together add up to more than the partitions) and, when none is left,
 * steals from the most loaded owners holding more than target (more than the floor while it holds fewer than
 * the floor, so that a joiner is never left below the floor of its share by owners at the target). A sidecar
 * holding nothing takes ONE lease in its first round, which makes it visible to the others before anyone
 * sizes a share with it (so that simultaneous starters do not each take everything). A stolen partition is used only `leaseMs` after the steal: by then its former owner has seen
 * its renewal fail or its fence close. Joining or leaving thus rebalances within
 * `2 × renewIntervalMs + leaseMs`, under two lease periods with the default interval of `leaseMs / 3`.
 */
import { DEFAULT_PARTITIONS, MAX_PARTITIONS, noopLogger, partitionOf } from '@command-manager/core';
import type { Logger, PartitionLease, PartitionLeaseStore } from '@command-manager/core';
import { describeError } from './internal/describe-error';
import { SCHEDULER_DEFAULTS } from './scheduler-defaults';
import { Ticker } from './internal/ticker';

/** A clock that only moves forward, read in milliseconds from an arbitrary origin (`performance.now`). */
export interface MonotonicClock {
  nowMs(): number;
}

export const systemMonotonicClock: MonotonicClock = { nowMs: () => performance.now() };

export interface PartitionLeaseOptions {
  /** Partitions of the orders index (default `DEFAULT_PARTITIONS`, at most `MAX_PARTITIONS`). */
  partitions?: number;
  /** How long a lease must be seen unchanged before another sidecar takes it over (default 10 s). */
  leaseMs?: number;
  /** Rounds (read, renew, take, steal) every this long; default `leaseMs / 3`, at most `leaseMs / 2`. */
  renewIntervalMs?: number;
}

export interface PartitionLeaseDeps {
  store: PartitionLeaseStore;
  /** This sidecar's id, written as lease owner. Unique per process. */
  owner: string;
  clock?: MonotonicClock;
  logger?: Logger;
  /** Called with the partitions this sidecar found taken by another (it stopped using them already). */
  onLost?: (partitions: number[]) => void;
  options?: PartitionLeaseOptions;
}

/** The partitions a dispatcher may take orders of; `PartitionLeaseManager` is the one shared by sidecars. */
export interface PartitionOwnership {
  /** The partitions usable right now, ascending. */
  usable(): number[];
  /** Whether `partition` is usable right now. */
  holds(partition: number): boolean;
  /**
   * How long ago (monotonic ms) `partition` became usable here after being taken from another owner (stolen,
   * or taken once silent); undefined when it is not held, or came free (never written, or released). Its
   * former owner's last verdicts may not be searchable yet for a while after.
   */
  handedOverAgoMs?(partition: number): number | undefined;
}

/** Every partition, always: one dispatcher alone on its orders index (tests, a single embedded scheduler). */
export function allPartitions(partitions: number = DEFAULT_PARTITIONS): PartitionOwnership {
  const all = Array.from({ length: partitions }, (_, p) => p);
  return { usable: () => [...all], holds: (p) => p >= 0 && p < partitions };
}

export const PARTITION_LEASE_DEFAULTS = Object.freeze({ leaseMs: SCHEDULER_DEFAULTS.leaseMs });

interface Held {
  rev: string;
  counter: number;
  /** Local monotonic time when the last successful write of this lease started. */
  renewedAtMs: number;
  /** Local monotonic time from which the partition may be used (later than the take for a stolen one). */
  usableFromMs: number;
  /** Taken from another owner (stolen, or silent), not free. */
  handedOver: boolean;
}

interface Seen {
  lease: PartitionLease;
  /** Local monotonic time when this (owner, counter) was first seen. */
  sinceMs: number;
}

/** What one round did, for logs and tests. */
export interface LeaseRoundSummary {
  renewed: number;
  taken: number;
  stolen: number;
  lost: number;
}

export class PartitionLeaseManager implements PartitionOwnership {
  readonly partitions: number;
  readonly leaseMs: number;
  readonly renewIntervalMs: number;
  /** An owner uses a partition while its last renewal started less than this long ago. */
  readonly fenceMs: number;
  private readonly store: PartitionLeaseStore;
  private readonly owner: string;
  private readonly clock: MonotonicClock;
  private readonly logger: Logger;
  private readonly onLost: (partitions: number[]) => void;
  private readonly held = new Map<number, Held>();
  private readonly seen = new Map<number, Seen>();
  private ticker: Ticker | undefined;
  private stopping = false;
  private round: Promise<LeaseRoundSummary> | undefined;

  constructor(deps: PartitionLeaseDeps) {
    if (!deps.owner) throw new TypeError('PartitionLeaseManager needs a non-empty owner');
    const o = deps.options ?? {};
    this.partitions = Math.min(MAX_PARTITIONS, Math.max(1, Math.floor(o.partitions ?? DEFAULT_PARTITIONS)));
    this.leaseMs = Math.max(3, Math.floor(o.leaseMs ?? PARTITION_LEASE_DEFAULTS.leaseMs));
    this.renewIntervalMs = Math.min(
      Math.floor(this.leaseMs / 2),
      Math.max(1, Math.floor(o.renewIntervalMs ?? this.leaseMs / 3)),
    );
    this.fenceMs = this.leaseMs - Math.floor(this.renewIntervalMs / 2);
    this.store = deps.store;
    this.owner = deps.owner;
    this.clock = deps.clock ?? systemMonotonicClock;
    this.logger = (deps.logger ?? noopLogger).child({ component: 'partition-leases', owner: deps.owner });
    this.onLost = deps.onLost ?? (() => undefined);
  }

  /** Runs a round now and every `renewIntervalMs` until `stop()`. */
  start(): void {
    if (this.ticker || this.stopping) return;
    this.ticker = new Ticker(
      this.renewIntervalMs,
      () => this.tick(),
      (e) => this.logger.warn('partition lease round failed', { error: describeError(e) }),
    );
    this.ticker.start();
  }

  /**
   * Stops the rounds, stops using every partition and releases the leases it was using (others take them at
   * once); one stolen and not usable yet expires instead.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.ticker?.stop();
    if (this.round) await this.round.catch(() => undefined);
    const now = this.clock.nowMs();
    const releases = [...this.held].map(async ([partition, h]) => {
      // A lease stolen and not usable yet is left to expire: its former owner may still use the partition,
      // and a released lease is taken and used at once.
      if (now < h.usableFromMs) return;
      try {
        await this.store.writeLease({ partition, owner: null, counter: h.counter + 1 }, h.rev);
      } catch (e) {
        this.logger.warn('could not release a partition lease; it expires', {
          partition,
          error: describeError(e),
        });
      }
    });
    this.held.clear();
    await Promise.all(releases);
  }

  /** The partitions this sidecar may claim orders of right now, ascending. */
  usable(): number[] {
    const now = this.clock.nowMs();
    const out: number[] = [];
    for (const [p, h] of this.held) if (this.isUsable(h, now)) out.push(p);
    return out.sort((a, b) => a - b);
  }

  /** Whether this sidecar may claim orders of `partition` right now. */
  holds(partition: number): boolean {
    const h = this.held.get(partition);
    return h !== undefined && this.isUsable(h, this.clock.nowMs());
  }

  handedOverAgoMs(partition: number): number | undefined {
    const h = this.held.get(partition);
    if (!h?.handedOver) return undefined;
    const ago = this.clock.nowMs() - h.usableFromMs;
    return ago >= 0 ? ago : undefined;
  }

  /** Partitions whose lease this sidecar holds (usable or not yet). */
  heldCount(): number {
    return this.held.size;
  }

  /** One round: read every lease, renew ours, take free or silent ones, steal towards the fair share. */
  tick(): Promise<LeaseRoundSummary> {
    if (this.stopping) return Promise.resolve({ renewed: 0, taken: 0, stolen: 0, lost: 0 });
    if (!this.round) {
      this.round = this.runRound().finally(() => {
        this.round = undefined;
      });
    }
    return this.round;
  }

  private isUsable(h: Held, now: number): boolean {
    return !this.stopping && now >= h.usableFromMs && now - h.renewedAtMs < this.fenceMs;
  }

  private async runRound(): Promise<LeaseRoundSummary> {
    const summary: LeaseRoundSummary = { renewed: 0, taken: 0, stolen: 0, lost: 0 };
    const readAt = this.clock.nowMs();
    const leases = await this.store.readLeases(this.partitions);
    const lost: number[] = [];
    for (const lease of leases) {
      this.observe(lease, readAt);
      const mine = this.held.get(lease.partition);
      if (!mine || mine.rev === lease.rev) continue;
      // Our own write whose answer was lost is still ours, counter and all (the next renewal must write a new
      // counter, or observers would see the lease stand still); anything else means another sidecar wrote it.
      if (lease.owner === this.owner && lease.counter === mine.counter + 1) {
        mine.rev = lease.rev;
        mine.counter = lease.counter;
      } else lost.push(lease.partition);
    }
    const present = new Set(leases.map((l) => l.partition));
    for (const p of this.held.keys()) if (!present.has(p)) lost.push(p);
    this.drop(lost, summary);
    await this.renew(summary);
    await this.balance(readAt, present, summary);
    if (summary.taken + summary.stolen + summary.lost > 0)
      this.logger.info('partition leases changed', { ...summary, held: this.held.size });
    return summary;
  }

  private observe(lease: PartitionLease, now: number): void {
    const before = this.seen.get(lease.partition);
    if (before && before.lease.owner === lease.owner && before.lease.counter === lease.counter) {
      before.lease = lease;
      return;
    }
    this.seen.set(lease.partition, { lease, sinceMs: now });
  }

  private drop(partitions: number[], summary: LeaseRoundSummary): void {
    if (partitions.length === 0) return;
    for (const p of partitions) this.held.delete(p);
    summary.lost += partitions.length;
    this.logger.warn('partition leases taken by another sidecar', { partitions });
    this.onLost(partitions);
  }

  private async renew(summary: LeaseRoundSummary): Promise<void> {
    const lost: number[] = [];
    await Promise.all(
      [...this.held].map(async ([partition, h]) => {
        const startedAt = this.clock.nowMs();
        const counter = h.counter + 1;
        try {
          const rev = await this.store.writeLease({ partition, owner: this.owner, counter }, h.rev);
          if (rev === undefined) {
            lost.push(partition);
            return;
          }
          Object.assign(h, { rev, counter, renewedAtMs: startedAt });
          summary.renewed++;
        } catch (e) {
          // Unknown outcome: keep the lease; the fence stops its use if renewals keep failing.
          this.logger.warn('partition lease renewal failed', { partition, error: describeError(e) });
        }
      }),
    );
    this.drop(lost, summary);
  }

  private async balance(now: number, present: Set<number>, summary: LeaseRoundSummary): Promise<void> {
    const live = new Map<string, number[]>();
    const free: Array<{ partition: number; lease?: PartitionLease; steal?: boolean }> = [];
    for (let p = 0; p < this.partitions; p++) {
      if (this.held.has(p)) continue;
      const seen = this.seen.get(p);
      if (!present.has(p) || !seen) {
        free.push({ partition: p });
        continue;
      }
      const { lease } = seen;
      if (lease.owner === null || lease.owner === this.owner || now - seen.sinceMs >= this.leaseMs) {
        // Our own name on a lease we do not hold is a take or steal whose answer was lost: it may have been
        // taken from an owner still using it, so it is used only a lease period after, as a steal.
        free.push({ partition: p, lease, steal: lease.owner === this.owner });
        continue;
      }
      const list = live.get(lease.owner) ?? [];
      list.push(p);
      live.set(lease.owner, list);
    }
    const target = Math.ceil(this.partitions / (live.size + 1));
    // Below the floor of the fair share, steal from anyone above that floor; at or above it, only from those
    // above the target. The others settle at floor or floor + 1 and never steal back.
    const floorShare = Math.floor(this.partitions / (live.size + 1));
    // A sidecar holding nothing is invisible to the others: it first takes one lease to show itself.
    let need = this.held.size === 0 ? 1 : target - this.held.size;
    if (need <= 0) return;
    // Starting from a place of its own, simultaneous takers of free leases seldom race for the same one.
    const start = partitionOf(this.owner, this.partitions);
    free.sort(
      (a, b) => rotate(a.partition, start, this.partitions) - rotate(b.partition, start, this.partitions),
    );
    // Free leases up to the floor of the fair share, then one a round up to the target. Sidecars starting
    // together each aim at the target (the ceiling), and those add up to more than there are partitions: the
    // last of them would be left short, with only steals to make up (each unusable for a lease period). The
    // floors add up to no more than the partitions, and what is left over goes one lease a round.
    let freeNeed =
      this.held.size >= floorShare ? Math.min(need, 1) : Math.min(need, floorShare - this.held.size);
    // As many takes at once as leases are needed (a round taking over a dead sidecar's share then costs one
    // write's time, not one per lease); the writes are conditional, so a lease lost to a concurrent taker is
    // simply replaced by the next free one.
    for (let next = 0; freeNeed > 0 && next < free.length; ) {
      const chunk = free.slice(next, next + freeNeed);
      next += chunk.length;
      const won = await Promise.all(chunk.map((f) => this.take(f.partition, f.lease, f.steal === true)));
      const taken = won.filter(Boolean).length;
      summary.taken += taken;
      freeNeed -= taken;
      need -= taken;
    }
    // The steals are planned as if each succeeded, then written at once; one lost (its owner renewed first)
    // is simply retried in a later round.
    const victims = [...live].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    const steals: number[] = [];
    let holding = this.held.size;
    for (const [, partitions] of victims) {
      let remaining = partitions.length;
      for (const p of partitions.slice().reverse()) {
        const keep = holding < floorShare ? floorShare : target;
        if (need <= 0 || remaining <= keep) break;
        steals.push(p);
        holding++;
        need--;
        remaining--;
      }
    }
    const won = await Promise.all(steals.map((p) => this.take(p, this.seen.get(p)?.lease, true)));
    summary.stolen += won.filter(Boolean).length;
  }

  /** Writes ourselves as owner on the revision seen (create-only when never written). */
  private async take(partition: number, lease: PartitionLease | undefined, steal: boolean): Promise<boolean> {
    const startedAt = this.clock.nowMs();
    const counter = (lease?.counter ?? 0) + 1;
    const rev = await this.store.writeLease({ partition, owner: this.owner, counter }, lease?.rev);
    if (rev === undefined) return false;
    this.held.set(partition, {
      rev,
      counter,
      renewedAtMs: startedAt,
      usableFromMs: steal ? startedAt + this.leaseMs : startedAt,
      handedOver: lease?.owner != null,
    });
    return true;
  }
}

function rotate(p: number, start: number, n: number): number {
  return (p - start + n) % n;
}
