/**
 * One run of the simulated cluster for one seed: sidecars (`SimSidecar`) over one orders index, request store,
 * lock store and partition lease store (core's in-memory twins), a simulated Management API and agents, a
 * workload of submissions, and faults drawn from the seed (store errors and latency, lost messages, kills and
 * restarts, joins and leaves, wall-clock offsets and jumps). Invariants are checked after every step; the
 * first violation ends the run.
 */
import {
  InMemoryLockStore,
  InMemoryPartitionLeaseStore,
  InMemoryRequestStore,
  InProcessIdAllocator,
  newOrder,
  partitionOfOrder,
} from '@command-manager/core';
import type {
  CommandRequest,
  PartitionLease,
  PartitionLeaseStore,
  PartitionLeaseWrite,
  RequestIdAllocator,
  RequestRecord,
  RequestStore,
} from '@command-manager/core';
import { CLOCK_SKEW_DEFAULTS } from '@command-manager/scheduler';
import { defaultFaults } from './faults';
import type { FaultRates } from './faults';
import { faultyPort } from './faulty-port';
import type { StoreIo } from './faulty-port';
import { checkInvariants } from './invariants';
import type { ConcurrentDelivery, InvariantView, Violation } from './invariants';
import { SimManagementApi } from './management-api';
import { LedgerOrderStore } from './order-ledger';
import type { LedgerEntry } from './order-ledger';
import { Prng } from './prng';
import { SimLoop } from './sim-loop';
import { SimSidecar } from './sim-sidecar';
import type { SidecarSettings } from './sim-sidecar';
import { Trace } from './trace';

/** Deliberately broken lease rules the sweep must catch (see README, "Simulation"). */
export const BREAK_RULES = ['lease-expiry-wallclock', 'lease-clock-wall'] as const;
export type BreakRule = (typeof BREAK_RULES)[number];

export interface RunOptions {
  seed: number;
  /** Sidecars at the start, and at most while joins happen. */
  sidecars: number;
  maxSidecars: number;
  /** Orders submitted in all, spread over `workloadMs`. */
  orders: number;
  /** Orders per submission, at most. */
  maxOrdersPerRequest: number;
  workloadMs: number;
  settings: SidecarSettings;
  faults: FaultRates;
  breakRule?: BreakRule;
  /** Submissions are spread over this much of the workload (default all of it); faults go on to its end. */
  submitMs?: number;
  /** Share of submissions with rollout limits (half `max_concurrency`, half `max_errors`); default 0.2. */
  rolloutShare?: number;
  /** Command timeouts (s), drawn per submission; default 30–120. */
  timeoutS?: readonly [number, number];
  /** End the run once the workload is over and every order is terminal (scale runs). */
  endWhenSettled?: boolean;
  /** Prints every trace line. */
  verbose?: boolean;
  /** Check the partition ownership invariant every this many steps (1: every step). */
  ownershipCheckEvery?: number;
}

export const DEFAULT_SETTINGS: SidecarSettings = Object.freeze({
  partitions: 16,
  leaseMs: 10_000,
  renewIntervalMs: 3333,
  pollIntervalMs: 1000,
  sweepIntervalMs: 5000,
  batchSize: 50,
  concurrency: 2,
  searchLagMs: 1000,
});

export function sweepOptions(seed: number, breakRule?: BreakRule): RunOptions {
  return {
    seed,
    sidecars: 3,
    maxSidecars: 6,
    orders: 300,
    maxOrdersPerRequest: 20,
    workloadMs: 90_000,
    settings: DEFAULT_SETTINGS,
    faults: defaultFaults,
    ...(breakRule && { breakRule }),
  };
}

export interface RunStats {
  simulatedMs: number;
  steps: number;
  ordersWritten: number;
  accepted: number;
  /** Simulated time by which half, 90 %, 99 % and all of the accepted orders were accepted. */
  acceptedByMs: { p50: number; p90: number; p99: number; all: number };
  /** Orders that reached the Management API from more than one sender. */
  duplicated: number;
  /**
   * Orders sent by a sidecar while a former holder of their partition, its lease gone, was still waiting for
   * the answer to its own call (a call outliving the fence).
   */
  lateOverlaps: number;
  kills: number;
  joins: number;
  leaves: number;
  /** Simulated ms from each join or leave until every live sidecar held its share. */
  rebalanceMs: number[];
  /** Mean live sidecars over the workload. */
  meanSidecars: number;
}

