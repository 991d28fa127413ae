export interface TickerOptions {
  /** Run the task at `start()` (default) or first one interval later. */
  runAtStart?: boolean;
  /** Let the process exit while only this ticker's timer is pending. */
  unref?: boolean;
}

/**
 * Runs an async task now (or after one interval) and then every `intervalMs` (measured from the end of the
 * previous run, so runs never overlap), until stopped. `stop()` waits for a run in progress.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
    private readonly options: TickerOptions = {},
  ) {}

  start(): void {
    if (this.stopped || this.running || this.timer) return;
    if (this.options.runAtStart === false) this.schedule();
    else this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.run(), this.intervalMs);
    if (this.options.unref) this.timer.unref();
  }

  private run(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.running = this.task()
      .then(
        () => undefined,
        (e: unknown) => this.onError(e),
      )
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule();
      });
  }
}
