import { renderProgressLine } from '../src';

describe('renderProgressLine', () => {
  it('splits a bar of constant width by status and shows the counts and the time', () => {
    const line = renderProgressLine(
      {
        requestId: 7,
        total: 1000,
        counts: { pending: 250, sent: 250, success: 450, failure: 50 },
        done: false,
        elapsedMs: 1234,
      },
      40,
    );
    expect(line).toBe(
      `request 7 [${'#'.repeat(18)}${'x'.repeat(2)}${'>'.repeat(10)}${'.'.repeat(10)}]  50% ` +
        'pending 250 sent 250 success 450 failure 50 1.2 s',
    );
  });

  it('marks the end', () => {
    const line = renderProgressLine({
      requestId: 1,
      total: 3,
      counts: { pending: 0, sent: 0, success: 2, failure: 1 },
      done: true,
      elapsedMs: 10,
    });
    expect(line).toMatch(/\[#+x+\] 100% .* done$/);
    expect(/\[(.*)\]/.exec(line)?.[1]).toHaveLength(40);
  });
});
