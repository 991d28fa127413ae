import { HeldOrders } from '../src/held-orders';
import type { StoredOrder } from '@command-manager/core';
import { orders } from './support/fixtures';

function stored(id: string, rev: string): StoredOrder {
  const [order] = orders(1, 1, new Date('2025-01-01T00:00:00Z'));
  return { id, rev, order: order! };
}

describe('HeldOrders', () => {
  let now = 0;
  const clock = { nowMs: () => now };

  it('never hands out an order it holds, nor one seen again at the revision it was taken at', () => {
    const held = new HeldOrders(1000, 100, clock);
    expect(held.take([stored('a', '1'), stored('b', '1')]).map((o) => o.id)).toEqual(['a', 'b']);
    // A second claim while the batch is in flight.
    expect(held.take([stored('a', '1'), stored('c', '1')]).map((o) => o.id)).toEqual(['c']);
    expect(held.size).toBe(3);
    held.release([stored('a', '1'), stored('b', '1')]);
    expect(held.size).toBe(1);
    // A search that lags the verdict still shows `a` at revision 1: stale. `b` changed since: fresh.
    now = 500;
    expect(held.take([stored('a', '1'), stored('b', '2')]).map((o) => o.id)).toEqual(['b']);
    // Once the lag has passed, revision 1 of `a` is what the index holds (the verdict was never written).
    now = 1001;
    expect(held.take([stored('a', '1')]).map((o) => o.id)).toEqual(['a']);
  });

  it('takes at most the number asked and leaves the rest free', () => {
    const held = new HeldOrders(1000, 100, clock);
    expect(held.take([stored('a', '1'), stored('b', '1'), stored('c', '1')], 2).map((o) => o.id)).toEqual([
      'a',
      'b',
    ]);
    expect(held.size).toBe(2);
    expect(held.take([stored('c', '1')]).map((o) => o.id)).toEqual(['c']);
  });

  it('releases only what it holds', () => {
    const held = new HeldOrders(1000, 100, clock);
    held.release([stored('x', '1')]);
    expect(held.take([stored('x', '1')]).map((o) => o.id)).toEqual(['x']);
  });

  it('keeps the later revision of an order released twice when the earlier one is forgotten', () => {
    now = 0;
    const held = new HeldOrders(1000, 100, clock);
    held.take([stored('a', '1'), stored('b', '1')]);
    held.release([stored('a', '1'), stored('b', '1')]);
    // `a` came due again (revision 2) and was taken and released once more, later.
    now = 600;
    expect(held.take([stored('a', '2')]).map((o) => o.id)).toEqual(['a']);
    held.release([stored('a', '2')]);
    // The first release is forgotten: `b` at revision 1 is free again; `a` at revision 2 is still stale.
    now = 1001;
    expect(held.take([stored('a', '2'), stored('b', '1')]).map((o) => o.id)).toEqual(['b']);
    now = 1601;
    expect(held.take([stored('a', '2')]).map((o) => o.id)).toEqual(['a']);
  });

  it('remembers at most maxSpent revisions, forgetting the oldest first', () => {
    now = 0;
    const held = new HeldOrders(1000, 2, clock);
    const batch = [stored('a', '1'), stored('b', '1'), stored('c', '1')];
    held.take(batch);
    held.release(batch);
    // `a`, the oldest, was forgotten: a lagging search showing it at revision 1 hands it out again.
    expect(held.take(batch).map((o) => o.id)).toEqual(['a']);
  });
});
