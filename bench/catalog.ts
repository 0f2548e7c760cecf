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
  /** Timed runs (of each kind); the median is reported. */
  readonly repetitions: number;
}

/**
 * Plans by speed class. The contenders the targets compare (winnow cpu, TF.js best) get short
 * runs and more of them, so that the medians shrug off bursts of load on a shared machine; the
 * slow ones (a few hundred samples/s at most) get fewer steps and runs, so the whole bench stays
 * within a few minutes on two cores.
 */
export const plans = {
  fast: { warmup: 8, steps: 24, inferenceCalls: 2, repetitions: 5 },
  medium: { warmup: 3, steps: 10, inferenceCalls: 2, repetitions: 3 },
  slow: { warmup: 1, steps: 4, inferenceCalls: 1, repetitions: 3 },
  quick: { warmup: 1, steps: 2, inferenceCalls: 1, repetitions: 1 },
} as const satisfies Readonly<Record<string, Plan>>;

/** A contender's plan (`quick`: the tiny plan the tests use; `repetitions` overrides the plan's). */
export const planFor = (id: ContenderId, quick: boolean, repetitions?: number): Plan => {
  const plan: Plan = quick ? plans.quick : id === 'reference' || id === 'gpujs:webasm' ? plans.slow : id === 'tfjs-stock' ? plans.medium : plans.fast;
  return repetitions === undefined ? plan : { ...plan, repetitions };
};
