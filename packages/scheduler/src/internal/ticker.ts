/**
 * Runs an async task now and then every `intervalMs` (measured from the end of the previous run, so runs
 * never overlap), until stopped. `stop()` waits for a run in progress.
 */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(): void {
    if (this.stopped || this.running || this.timer) return;
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
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
        if (!this.stopped) this.timer = setTimeout(() => this.run(), this.intervalMs);
      });
  }
}
