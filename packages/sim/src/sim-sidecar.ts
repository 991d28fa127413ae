/**
 * One simulated sidecar: the product's `PartitionLeaseManager` and `Scheduler`, unchanged, over the cluster's
 * in-memory stores seen through this process's faults, with the product's own timers replaced by loops in
 * simulated time that call the same public steps (`tick`, `dispatchDue`, `sweepDeadlines`) at the same
 * intervals. Its wall clock is the indexer's plus an offset that jumps; its monotonic clock starts at an
 * arbitrary origin and runs at the simulated rate.
 */
import type { Clock, LockStore, OrderStore, PartitionLeaseStore, RequestStore } from '@command-manager/core';
import { ClockSkewGuard, PartitionLeaseManager, Scheduler } from '@command-manager/scheduler';
import type { MonotonicClock, OrderDelivery, ServerTimeSource } from '@command-manager/scheduler';
import { faultyPort } from './faulty-port';
import type { StoreIo } from './faulty-port';
import type { SimManagementApi } from './management-api';
import type { Prng } from './prng';
import type { SimLoop } from './sim-loop';
import type { SimProcess } from './sim-process';
import type { Trace } from './trace';

export interface SidecarSettings {
  partitions: number;
  leaseMs: number;
  renewIntervalMs: number;
  pollIntervalMs: number;
  sweepIntervalMs: number;
  batchSize: number;
  concurrency: number;
  searchLagMs: number;
}

/** What a sidecar is given by the simulated cluster it runs in (`World`). */
export interface SidecarHost {
  readonly loop: SimLoop;
  readonly prng: Prng;
  readonly trace: Trace;
  readonly io: StoreIo;
  readonly settings: SidecarSettings;
  readonly epochMs: number;
  readonly api: SimManagementApi;
  readonly orders: OrderStore;
  readonly requests: RequestStore;
  readonly locks: LockStore;
  readonly breakRule: string | undefined;
  /** The lease store as this sidecar reads it. */
  leaseStoreFor(sidecar: SimSidecar): PartitionLeaseStore;
  /** The sidecar is about to send `batch` to the Management API. */
  deliveryStarted(
    sidecar: SimSidecar,
    batch: ReadonlyArray<{ id: string; order: { command: { request_id: number } } }>,
  ): void;
}

export class SimSidecar {
  readonly proc: SimProcess;
  readonly manager: PartitionLeaseManager;
  readonly scheduler: Scheduler;
  /** Compares this machine's clock with the indexer's; the clock orders are written and compared with. */
  readonly clockSkew: ClockSkewGuard;
  readonly clock: Clock;
  /** Simulated time at which the current dispatch round started. */
  roundStartedAt = -1;
  leaving = false;
  private readonly monoOrigin: number;

  constructor(
    private readonly world: SidecarHost,
    readonly name: string,
    incarnation: number,
    /** Offset of this machine's wall clock from the indexer's (ms); kept across restarts. */
    public offsetMs: number,
  ) {
    this.proc = { id: `${name}.${incarnation}`, alive: true };
    const { io, settings, api } = world;
    this.monoOrigin = world.prng.between(0, 1e9);
    const wall: Clock = { now: () => new Date(world.epochMs + world.loop.now + this.offsetMs) };
    const mono: MonotonicClock = { nowMs: () => world.loop.now + this.monoOrigin };
    const server: ServerTimeSource = {
      // The indexer answers its time in whole seconds.
      serverTime: async () => new Date(Math.floor((world.epochMs + world.loop.now) / 1000) * 1000),
      resolutionMs: 1000,
    };
    this.clockSkew = new ClockSkewGuard({
      server: faultyPort(server, this.proc, io),
      clock: wall,
      monotonic: mono,
    });
    this.clock = this.clockSkew.indexerClock();
    const leases = world.leaseStoreFor(this);
    const orders = closingWindows(faultyPort<OrderStore>(world.orders, this.proc, io), (ids) =>
      api.windowClosed(this.proc, ids),
    );
    const requests = faultyPort<RequestStore>(world.requests, this.proc, io);
    const locks = faultyPort<LockStore>(world.locks, this.proc, io);
    const delivery = api.delivery(this.proc);
    const checked: OrderDelivery = {
      deliver: (batch, options) => {
        world.deliveryStarted(this, batch);
        return delivery.deliver(batch, options);
      },
      isBlocked: () => delivery.isBlocked(),
    };
    this.manager = new PartitionLeaseManager({
      store: faultyPort<PartitionLeaseStore>(leases, this.proc, io),
      owner: this.proc.id,
      clock: world.breakRule === 'lease-clock-wall' ? { nowMs: () => wall.now().getTime() } : mono,
      options: {
        partitions: settings.partitions,
        leaseMs: settings.leaseMs,
        renewIntervalMs: settings.renewIntervalMs,
      },
    });
    this.scheduler = new Scheduler({
      orders,
      requests,
      locks,
      delivery: checked,
      owner: this.proc.id,
      partitions: this.manager,
      clock: this.clock,
      clockSkew: this.clockSkew,
      monotonicClock: mono,
      options: {
        pollIntervalMs: settings.pollIntervalMs,
        batchSize: settings.batchSize,
        concurrency: settings.concurrency,
        searchLagMs: settings.searchLagMs,
        sweepIntervalMs: settings.sweepIntervalMs,
        random: () => world.prng.next(),
      },
    });
  }

