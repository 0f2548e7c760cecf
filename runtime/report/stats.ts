/**
 * Summary statistics for reports: mean and sample standard deviation (n - 1 in the denominator,
 * 0 for a single value), as "mean +- std" across seeds.
 *
 * @example
 * import { meanStd } from 'winnow/runtime/report/stats';
 * meanStd([0.99, 0.98, 0.97]); // { n: 3, mean: 0.98, std: 0.01 }
 */

/** Mean and sample standard deviation of some values. */
export interface MeanStd {
  readonly n: number;
  readonly mean: number;
  readonly std: number;
}

/**
 * Mean and sample standard deviation (NaN mean for no values, std 0 for one).
 *
 * @example
 * meanStd([2, 4]); // { n: 2, mean: 3, std: 1.4142135623730951 }
 */
export const meanStd = (values: ReadonlyArray<number>): MeanStd => {
  const n = values.length;
  if (n === 0) return { n, mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, std: 0 };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { n, mean, std: Math.sqrt(ss / (n - 1)) };
};
