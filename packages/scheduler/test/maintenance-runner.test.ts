import { InMemoryLockStore, InMemoryOrderStore } from '@command-manager/core';
import { MaintenanceRunner } from '@command-manager/scheduler';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('MaintenanceRunner', () => {
  it('runs request retention at start and the stale-write check only after one interval, until stopped', async () => {
    const retentionRuns = jest.fn(() => Promise.resolve(0));
    const staleChecks = jest.fn(() => Promise.resolve(0));
    const runner = new MaintenanceRunner({
      owner: 'sidecar-a',
      requestRetention: { run: retentionRuns },
      staleWrites: { check: staleChecks, intervalMs: 40 },
      options: { retentionIntervalMs: 3_600_000 },
    });
    runner.start();
    runner.start();
    expect(retentionRuns).toHaveBeenCalledTimes(1);
    expect(staleChecks).not.toHaveBeenCalled();
    await tick(150);
    expect(staleChecks.mock.calls.length).toBeGreaterThanOrEqual(2);
    await runner.stop();
    const checks = staleChecks.mock.calls.length;
    await tick(100);
    expect(staleChecks).toHaveBeenCalledTimes(checks);
    expect(retentionRuns).toHaveBeenCalledTimes(1);
  });

  it('a failing task is tried again at the next interval', async () => {
    let calls = 0;
    const runner = new MaintenanceRunner({
      owner: 'sidecar-a',
      staleWrites: {
        check: () => {
          calls += 1;
          return Promise.reject(new Error('store down'));
        },
        intervalMs: 20,
      },
    });
    runner.start();
    await tick(120);
    await runner.stop();
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('without order stores it runs neither the sweep nor order retention, and says so when asked', async () => {
    const runner = new MaintenanceRunner({ owner: 'sidecar-a' });
    runner.start();
    await expect(runner.sweepDeadlines()).rejects.toThrow(TypeError);
    await runner.stop();
    const withStores = new MaintenanceRunner({
      owner: 'sidecar-a',
      stores: { orders: new InMemoryOrderStore(), locks: new InMemoryLockStore() },
    });
    await expect(withStores.sweepDeadlines()).resolves.toEqual({
      expiredUndelivered: 0,
      noResultInTime: 0,
      conflicts: 0,
    });
  });
});