  get alive(): boolean {
    return this.proc.alive;
  }

  /**
   * Starts the lease, dispatch and deadline loops, as the sidecar's timers would, once the clock was compared
   * with the indexer's (the sidecar does so before anything else).
   */
  async start(): Promise<void> {
    await this.clockSkew.allowsDeadlines();
    void this.every(
      this.clockSkew.checkIntervalMs,
      'clock-check',
      async () => ({
        withinBound: await this.clockSkew.allowsDeadlines(),
        skewMs: this.clockSkew.lastSkewMs(),
      }),
      true,
    );
    void this.every(this.world.settings.renewIntervalMs, 'lease', () => this.manager.tick(), true);
    void this.every(
      this.world.settings.pollIntervalMs,
      'dispatch',
      () => {
        this.roundStartedAt = this.world.loop.now;
        return this.scheduler.dispatchDue();
      },
      true,
    );
    void this.every(
      this.world.settings.sweepIntervalMs,
      'sweep',
      () => this.scheduler.sweepDeadlines(),
      true,
    );
  }

  /** The process dies: nothing it holds is released, its calls never end. */
  kill(): void {
    this.proc.alive = false;
    this.world.api.senderDied(this.proc);
  }

  /** Graceful stop: the loops end after their current round, then the leases are released. */
  async leave(): Promise<void> {
    this.leaving = true;
    await this.world.loop.sleep(this.world.settings.pollIntervalMs);
    try {
      await this.manager.stop();
    } catch {
      // The leases expire instead.
    }
    this.proc.alive = false;
    this.world.api.senderDied(this.proc);
  }

  private async every(
    intervalMs: number,
    what: string,
    step: () => Promise<unknown>,
    traced = false,
  ): Promise<void> {
    const { loop, trace } = this.world;
    while (this.proc.alive && !this.leaving) {
      try {
        const out = await step();
        if (traced) trace.add(what, `${this.proc.id} ${JSON.stringify(out)}`);
      } catch (e) {
        trace.add(`${what}-failed`, `${this.proc.id} ${e instanceof Error ? e.message : String(e)}`);
      }
      if (!this.proc.alive || this.leaving) return;
      await loop.sleep(intervalMs);
    }
  }
}

/** `orders` whose conditional writes, when they end, close the writer's delivery windows of those orders. */
function closingWindows(orders: OrderStore, closed: (ids: string[]) => void): OrderStore {
  return new Proxy(orders, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key !== 'writeConditional' || typeof value !== 'function') return value;
      return (writes: ReadonlyArray<{ id: string }>, options?: unknown) =>
        (value as (w: unknown, o: unknown) => Promise<unknown>)
          .call(target, writes, options)
          .finally(() => closed(writes.map((w) => w.id)));
    },
  });
}
