/**
 * Two different densities, deliberately different types:
 *
 * - {@link WeightDensity}: the fraction of a layer's *weights* that are kept (non-zero). Used by `sparse`.
 * - {@link ActivationDensity}: the fraction of a layer's *units* that are active after k-winners
 *   (`percentOn`). Used by `kwta`.
 *
 * Plain numbers are accepted for either, but a value typed as one cannot be passed where the
 * other is expected. winnow never says "sparsity" without saying which.
 *
 * @example
 * import type { WeightDensity, ActivationDensity } from 'winnow/dsl';
 * const kept: WeightDensity = 0.3;
 * const on: ActivationDensity = 0.1;
 * // const wrong: WeightDensity = on; // compile-time error
 */
export type WeightDensity = number & { readonly __density?: 'weight' };

/**
 * The fraction of units active after k-winners (`percentOn`). See {@link WeightDensity}.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, type ActivationDensity } from 'winnow/dsl';
 * const on: ActivationDensity = 0.05;
 * const net = pipe(input([784]), dense(1000), kwta({ percentOn: on })); // k = round(1000 x 0.05) = 50
 */
export type ActivationDensity = number & { readonly __density?: 'activation' };

/**
 * Python's `round()` (round half to even), which the reference implementation (nupic.torch)
 * uses for k = round(n x percentOn) and for the kept inputs per unit = round(density x fan_in).
 * A tiny tolerance treats values within 1e-9 of a half as the half.
 *
 * @example
 * import { roundHalfEven } from 'winnow/dsl/density';
 * roundHalfEven(2.5); // 2
 * roundHalfEven(307.2); // 307
 */
export const roundHalfEven = (x: number): number => {
  const f = Math.floor(x);
  const d = x - f;
  if (Math.abs(d - 0.5) < 1e-9) return f % 2 === 0 ? f : f + 1;
  return Math.round(x);
};

/**
 * The number of inputs each output unit keeps under a weight density: round(density x fanIn),
 * at least 1.
 *
 * @example
 * import { keptInputsPerUnit } from 'winnow/dsl/density';
 * keptInputsPerUnit(0.3, 1024); // 307
 */
export const keptInputsPerUnit = (density: WeightDensity, fanIn: number): number =>
  Math.min(fanIn, Math.max(1, roundHalfEven(density * fanIn)));

/**
 * k at inference: floor(k x kInferenceFactor), taken on the exact product (so 0.29 x 100 is 29).
 *
 * @example
 * import { inferenceK } from 'winnow/dsl/density';
 * inferenceK(400, 1.5); // 600
 */
export const inferenceK = (k: number, kInferenceFactor: number): number => Math.floor(k * kInferenceFactor + 1e-9);
