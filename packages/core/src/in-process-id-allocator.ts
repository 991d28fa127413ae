import { CommandManagerError, ErrorCodes } from './errors';
import type { RequestIdAllocator } from './ports';

/**
 * Request ids for one process (tests, embedding without a cluster): strictly increasing from `start`.
 * A cluster of command managers needs the OpenSearch allocator instead: this one is unique only within its
 * own process.
 */
export class InProcessIdAllocator implements RequestIdAllocator {
  private last: number;

  /** `start` is the first id handed out (default 1). */
  constructor(start = 1) {
    if (!Number.isSafeInteger(start) || start < 0)
      throw new RangeError(`start must be a non-negative safe integer, got ${start}`);
    this.last = start - 1;
  }

  next(): Promise<number> {
    this.last += 1;
    return Promise.resolve(this.last);
  }

  /** `n` consecutive ids (the port asks only for unique and increasing). */
  nextBlock(n: number): Promise<number[]> {
    if (!Number.isSafeInteger(n) || n < 1) {
      return Promise.reject(
        new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `n must be a positive integer, got ${n}`),
      );
    }
    const first = this.last + 1;
    this.last += n;
    return Promise.resolve(Array.from({ length: n }, (_, i) => first + i));
  }
}