export interface RunResult {
  seed: number;
  violation?: Violation;
  traceHash: string;
  excerpt: string[];
  stats: RunStats;
}

const EPOCH_MS = Date.parse('2030-01-01T00:00:00.000Z');

export class World {
  readonly loop = new SimLoop();
  readonly prng: Prng;
  readonly trace: Trace;
  readonly io: StoreIo;
  readonly settings: SidecarSettings;
  readonly epochMs = EPOCH_MS;
  readonly orders = new LedgerOrderStore(() => this.epochMs + this.loop.now);
  readonly requests: RequestStore;
  readonly locks = new InMemoryLockStore();
  readonly leases = new InMemoryPartitionLeaseStore();
  readonly allocator: RequestIdAllocator = new InProcessIdAllocator(1);
  readonly api: SimManagementApi;
  readonly breakRule: BreakRule | undefined;
  readonly sidecars: SimSidecar[] = [];
  private readonly opts: RunOptions;
  private readonly concurrent: ConcurrentDelivery[] = [];
  private readonly afterStop: InvariantView['deliveriesAfterStop'][number][] = [];
  private readonly handedOut = new Set<number>();
  private readonly reused: number[] = [];
  private readonly stoppedAt = new Map<number, number>();
  private readonly maxConcurrency = new Map<number, number>();
  /** Wall time (the writer's clock) of each lease's last write: what the broken expiry rule compares. */
  private readonly leaseWrittenAtWall = new Map<number, number>();
  private readonly deadlines: Array<{ at: number; entry: LedgerEntry }> = [];
  private incarnations = 0;
  private names = 0;
  private readonly stats: RunStats = {
    simulatedMs: 0,
    steps: 0,
    ordersWritten: 0,
    accepted: 0,
    acceptedByMs: { p50: 0, p90: 0, p99: 0, all: 0 },
    duplicated: 0,
    lateOverlaps: 0,
    kills: 0,
    joins: 0,
    leaves: 0,
    rebalanceMs: [],
    meanSidecars: 0,
  };
  private rebalanceSince: number | undefined;
  /** Since when some live sidecar has been judging deadlines without a break. */
  private judgedSince: number | undefined;
  private sidecarTime = 0;
  readonly graceMs: number;

  constructor(opts: RunOptions) {
    this.opts = opts;
    this.prng = new Prng(opts.seed);
    this.settings = opts.settings;
    this.breakRule = opts.breakRule;
    this.trace = new Trace(
      () => this.loop.now,
      40,
      opts.verbose ? (line) => process.stdout.write(`${line}\n`) : undefined,
    );
    this.io = { loop: this.loop, prng: this.prng, faults: opts.faults, trace: this.trace };
    const stoppedAt = this.stoppedAt;
    const loop = this.loop;
    class NotingRequestStore extends InMemoryRequestStore {
      override async putRequest(record: RequestRecord): Promise<void> {
        await super.putRequest(record);
        if (record.rollout_stopped_at != null && !stoppedAt.has(record.request_id))
          stoppedAt.set(record.request_id, loop.now);
      }
    }
    this.requests = new NotingRequestStore({ orders: this.orders });
    const f = opts.faults;
    // An order's deadline is judged by the sidecars whose clocks agree with the indexer's: within the guard's
    // bound, by up to one check interval late to notice a clock now within it, one sweep interval, slow calls.
    this.graceMs =
      CLOCK_SKEW_DEFAULTS.maxSkewMs +
      CLOCK_SKEW_DEFAULTS.checkIntervalMs +
      2 * opts.settings.sweepIntervalMs +
      4 * f.storeSlowMs +
      15_000;
    const apiProc = { id: 'management-api', alive: true };
    this.api = new SimManagementApi({
      loop: this.loop,
      prng: this.prng,
      faults: f,
      trace: this.trace,
      orders: faultyPort(this.orders, apiProc, this.io, false),
      clock: { now: () => new Date(this.epochMs + this.loop.now) },
      requestTimeoutMs: 10_000,
      onConcurrentDelivery: (order, first, second) => {
        // The first sender still holding the partition is a broken lease; one whose lease has moved on is
        // a call outliving its fence, the at-least-once tail (counted).
        const holder = this.sidecars.find((s) => s.proc === first.sender);
        if (holder?.manager.holds(partitionOfOrder(order.order))) {
          this.concurrent.push({
            orderId: order.id,
            first: first.sender.id,
            second: second.id,
            atMs: this.loop.now,
          });
        } else {
          this.stats.lateOverlaps++;
          this.trace.add('late-overlap', `${order.id} ${first.sender.id} ${second.id}`);
        }
      },
    });
  }

