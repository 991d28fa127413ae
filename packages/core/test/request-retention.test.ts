import { InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { RequestRecord } from '../src/model';
import { RequestRetention } from '../src/request-retention';
import { ManualClock } from './helpers/fixtures';

const HOUR = 3_600_000;

function record(requestId: number, createdAt: Date, writeState: RequestRecord['write_state']): RequestRecord {
  return {
    request_id: requestId,
    created_at: createdAt.toISOString(),
    principal: 'alice',
    command: {
      source: 'Users/Services',
      user: 'alice',
      target: { type: 'agent', id: 'a1' },
      action: { name: 'restart', args: {} },
      timeout: 60,
    },
    total_orders: 1,
    unresolved: [],
    write_state: writeState,
    rollout_stopped_at: null,
  };
}

describe('RequestRetention', () => {
  it('deletes keys and finished records past their retention, page by page, and keeps the rest', async () => {
    const clock = new ManualClock(new Date('2030-01-10T00:00:00.000Z'));
    const requests = new InMemoryRequestStore({ orders: new InMemoryOrderStore() });
    const t0 = clock.now();
    for (let i = 0; i < 7; i++) {
      await requests.reserveIdempotency(`old-${i}`, 'fp', { now: t0, reservationTtlMs: HOUR });
      await requests.createRequest(record(i + 1, t0, 'complete'));
    }
    await requests.createRequest(record(100, t0, 'writing'));
    clock.advance(30 * HOUR);
    await requests.reserveIdempotency('fresh', 'fp', { now: clock.now(), reservationTtlMs: HOUR });
    await requests.createRequest(record(200, clock.now(), 'complete'));

    const retention = new RequestRetention({
      requests,
      idempotencyRetentionMs: 24 * HOUR,
      requestRetentionMs: 24 * HOUR,
      pageSize: 3,
      clock,
    });
    expect(await retention.run()).toBe(14);
    expect(await retention.run()).toBe(0);
    for (let i = 1; i <= 7; i++) expect(await requests.getRequest(i)).toBeUndefined();
    expect((await requests.getRequest(100))?.write_state).toBe('writing');
    expect(await requests.getRequest(200)).toBeDefined();
    // A removed key is new again; the fresh one is still reserved.
    expect(
      await requests.reserveIdempotency('old-0', 'fp2', { now: clock.now(), reservationTtlMs: HOUR }),
    ).toBe(undefined);
    expect(
      (await requests.reserveIdempotency('fresh', 'fp', { now: clock.now(), reservationTtlMs: HOUR }))
        ?.fingerprint,
    ).toBe('fp');
  });
});
