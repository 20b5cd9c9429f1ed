/**
 * Latency statistics for the runtime tests and the baseline tool.
 * @module
 */

/**
 * The p-th percentile of `xs` (0 ≤ p ≤ 100) by the nearest-rank method: the smallest value
 * that at least p% of the samples are ≤. Throws on an empty list or p out of range.
 */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new RangeError("percentile of an empty list");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** Summary of a sample: count, min, max, mean and the usual percentiles. */
export interface Summary {
  n: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Summarises `xs` (non-empty); values are rounded to 0.1. */
export function summary(xs: readonly number[]): Summary {
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: xs.length,
    min: r(Math.min(...xs)),
    max: r(Math.max(...xs)),
    mean: r(xs.reduce((a, b) => a + b, 0) / xs.length),
    p50: r(percentile(xs, 50)),
    p90: r(percentile(xs, 90)),
    p99: r(percentile(xs, 99)),
  };
}