  /** The lease store as `sidecar` reads it: the true one, or one judged by the broken rule. */
  leaseStoreFor(sidecar: SimSidecar): PartitionLeaseStore {
    const store = this.leases;
    const wallNow = (): number => this.epochMs + this.loop.now + sidecar.offsetMs;
    const written = this.leaseWrittenAtWall;
    const broken = this.breakRule === 'lease-expiry-wallclock';
    const leaseMs = this.settings.leaseMs;
    const trace = this.trace;
    return {
      init: () => store.init(),
      async readLeases(partitions: number): Promise<PartitionLease[]> {
        const leases = await store.readLeases(partitions);
        if (!broken) return leases;
        // The broken rule: a lease whose writer's wall time is leaseMs behind the reader's is expired (free).
        return leases.map((l) =>
          l.owner !== null && wallNow() - (written.get(l.partition) ?? 0) >= leaseMs
            ? { ...l, owner: null }
            : l,
        );
      },
      async writeLease(lease: PartitionLeaseWrite, rev: string | undefined): Promise<string | undefined> {
        const out = await store.writeLease(lease, rev);
        trace.add(
          'lease-write',
          `p${lease.partition} ${lease.owner ?? 'released'} #${lease.counter} by ${sidecar.proc.id} ${out === undefined ? 'lost' : 'ok'}`,
        );
        if (out !== undefined) written.set(lease.partition, wallNow());
        return out;
      },
    };
  }

  /** A sidecar is about to send `batch` to the Management API. */
  deliveryStarted(
    sidecar: SimSidecar,
    batch: ReadonlyArray<{ id: string; order: { command: { request_id: number } } }>,
  ): void {
    for (const o of batch) {
      const r = o.order.command.request_id;
      const stopped = this.stoppedAt.get(r);
      if (stopped !== undefined && stopped < sidecar.roundStartedAt)
        this.afterStop.push({ requestId: r, orderId: o.id, sender: sidecar.proc.id, atMs: this.loop.now });
    }
  }

