/** A clock tests move by hand (it satisfies core's `Clock`). */
export class ManualClock {
  /** The current time, in milliseconds since the epoch. */
  ms: number;

  constructor(start: Date | number = Date.parse('2025-01-01T00:00:00.000Z')) {
    this.ms = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  set(at: Date | number): void {
    this.ms = typeof at === 'number' ? at : at.getTime();
  }
}
