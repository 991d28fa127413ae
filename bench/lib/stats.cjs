'use strict';
/**
 * Summary statistics shared by the benchmark runner (scripts/bench.mjs, ESM) and the benchmarks (TypeScript,
 * CommonJS): a `.cjs` file so that both can load it without a build step. Types: stats.d.cts.
 */

/** Median of a non-empty list (mean of the two middle values for an even count); NaN when empty. */
function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100); NaN when empty. */
function percentile(xs, p) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Median, extremes and spread ((max - min) / median, in %) of repeated measurements. */
function summarize(xs) {
  const values = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (values.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, spreadPct: NaN };
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { n: values.length, median: m, min, max, spreadPct: m === 0 ? 0 : ((max - min) / m) * 100 };
}

module.exports = { median, percentile, summarize };