  async run(): Promise<RunResult> {
    const o = this.opts;
    for (let i = 0; i < o.sidecars; i++) this.addSidecar(this.newName(), this.drawOffset());
    this.scheduleWorkload();
    this.scheduleFaults();
    // The latest deadline: the longest timeout, written by a clock as far ahead as a jump takes it.
    const lastDeadline = o.workloadMs + this.maxTimeoutS * 1000 + o.faults.skewMs + o.faults.jumpMs;
    const endMs = lastDeadline + 2 * this.graceMs;
    let violation: Violation | undefined;
    const every = o.ownershipCheckEvery ?? 1;
    let lastAt = 0;
    await this.loop.run(endMs, () => {
      const alive = this.sidecars.filter((s) => s.alive).length;
      this.sidecarTime += alive * (this.loop.now - lastAt);
      lastAt = this.loop.now;
      violation = checkInvariants(this.view(this.loop.steps % every === 0));
      this.watchRebalance();
      if (o.endWhenSettled && this.loop.now > o.workloadMs && this.orders.live === 0) return false;
      return violation === undefined;
    });
    if (!violation) {
      // Nothing may be left undecided at the end.
      const pending = [...this.orders.entries.values()].filter(
        (e) =>
          (e.status === 'pending' || e.status === 'sent') &&
          e.deadlineMs + this.graceMs < this.epochMs + this.loop.now,
      );
      if (pending[0])
        violation = {
          invariant: 'noOrderLost',
          message: `order ${pending[0].id} still ${pending[0].status} at the end`,
        };
    }
    for (const s of this.sidecars) s.kill();
    this.stats.simulatedMs = this.loop.now;
    this.stats.steps = this.loop.steps;
    this.stats.ordersWritten = this.orders.entries.size;
    this.stats.accepted = this.api.accepted;
    const at = this.api.acceptedAtMs;
    const q = (f: number): number => at[Math.max(0, Math.ceil(f * at.length) - 1)] ?? 0;
    this.stats.acceptedByMs = { p50: q(0.5), p90: q(0.9), p99: q(0.99), all: q(1) };
    this.stats.duplicated = [...this.api.arrivals.values()].filter(
      (a) => new Set(a.map((x) => x.sender.id)).size > 1,
    ).length;
    this.stats.meanSidecars = this.sidecarTime / Math.max(1, this.loop.now);
    if (violation) this.trace.add('violation', `${violation.invariant}: ${violation.message}`);
    return {
      seed: o.seed,
      ...(violation && { violation }),
      traceHash: this.trace.digest(),
      excerpt: this.trace.excerpt(),
      stats: this.stats,
    };
  }

  private view(ownership: boolean): InvariantView {
    const indexerNowMs = this.epochMs + this.loop.now;
    for (const id of this.orders.touched) {
      const e = this.orders.entries.get(id);
      if (e && (e.status === 'pending' || e.status === 'sent')) pushDeadline(this.deadlines, e);
    }
    this.orders.touched.clear();
    const overdue: LedgerEntry[] = [];
    if (!this.deadlinesJudged()) this.judgedSince = undefined;
    else this.judgedSince ??= this.loop.now;
    // Deadlines are judged only while some sidecar's clock agrees with the indexer's (`ClockSkewGuard`).
    const judged = this.judgedSince !== undefined && this.loop.now - this.judgedSince >= this.graceMs;
    while (judged && this.deadlines[0] && this.deadlines[0].at + this.graceMs < indexerNowMs) {
      const top = popDeadline(this.deadlines);
      if (top && top.at === top.entry.deadlineMs) overdue.push(top.entry);
    }
    const usable = new Map<string, readonly number[]>();
    if (ownership) for (const s of this.sidecars) if (s.alive) usable.set(s.proc.id, s.manager.usable());
    const concurrency: InvariantView['concurrency'][number][] = [];
    if (this.maxConcurrency.size > 0) {
      const delivering = new Map<number, number>();
      for (const id of this.api.open.keys()) {
        const e = this.orders.entries.get(id);
        if (e?.status === 'pending' && this.maxConcurrency.has(e.requestId))
          delivering.set(e.requestId, (delivering.get(e.requestId) ?? 0) + 1);
      }
      for (const [requestId, max] of this.maxConcurrency) {
        const sent = this.orders.counts.get(requestId)?.sent ?? 0;
        concurrency.push({ requestId, max, sent, delivering: delivering.get(requestId) ?? 0 });
      }
    }
    return {
      nowMs: this.loop.now,
      indexerNowMs,
      overdue,
      graceMs: this.graceMs,
      concurrentDeliveries: this.concurrent,
      terminalChanges: this.orders.terminalChanges,
      usable,
      concurrency,
      deliveriesAfterStop: this.afterStop,
      reusedRequestIds: this.reused,
    };
  }

