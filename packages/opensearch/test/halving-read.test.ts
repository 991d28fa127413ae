/**
 * The answer-too-large rule of every bounded read (internal/halving-read.ts), with reads that fail as
 * `boundedJson` does when an answer would hold more than a given number of items.
 */
import { ResponseTooLargeError } from '../src/internal/bounded-read';
import { readHalving, readInHalves } from '../src/internal/halving-read';

const BOUND = 1024;

/** A read of `n` items whose answer fits only up to `fits` items; records the sizes asked. */
function pageRead(fits: number, asked: number[]): (n: number) => Promise<number[]> {
  return (n) => {
    asked.push(n);
    if (n > fits) return Promise.reject(new ResponseTooLargeError(BOUND));
    return Promise.resolve(Array.from({ length: n }, (_, i) => i));
  };
}

describe('readHalving', () => {
  it('answers at once when the first read fits', async () => {
    const asked: number[] = [];
    const read = await readHalving(100, pageRead(100, asked), () => Promise.reject(new Error('not reached')));
    expect({ size: read.size, items: read.value.length, asked }).toEqual({
      size: 100,
      items: 100,
      asked: [100],
    });
  });

  it('halves, rounding up, until a read fits, and says which size answered', async () => {
    const asked: number[] = [];
    const read = await readHalving(1000, pageRead(70, asked), () => Promise.reject(new Error('not reached')));
    expect(asked).toEqual([1000, 500, 250, 125, 63]);
    expect({ size: read.size, items: read.value.length }).toEqual({ size: 63, items: 63 });
  });

  it('hands a single item still too large to whenOne, with the bound, and answers what it answers', async () => {
    const asked: number[] = [];
    const seen: number[] = [];
    const read = await readHalving(5, pageRead(0, asked), (e) => {
      seen.push(e.maxBytes);
      return Promise.resolve([-1]);
    });
    expect(asked).toEqual([5, 3, 2, 1]);
    expect(seen).toEqual([BOUND]);
    expect(read).toEqual({ value: [-1], size: 1 });
    await expect(
      readHalving(2, pageRead(0, []), () => Promise.reject(new Error('refused: one item too large'))),
    ).rejects.toThrow('refused: one item too large');
  });

  it('throws any other error as it is, without asking again', async () => {
    const asked: number[] = [];
    const failing = (n: number): Promise<number[]> => {
      asked.push(n);
      return Promise.reject(new Error('store unavailable'));
    };
    await expect(readHalving(8, failing, () => Promise.resolve([]))).rejects.toThrow('store unavailable');
    expect(asked).toEqual([8]);
  });

  it('asks for at least one item', async () => {
    const asked: number[] = [];
    await readHalving(0, pageRead(10, asked), () => Promise.resolve([]));
    expect(asked).toEqual([1]);
  });
});

describe('readInHalves', () => {
  /** Reads ids; an answer holding more than `fits` ids, or any id in `huge`, is too large. */
  function idsRead(fits: number, huge: ReadonlySet<string>, calls: string[][]) {
    return (ids: readonly string[]): Promise<string[]> => {
      calls.push([...ids]);
      if (ids.length > fits || ids.some((id) => huge.has(id)))
        return Promise.reject(new ResponseTooLargeError(BOUND));
      return Promise.resolve(ids.map((id) => `read ${id}`));
    };
  }
  const ids = ['a', 'b', 'c', 'd', 'e'];

  it('reads every item, in order, splitting only what is too large', async () => {
    const calls: string[][] = [];
    const read = await readInHalves(ids, idsRead(2, new Set(), calls), () => Promise.reject(new Error('x')));
    expect(read).toEqual(ids.map((id) => `read ${id}`));
    expect(calls).toEqual([ids, ['a', 'b', 'c'], ['a', 'b'], ['c'], ['d', 'e']]);
  });

  it('answers a single item too large with whenOne, and reads the others', async () => {
    const calls: string[][] = [];
    const read = await readInHalves(ids, idsRead(10, new Set(['d']), calls), (id, e) =>
      Promise.resolve([`${id} without args (${e.maxBytes})`]),
    );
    expect(read).toEqual(['read a', 'read b', 'read c', `d without args (${BOUND})`, 'read e']);
  });

  it('stops at the first refusal of whenOne, and at any other error', async () => {
    await expect(
      readInHalves(ids, idsRead(10, new Set(['b']), []), (id) =>
        Promise.reject(new Error(`agent ${id} too large`)),
      ),
    ).rejects.toThrow('agent b too large');
    await expect(
      readInHalves(
        ids,
        () => Promise.reject(new Error('store unavailable')),
        () => Promise.resolve([]),
      ),
    ).rejects.toThrow('store unavailable');
  });
});
