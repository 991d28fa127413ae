/**
 * A sweep: one run per seed, in order, with progress reported after each; every failing seed is kept with
 * the command that replays it.
 */
import type { BreakRule, RunOptions, RunResult } from './world';
import { runSeed, sweepOptions } from './world';

export interface SweepOptions {
  firstSeed: number;
  seeds: number;
  breakRule?: BreakRule;
  /** Stop at the first failing seed. */
  stopAtFirst?: boolean;
  /** Run options of a seed (default `sweepOptions`). */
  optionsFor?: (seed: number) => RunOptions;
  onProgress?: (done: number, total: number, failures: number, last: RunResult) => void;
}

export interface SweepResult {
  runs: number;
  failures: RunResult[];
  wallMs: number;
}

/** The command that replays one seed of the sweep. */
export function replayCommand(seed: number, breakRule?: BreakRule): string {
  return `pnpm sim --seed ${seed}${breakRule ? ` --break=${breakRule}` : ''} --verbose`;
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const started = performance.now();
  const failures: RunResult[] = [];
  let runs = 0;
  for (let i = 0; i < o.seeds; i++) {
    const seed = o.firstSeed + i;
    const result = await runSeed(o.optionsFor?.(seed) ?? sweepOptions(seed, o.breakRule));
    runs++;
    if (result.violation) failures.push(result);
    o.onProgress?.(runs, o.seeds, failures.length, result);
    if (result.violation && o.stopAtFirst) break;
  }
  return { runs, failures, wallMs: performance.now() - started };
}
