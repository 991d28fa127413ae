/**
 * Bounds the password verifications (scrypt) in progress: at most `maxConcurrent` run at once and at most
 * `maxQueued` wait; a verification beyond that is refused at once (`undefined`) rather than queued, so a
 * flood of logins cannot stretch every other caller's login to seconds nor hold unbounded memory.
 * scrypt runs on libuv's thread pool (4 threads by default, shared with file and DNS work), so a small
 * `maxConcurrent` also leaves threads for the rest of the process.
 */
export interface VerificationQueueOptions {
  /** Verifications running at once; default 2. */
  maxConcurrent?: number;
  /** Verifications waiting for a slot; default 32. */
  maxQueued?: number;
  /** Verifications running or waiting for one client address, so one address cannot fill the queue; default 4. */
  maxPerAddress?: number;
}

export class VerificationQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxPerAddress: number;
  private readonly perAddress = new Map<string, number>();

  constructor(options: VerificationQueueOptions = {}) {
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 2);
    this.maxQueued = Math.max(0, options.maxQueued ?? 32);
    this.maxPerAddress = Math.max(1, options.maxPerAddress ?? 4);
  }

  /**
   * Runs `work` when a slot is free; `undefined` (without running it) when the queue is full or `address`
   * already has `maxPerAddress` verifications running or waiting.
   */
  async run<T>(address: string, work: () => Promise<T>): Promise<{ value: T } | undefined> {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= this.maxPerAddress) return undefined;
    if (this.running >= this.maxConcurrent && this.waiting.length >= this.maxQueued) return undefined;
    this.perAddress.set(address, mine + 1);
    try {
      return await this.runInSlot(work);
    } finally {
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    }
  }

  private async runInSlot<T>(work: () => Promise<T>): Promise<{ value: T }> {
    if (this.running >= this.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return { value: await work() };
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter (`running` unchanged), so no newcomer overtakes it.
      if (next) next();
      else this.running--;
    }
  }

  get pending(): number {
    return this.running + this.waiting.length;
  }
}
