import { requestFinished } from '../src/cli/request-finished';

const counts = (pending: number, sent: number, success: number, failure: number) => ({
  pending,
  sent,
  success,
  failure,
});

describe('requestFinished (status --watch ends)', () => {
  it('is not finished while orders of a complete write are not all counted yet, even if `done` says so', () => {
    // Right after a submission: nothing refreshed yet, so nothing counted, so the API says done.
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 0, 0),
        done: true,
      }),
    ).toBe(false);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 2, 0),
        done: true,
      }),
    ).toBe(false);
  });

  it('is finished when every order is counted and terminal', () => {
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 2, 1),
        done: true,
      }),
    ).toBe(true);
  });

  it('follows `done` for a partial write, whose missing orders never appear', () => {
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'partial' },
        counts: counts(0, 0, 2, 0),
        done: true,
      }),
    ).toBe(true);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'writing' },
        counts: counts(0, 0, 0, 0),
        done: false,
      }),
    ).toBe(false);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 1, 2, 0),
        done: false,
      }),
    ).toBe(false);
  });
});