  private watchRebalance(): void {
    if (this.rebalanceSince === undefined) return;
    const live = this.sidecars.filter((s) => s.alive && !s.leaving);
    if (live.length === 0) return;
    const p = this.settings.partitions;
    const lo = Math.floor(p / live.length);
    const hi = Math.ceil(p / live.length);
    let total = 0;
    for (const s of live) {
      const n = s.manager.usable().length;
      if (n < lo || n > hi + 1) return;
      total += n;
    }
    if (total < p) return;
    this.stats.rebalanceMs.push(this.loop.now - this.rebalanceSince);
    this.trace.add('rebalanced', `${this.loop.now - this.rebalanceSince} ms`);
    this.rebalanceSince = undefined;
  }

  private get maxTimeoutS(): number {
    return this.opts.timeoutS?.[1] ?? 120;
  }

  private newName(): string {
    return `s${this.names++}`;
  }

  private drawOffset(): number {
    const f = this.opts.faults;
    const s = this.prng.chance(f.skewedShare) ? f.skewMs : f.syncedMs;
    return this.prng.between(-s, s);
  }

  private syncedOffset(): number {
    const synced = this.opts.faults.syncedMs;
    return this.prng.between(-synced, synced);
  }

  /**
   * Whether some live sidecar judges deadlines right now: its clock within the guard's bound of the indexer's,
   * and its guard knows it.
   */
  private deadlinesJudged(): boolean {
    return this.sidecars.some(
      (s) =>
        s.alive &&
        !s.leaving &&
        Math.abs(s.offsetMs) <= CLOCK_SKEW_DEFAULTS.maxSkewMs &&
        s.clockSkew.withinBound(),
    );
  }

  private addSidecar(name: string, offsetMs: number): SimSidecar {
    const s = new SimSidecar(this, name, this.incarnations++, offsetMs);
    this.sidecars.push(s);
    this.trace.add('start', `${s.proc.id} offset ${offsetMs}`);
    void s.start();
    return s;
  }

  private alive(): SimSidecar[] {
    return this.sidecars.filter((s) => s.alive && !s.leaving);
  }

  private membershipChanged(): void {
    this.rebalanceSince ??= this.loop.now;
  }

  private scheduleFaults(): void {
    const { loop, prng } = this;
    const f = this.opts.faults;
    const perSecond = (perMinute: number): number => perMinute / 60;
    // After the workload, NTP brings every clock within `syncedMs`, so that every deadline gets judged.
    loop.at(this.opts.workloadMs, () => {
      for (const s of this.sidecars) s.offsetMs = this.syncedOffset();
      this.trace.add('clocks-synced', this.sidecars.map((s) => s.offsetMs).join(','));
    });
    const tick = (): void => {
      if (loop.now >= this.opts.workloadMs) return;
      for (const s of this.alive()) {
        if (prng.chance(perSecond(f.killsPerMinute)) && this.alive().length > 1) {
          this.stats.kills++;
          this.trace.add('kill', s.proc.id);
          s.kill();
          this.membershipChanged();
          const name = s.name;
          const offset = s.offsetMs;
          loop.after(prng.between(f.restartMs[0], f.restartMs[1]), () => {
            this.addSidecar(name, loop.now >= this.opts.workloadMs ? this.syncedOffset() : offset);
            this.membershipChanged();
          });
          continue;
        }
        if (prng.chance(perSecond(f.jumpsPerMinute))) {
          const jump = prng.between(-f.jumpMs, f.jumpMs);
          const before = s.offsetMs;
          s.offsetMs = before + jump;
          this.trace.add('clock-jump', `${s.proc.id} ${jump} → offset ${s.offsetMs}`);
          // NTP steps the clock back to where it was.
          loop.after(prng.between(f.jumpForMs[0], f.jumpForMs[1]), () => {
            if (loop.now >= this.opts.workloadMs) return;
            s.offsetMs = before;
            this.trace.add('clock-back', `${s.proc.id} offset ${s.offsetMs}`);
          });
        }
      }
      if (
        prng.chance(perSecond(f.joinsPerMinute)) &&
        this.sidecars.filter((s) => s.alive).length < this.opts.maxSidecars
      ) {
        this.stats.joins++;
        this.addSidecar(this.newName(), this.drawOffset());
        this.membershipChanged();
      }
      const alive = this.alive();
      if (prng.chance(perSecond(f.leavesPerMinute)) && alive.length > 1) {
        const s = prng.pick(alive);
        this.stats.leaves++;
        this.trace.add('leave', s.proc.id);
        this.membershipChanged();
        void s.leave();
      }
      loop.after(1000, tick);
    };
    loop.after(1000, tick);
  }

