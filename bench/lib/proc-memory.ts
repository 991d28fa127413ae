/**
 * Memory of another process, read from Linux's `/proc/<pid>/status` (proc(5)): `VmRSS` is its resident set
 * now, `VmHWM` the kernel's own high-water mark of it since the process started, so a peak between two
 * samples is never missed. Elsewhere (no /proc) the readers return undefined and figures say so.
 */
import { readFileSync } from 'node:fs';

export interface ProcMemory {
  rssBytes: number;
  /** Peak resident set since the process started. */
  hwmBytes: number;
}

export function readProcMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const rss = kb('VmRSS');
  const hwm = kb('VmHWM');
  return rss === undefined || hwm === undefined ? undefined : { rssBytes: rss, hwmBytes: hwm };
}

/**
 * Samples a process's RSS every `intervalMs` and keeps the largest sample per named phase, so that a
 * figure can be told apart from the process's lifetime peak (`VmHWM`).
 */
export class RssSampler {
  private readonly peaks = new Map<string, number>();
  private phase: string | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 20,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Samples taken from now on count towards `phase` (undefined: towards none). */
  enter(phase: string | undefined): void {
    this.sample();
    this.phase = phase;
    this.sample();
  }

  /** Largest RSS sampled during `phase`, in bytes. */
  peak(phase: string): number | undefined {
    return this.peaks.get(phase);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    if (this.phase === undefined) return;
    const m = readProcMemory(this.pid);
    if (m) this.peaks.set(this.phase, Math.max(this.peaks.get(this.phase) ?? 0, m.rssBytes));
  }
}
