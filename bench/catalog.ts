/**
 * What `npm run bench` measures: the contenders (winnow backends and TensorFlow.js variants), the
 * models (the MLP 784-1000-1000-10 as dense, dropout and sparse model files) and how much work
 * each contender gets per repetition.
 *
 * @example
 * import { contenders, benchModels, planFor } from './catalog.ts';
 * planFor('reference', false).steps; // fewer steps than the fast contenders
 */

/** Who is measured. */
export const contenderIds = ['cpu', 'reference', 'gpujs:webasm', 'tfjs-stock', 'tfjs-best'] as const;
export type ContenderId = (typeof contenderIds)[number];

/** A contender and how the table names it. */
export interface ContenderInfo {
  readonly id: ContenderId;
  readonly label: string;
  readonly library: 'winnow' | 'tfjs';
}

/** The contenders, in table order. */
export const contenders: ReadonlyArray<ContenderInfo> = [
  { id: 'cpu', label: 'winnow cpu', library: 'winnow' },
  { id: 'reference', label: 'winnow reference', library: 'winnow' },
  { id: 'gpujs:webasm', label: 'winnow gpujs:webasm', library: 'winnow' },
  { id: 'tfjs-stock', label: 'TF.js wasm stock', library: 'tfjs' },
  { id: 'tfjs-best', label: 'TF.js wasm best', library: 'tfjs' },
];

/** The models. */
export const modelIds = ['dense', 'dropout', 'sparse'] as const;
export type ModelId = (typeof modelIds)[number];

/** A model and its file (relative to the repository root). */
export interface ModelInfo {
  readonly id: ModelId;
  readonly file: string;
  readonly description: string;
}

export const benchModels: ReadonlyArray<ModelInfo> = [
  { id: 'dense', file: 'examples/models/dense-mlp.json', description: 'dense MLP 784-1000-1000-10, ReLU' },
  { id: 'dropout', file: 'examples/models/dropout-mlp.json', description: 'the dense MLP with dropout 0.5 after each hidden layer' },
  { id: 'sparse', file: 'bench/models/sparse-mlp-30.json', description: 'hidden layers keep 30% of weights, k-winners 10% (100 of 1000), boost 1.5, duty-cycle period 1000' },
];

/** Work per repetition of one contender on one model. */
export interface Plan {
  /** Untimed training steps (and one untimed predict) before the first timed run. */
  readonly warmup: number;
  /** Training steps (batch 64) per timed run. */
  readonly steps: number;
  /** predict calls (batch 1000) per timed run. */
  readonly inferenceCalls: number;
}

/** Plans by speed class: slow contenders (hundreds of samples/s at most) take fewer steps. */
export const plans = {
  fast: { warmup: 5, steps: 40, inferenceCalls: 2 },
  medium: { warmup: 3, steps: 12, inferenceCalls: 2 },
  slow: { warmup: 1, steps: 4, inferenceCalls: 1 },
  quick: { warmup: 1, steps: 2, inferenceCalls: 1 },
} as const satisfies Readonly<Record<string, Plan>>;

/** A contender's plan (`quick`: the tiny plan the tests use). */
export const planFor = (id: ContenderId, quick: boolean): Plan => {
  if (quick) return plans.quick;
  if (id === 'reference' || id === 'gpujs:webasm') return plans.slow;
  if (id === 'tfjs-stock') return plans.medium;
  return plans.fast;
};

/** Default repetitions (timed runs per contender and model; medians are reported). */
export const defaultRepetitions = 3;
