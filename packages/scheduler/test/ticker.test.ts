import { Ticker } from '../src/internal/ticker';

/** A task that takes `ms` of (fake) time and records when each run started. */
function slowTask(ms: number, starts: number[]): () => Promise<void> {
  return async () => {
    starts.push(Date.now());
    await new Promise((resolve) => setTimeout(resolve, ms));
  };
}

/** Stops the ticker, letting the run in progress end in fake time. */
async function stop(ticker: Ticker): Promise<void> {
  const stopped = ticker.stop();
  await jest.advanceTimersByTimeAsync(10_000);
  await stopped;
}

describe('Ticker', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('measures the interval from the end of a run by default', async () => {
    const starts: number[] = [];
    const ticker = new Ticker(1000, slowTask(600, starts), () => undefined);
    ticker.start();
    await jest.advanceTimersByTimeAsync(5000);
    await stop(ticker);
    expect(starts).toEqual([0, 1600, 3200, 4800]);
  });

  it('with fixedRate, starts a run every interval however long the last one took, never two at once', async () => {
    const starts: number[] = [];
    const ticker = new Ticker(1000, slowTask(600, starts), () => undefined, { fixedRate: true });
    ticker.start();
    await jest.advanceTimersByTimeAsync(3500);
    expect(starts).toEqual([0, 1000, 2000, 3000]);
    await stop(ticker);
    // A run longer than the interval is followed at once by the next, not overlapped.
    const long: number[] = [];
    const slow = new Ticker(1000, slowTask(1500, long), () => undefined, { fixedRate: true });
    slow.start();
    await jest.advanceTimersByTimeAsync(4600);
    await stop(slow);
    expect(long).toHaveLength(4);
    // Each run starts as the previous one ends (a timer of 0 ms fires 1 ms later).
    for (let i = 1; i < long.length; i++) {
      const gap = (long[i] ?? 0) - (long[i - 1] ?? 0);
      expect(gap).toBeGreaterThanOrEqual(1500);
      expect(gap).toBeLessThan(1510);
    }
  });
});
