/**
 * Simulated time: a priority queue of events ordered by (time, insertion sequence). `run` pops the earliest
 * event, moves the clock to it, runs it, then lets every promise continuation it released run to completion
 * (one macrotask turn: all microtasks drain first) before the next event. Product code on the simulated
 * paths awaits only simulated delays (`sleep`) and in-memory stores, so each event runs to a quiet point and
 * the interleaving is a function of the event order alone.
 */
import { setImmediate as macrotask } from 'node:timers/promises';

interface SimEvent {
  at: number;
  seq: number;
  run: () => void;
}

export class SimLoop {
  /** Simulated milliseconds since the start of the run. */
  now = 0;
  /** Events run so far. */
  steps = 0;
  private seq = 0;
  private readonly heap: SimEvent[] = [];

  /** Runs `fn` at simulated time `at` (not before now). */
  at(at: number, fn: () => void): void {
    this.push({ at: Math.max(this.now, at), seq: this.seq++, run: fn });
  }

  after(ms: number, fn: () => void): void {
    this.at(this.now + Math.max(0, ms), fn);
  }

  /** Resolves `ms` simulated milliseconds from now. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  get pending(): number {
    return this.heap.length;
  }

  /**
   * Runs events until none is left before `untilMs` (or `stop` says so); `afterStep` runs after each event
   * once its continuations have settled (the invariants are checked there).
   */
  async run(untilMs: number, afterStep: () => boolean | void): Promise<void> {
    for (;;) {
      const top = this.heap[0];
      if (!top || top.at > untilMs) break;
      this.pop();
      this.now = top.at;
      this.steps++;
      top.run();
      await macrotask();
      if (afterStep() === false) return;
    }
    this.now = Math.max(this.now, untilMs);
  }

  private push(e: SimEvent): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as SimEvent;
      if (!before(e, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r] as SimEvent, h[l] as SimEvent) ? r : l;
      if (!before(h[c] as SimEvent, last)) break;
      h[i] = h[c] as SimEvent;
      i = c;
    }
    h[i] = last;
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
