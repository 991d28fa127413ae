export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, in percent. */
  spreadPct: number;
}
export function median(xs: readonly number[]): number;
export function percentile(xs: readonly number[], p: number): number;
export function summarize(xs: readonly number[]): Summary;
