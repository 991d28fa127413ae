import {
  INVARIANTS,
  atMostOneLiveOwner,
  noDoubleDeliveryWhileHolderAlive,
  noOrderLost,
  noTerminalOrderChanges,
  replayCommand,
  requestIdsNeverReused,
  rolloutLimitsRespected,
  runSeed,
  runSweep,
  sweepOptions,
} from '@command-manager/sim';
import type { BreakRule, InvariantView, RunResult } from '@command-manager/sim';

const quiet: InvariantView = {
  nowMs: 0,
  indexerNowMs: 0,
  overdue: [],
  graceMs: 0,
  concurrentDeliveries: [],
  terminalChanges: [],
  usable: new Map(),
  concurrency: [],
  deliveriesAfterStop: [],
  reusedRequestIds: [],
};

describe('invariants', () => {
  it('hold on a quiet view and each names itself when broken', () => {
    for (const invariant of INVARIANTS) expect(invariant(quiet)).toBeUndefined();
    const entry = { id: '1-1', requestId: 1, deadlineMs: 0, deliveredAfterStop: 0 };
    expect(noOrderLost({ ...quiet, overdue: [{ ...entry, status: 'pending' }] })?.invariant).toBe(
      'noOrderLost',
    );
    expect(noOrderLost({ ...quiet, overdue: [{ ...entry, status: 'success' }] })).toBeUndefined();
    expect(
      noDoubleDeliveryWhileHolderAlive({
        ...quiet,
        concurrentDeliveries: [{ orderId: '1-1', first: 'a.0', second: 'b.1', atMs: 5 }],
      })?.message,
    ).toBe('order 1-1 delivered by b.1 while a.0, alive and holding its partition, was still delivering it');
    expect(
      noTerminalOrderChanges({ ...quiet, terminalChanges: [{ id: '1-1', before: 'x', after: 'y' }] })
        ?.invariant,
    ).toBe('noTerminalOrderChanges');
    const owners = (b: number[]): InvariantView => ({
      ...quiet,
      usable: new Map([
        ['a', [1, 2]],
        ['b', b],
      ]),
    });
    expect(atMostOneLiveOwner(owners([3]))).toBeUndefined();
    expect(atMostOneLiveOwner(owners([2]))?.message).toBe('partition 2 usable by both a and b');
    expect(
      rolloutLimitsRespected({ ...quiet, concurrency: [{ requestId: 7, max: 3, sent: 2, delivering: 1 }] }),
    ).toBeUndefined();
    expect(
      rolloutLimitsRespected({ ...quiet, concurrency: [{ requestId: 7, max: 3, sent: 2, delivering: 2 }] })
        ?.invariant,
    ).toBe('rolloutLimitsRespected');
    expect(
      rolloutLimitsRespected({
        ...quiet,
        deliveriesAfterStop: [{ requestId: 7, orderId: '7-1', sender: 'a.0', atMs: 1 }],
      })?.invariant,
    ).toBe('rolloutLimitsRespected');
    expect(requestIdsNeverReused({ ...quiet, reusedRequestIds: [4] })?.invariant).toBe(
      'requestIdsNeverReused',
    );
  });
});

/** The first failing run of a sweep of `seeds` seeds with `breakRule`, if any. */
async function firstCaught(breakRule: BreakRule, seeds: number): Promise<RunResult | undefined> {
  const sweep = await runSweep({ firstSeed: 1, seeds, breakRule, stopAtFirst: true });
  return sweep.failures[0];
}

describe('simulation', () => {
  it('replays a seed bit for bit: same seed, same trace', async () => {
    const first = await runSeed(sweepOptions(3));
    const second = await runSeed(sweepOptions(3));
    const other = await runSeed(sweepOptions(4));
    expect(first.traceHash).toBe(second.traceHash);
    expect(first.stats).toEqual(second.stats);
    expect(other.traceHash).not.toBe(first.traceHash);
  }, 30_000);

  it('passes a small sweep with faults, delivering and deciding every order', async () => {
    const sweep = await runSweep({ firstSeed: 1, seeds: 5 });
    expect(sweep.failures.map((f) => `${f.seed}: ${f.violation?.message ?? ''}`)).toEqual([]);
    const one = await runSeed(sweepOptions(2));
    expect(one.stats.ordersWritten).toBeGreaterThan(200);
    expect(one.stats.accepted).toBeGreaterThan(100);
  }, 60_000);

  it('catches a lease expiry judged by another machine’s wall clock, naming the invariant and the replay', async () => {
    const caught = await firstCaught('lease-expiry-wallclock', 3);
    expect(caught?.violation?.invariant).toBe('atMostOneLiveOwner');
    expect(replayCommand(caught?.seed ?? 0, 'lease-expiry-wallclock')).toBe(
      `pnpm sim --seed ${caught?.seed} --break=lease-expiry-wallclock --verbose`,
    );
  });

  it('catches a lease clock that follows the wall clock (jumps) within the CI sweep’s first seeds', async () => {
    expect((await firstCaught('lease-clock-wall', 20))?.violation?.invariant).toBe('atMostOneLiveOwner');
  }, 60_000);
});
