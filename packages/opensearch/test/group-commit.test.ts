import { GroupCommit } from '../src/internal/group-commit';

/** A `send` whose batches the test completes by hand. */
function manualSend() {
  const batches: Array<{ items: string[]; done: (fail?: Error) => void }> = [];
  const send = (items: string[]): Promise<string[]> =>
    new Promise((resolve, reject) => {
      batches.push({
        items,
        done: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `ok:${i}`))),
      });
    });
  return { batches, send };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('GroupCommit', () => {
  it('sends a call on an idle group at once, alone', async () => {
    const { batches, send } = manualSend();
    const group = new GroupCommit(send, { maxInflight: 1, maxWeight: 100 });
    const a = group.run(['a1', 'a2']);
    expect(batches.map((b) => b.items)).toEqual([['a1', 'a2']]);
    batches[0]?.done();
    expect(await a).toEqual(['ok:a1', 'ok:a2']);
  });

  it('calls made while batches are in flight share the next batch; each gets its own outcomes', async () => {
    const { batches, send } = manualSend();
    const group = new GroupCommit(send, { maxInflight: 1, maxWeight: 100 });
    const a = group.run(['a']);
    const b = group.run(['b1', 'b2']);
    const c = group.run(['c']);
    expect(batches).toHaveLength(1);
    batches[0]?.done();
    await settle();
    expect(batches.map((x) => x.items)).toEqual([['a'], ['b1', 'b2', 'c']]);
    batches[1]?.done();
    expect(await a).toEqual(['ok:a']);
    expect(await b).toEqual(['ok:b1', 'ok:b2']);
    expect(await c).toEqual(['ok:c']);
  });

  it('keeps up to maxInflight batches going and bounds a batch by weight, never splitting a call', async () => {
    const { batches, send } = manualSend();
    const group = new GroupCommit(send, { maxInflight: 2, maxWeight: 3 });
    const calls = [['a'], ['b'], ['c1', 'c2'], ['d1', 'd2', 'd3', 'd4'], ['e']].map((items) =>
      group.run(items),
    );
    expect(batches.map((x) => x.items)).toEqual([['a'], ['b']]);
    batches[0]?.done();
    await settle();
    // c (2) fits; d (4) would overflow 3, so it waits for the next batch, where it goes alone.
    expect(batches.map((x) => x.items)).toEqual([['a'], ['b'], ['c1', 'c2']]);
    batches[1]?.done();
    await settle();
    expect(batches[3]?.items).toEqual(['d1', 'd2', 'd3', 'd4']);
    for (const b of batches.slice(2)) b.done();
    await settle();
    expect(batches[4]?.items).toEqual(['e']);
    batches[4]?.done();
    expect((await Promise.all(calls)).map((o) => o.length)).toEqual([1, 1, 2, 4, 1]);
  });

  it('a failed batch fails every call in it, and the next batch still goes', async () => {
    const { batches, send } = manualSend();
    const group = new GroupCommit(send, { maxInflight: 1, maxWeight: 100 });
    const a = group.run(['a']);
    const b = group.run(['b']);
    const c = group.run(['c']);
    batches[0]?.done();
    await settle();
    batches[1]?.done(new Error('connection reset'));
    await expect(b).rejects.toThrow('connection reset');
    await expect(c).rejects.toThrow('connection reset');
    expect(await a).toEqual(['ok:a']);
    const d = group.run(['d']);
    expect(batches[2]?.items).toEqual(['d']);
    batches[2]?.done();
    expect(await d).toEqual(['ok:d']);
  });

  it('a send that answers the wrong number of outcomes fails its calls', async () => {
    const group = new GroupCommit(async () => ['only one'], { maxInflight: 1, maxWeight: 100 });
    await expect(group.run(['a', 'b'])).rejects.toThrow('1 outcomes for 2 items');
    expect(await group.run([])).toEqual([]);
  });
});
