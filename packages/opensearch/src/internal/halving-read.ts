/**
 * What every bounded read does when an answer is larger than its byte bound (`ResponseTooLargeError`): ask
 * again for half as many items, down to one; what to do with a single item still too large is the
 * caller's (read it without its largest field, skip it, or refuse).
 *
 * - `readHalving`: a page (the first `size` items of a search or of a list of ids). The result says how
 *   many items the read that answered asked for, so a caller can go on from there.
 * - `readInHalves`: every item of a list (a multi-get, a lookup by id): a list whose answer is too large is
 *   read as two halves, each halved again as needed.
 */
import { ResponseTooLargeError } from './bounded-read';

/**
 * Calls `read(size)`, then `read` with half the size (rounded up) while the answer is over the byte bound;
 * at a size of one, `whenOne` answers instead. Any other error is thrown as it is.
 */
export async function readHalving<T>(
  size: number,
  read: (size: number) => Promise<T>,
  whenOne: (error: ResponseTooLargeError) => Promise<T>,
): Promise<{ value: T; size: number }> {
  for (let n = Math.max(1, Math.floor(size)); ; n = Math.ceil(n / 2)) {
    try {
      return { value: await read(n), size: n };
    } catch (e) {
      if (!(e instanceof ResponseTooLargeError)) throw e;
      if (n === 1) return { value: await whenOne(e), size: 1 };
    }
  }
}

/**
 * `read(items)`, or, while an answer is over the byte bound, the same for each half in turn (results in
 * the order of `items`); a single item still too large is answered by `whenOne`.
 */
export async function readInHalves<I, T>(
  items: readonly I[],
  read: (items: readonly I[]) => Promise<T[]>,
  whenOne: (item: I, error: ResponseTooLargeError) => Promise<T[]>,
): Promise<T[]> {
  try {
    return await read(items);
  } catch (e) {
    if (!(e instanceof ResponseTooLargeError)) throw e;
    if (items.length <= 1) return items.length === 1 ? whenOne(items[0] as I, e) : [];
    const half = Math.ceil(items.length / 2);
    const first = await readInHalves(items.slice(0, half), read, whenOne);
    const second = await readInHalves(items.slice(half), read, whenOne);
    return [...first, ...second];
  }
}
