import { isRequestDone, type RequestRecord, type StatusCounts } from '@command-manager/core';

/** The parts of `GET /requests/:id` that `status --watch` decides on. */
function requestFinished(
  p: {
    request: Pick<RequestRecord, 'total_orders' | 'write_state' | 'live_until'>;
    counts: StatusCounts;
  },
  now = new Date('2026-01-01T00:00:00.000Z'),
): boolean {
  return isRequestDone(p.request as RequestRecord, p.counts, now);
}

const counts = (pending: number, sent: number, success: number, failure: number) => ({
  pending,
  sent,
  success,
  failure,
});

describe('isRequestDone (status --watch ends)', () => {
  it('is not finished while orders of a complete write are not all counted yet, even with none pending or sent', () => {
    // Right after a submission: nothing refreshed yet, so nothing counted.
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 0, 0),
      }),
    ).toBe(false);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 2, 0),
      }),
    ).toBe(false);
  });

  it('is finished when every order is counted and terminal', () => {
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 0, 2, 1),
      }),
    ).toBe(true);
  });

  it('does not wait for the missing orders of a partial write, which never appear', () => {
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'partial' },
        counts: counts(0, 0, 2, 0),
      }),
    ).toBe(true);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'writing' },
        counts: counts(0, 0, 0, 0),
      }),
    ).toBe(false);
    expect(
      requestFinished({
        request: { total_orders: 3, write_state: 'complete' },
        counts: counts(0, 1, 2, 0),
      }),
    ).toBe(false);
  });

  it('a live request is not done while its window is open, whatever its orders', () => {
    const request = {
      total_orders: 3,
      write_state: 'complete' as const,
      live_until: '2026-01-01T01:00:00.000Z',
    };
    expect(requestFinished({ request, counts: counts(0, 0, 3, 0) })).toBe(false);
    expect(requestFinished({ request, counts: counts(0, 0, 3, 0) }, new Date(request.live_until))).toBe(true);
    expect(
      requestFinished({ request, counts: counts(0, 1, 3, 0) }, new Date('2026-01-02T00:00:00.000Z')),
    ).toBe(false);
  });
});