  private scheduleWorkload(): void {
    const o = this.opts;
    const submissions = Math.max(1, Math.ceil(o.orders / Math.max(1, (o.maxOrdersPerRequest + 1) / 2)));
    const spanMs = o.submitMs ?? o.workloadMs;
    const gap = spanMs / submissions;
    let left = o.orders;
    let at = 0;
    let n = 0;
    while (left > 0) {
      const count = Math.min(left, this.prng.between(1, o.maxOrdersPerRequest));
      left -= count;
      at += this.prng.between(0, Math.floor(2 * gap));
      const submission = n++;
      this.loop.at(Math.min(at, spanMs), () => void this.submit(submission, count));
    }
  }

  private async submit(submission: number, count: number): Promise<void> {
    const { prng } = this;
    const candidates = this.alive();
    if (candidates.length === 0) return;
    const via = prng.pick(candidates);
    const io = this.io;
    const proc = via.proc;
    const cmd: CommandRequest = {
      source: 'Users/Services',
      user: 'sim',
      target: { type: 'agent', id: '000' },
      action: { name: 'restart', args: {} },
      timeout: prng.between(this.opts.timeoutS?.[0] ?? 30, this.maxTimeoutS),
    };
    const rollout = prng.next();
    const share = this.opts.rolloutShare ?? 0.2;
    if (rollout < share / 2) cmd.max_concurrency = prng.between(1, 5);
    else if (rollout < share) cmd.max_errors = prng.between(0, 2);
    try {
      const requestId = await faultyPort(this.allocator, proc, io).next();
      if (this.handedOut.has(requestId)) this.reused.push(requestId);
      this.handedOut.add(requestId);
      const now = via.clock.now();
      const record: RequestRecord = {
        request_id: requestId,
        created_at: now.toISOString(),
        principal: 'sim',
        command: cmd,
        total_orders: count,
        unresolved: [],
        write_state: 'complete',
      };
      await faultyPort(this.requests, proc, io).createRequest(record);
      if (cmd.max_concurrency !== undefined) this.maxConcurrency.set(requestId, cmd.max_concurrency);
      const orders = Array.from({ length: count }, (_, i) =>
        newOrder({
          command: cmd,
          requestId,
          orderId: i + 1,
          target: { type: 'agent', id: `agent-${prng.int(500)}` },
          groups: [],
          principal: 'sim',
          now,
          partitions: this.settings.partitions,
        }),
      );
      await faultyPort(this.orders, proc, io).saveOrders(orders);
      this.trace.add('submit', `${proc.id} #${submission} request ${requestId} ${count} orders`);
    } catch (e) {
      this.trace.add(
        'submit-failed',
        `${proc.id} #${submission} ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
}

function pushDeadline(heap: Array<{ at: number; entry: LedgerEntry }>, entry: LedgerEntry): void {
  heap.push({ at: entry.deadlineMs, entry });
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent];
    const c = heap[i];
    if (!p || !c || p.at <= c.at) break;
    heap[parent] = c;
    heap[i] = p;
    i = parent;
  }
}

function popDeadline(
  heap: Array<{ at: number; entry: LedgerEntry }>,
): { at: number; entry: LedgerEntry } | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (!top || !last || heap.length === 0) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if ((heap[l]?.at ?? Infinity) < (heap[m]?.at ?? Infinity)) m = l;
    if ((heap[r]?.at ?? Infinity) < (heap[m]?.at ?? Infinity)) m = r;
    if (m === i) break;
    const a = heap[i] as { at: number; entry: LedgerEntry };
    heap[i] = heap[m] as { at: number; entry: LedgerEntry };
    heap[m] = a;
    i = m;
  }
  return top;
}

/** Runs one seed. */
export function runSeed(opts: RunOptions): Promise<RunResult> {
  return new World(opts).run();
}
