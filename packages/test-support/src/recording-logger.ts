/** One line a `RecordingLogger` kept. */
export interface RecordedLine {
  level: string;
  message: string;
  meta?: Record<string, unknown>;
}

/**
 * A logger that keeps every line (it satisfies core's `Logger`), to assert what is (not) logged. Its
 * children write to the same lines.
 */
export class RecordingLogger {
  readonly lines: RecordedLine[];

  constructor(lines: RecordedLine[] = []) {
    this.lines = lines;
  }

  /** The same lines as `lines`. */
  get entries(): RecordedLine[] {
    return this.lines;
  }

  debug(message: string, meta?: Record<string, unknown>): void {
    this.record('debug', message, meta);
  }
  info(message: string, meta?: Record<string, unknown>): void {
    this.record('info', message, meta);
  }
  warn(message: string, meta?: Record<string, unknown>): void {
    this.record('warn', message, meta);
  }
  error(message: string, meta?: Record<string, unknown>): void {
    this.record('error', message, meta);
  }
  child(): RecordingLogger {
    return new RecordingLogger(this.lines);
  }

  private record(level: string, message: string, meta: Record<string, unknown> | undefined): void {
    this.lines.push({ level, message, ...(meta ? { meta } : {}) });
  }
}
