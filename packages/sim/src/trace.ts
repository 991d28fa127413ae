/**
 * The event trace of a run: every line is hashed (SHA-256, in order) so that two runs of one seed can be
 * compared by one digest, and the last lines are kept for a failure's excerpt.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';

export class Trace {
  private readonly hash: Hash = createHash('sha256');
  private readonly recent: string[] = [];
  lines = 0;

  constructor(
    private readonly clockMs: () => number,
    private readonly keep = 40,
    private readonly echo?: (line: string) => void,
  ) {}

  add(kind: string, detail: string): void {
    const line = `${this.clockMs()} ${kind} ${detail}`;
    this.hash.update(line);
    this.hash.update('\n');
    this.lines++;
    this.recent.push(line);
    if (this.recent.length > this.keep) this.recent.shift();
    this.echo?.(line);
  }

  /** The last lines recorded, oldest first. */
  excerpt(): string[] {
    return [...this.recent];
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }
}
