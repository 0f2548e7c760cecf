/**
 * winnow's network DSL: data-last combinators that compose with fp-ts `pipe`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse, kwta, boost, softmaxCrossEntropy } from 'winnow/dsl';
 * const sparseMlp = pipe(
 *   input([784]),
 *   dense(1000), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }),
 *   dense(1000), sparse(0.5), kwta({ percentOn: 0.1 }), boost({ strength: 1.5 }),
 *   dense(10), softmaxCrossEntropy,
 * );
 */
/**
 * fp-ts's `pipe`, re-exported so that a network module needs one import (it also resolves in
 * plain Node ESM, where the `fp-ts/function` subpath does not).
 *
 * @example
 * import { pipe, input, dense } from 'winnow/dsl';
 * pipe(input([4]), dense(2)).shapes; // [[2]]
 */
export { pipe } from 'fp-ts/lib/function.js';
export { batchNorm, type BatchNormOptions } from './batch-norm.ts';
export { boost, defaultBoost } from './boost.ts';
export { conv2d, type Conv2dOptions } from './conv2d.ts';
export { dense } from './dense.ts';
export type { ActivationDensity, WeightDensity } from './density.ts';
export { dropconnect } from './dropconnect.ts';
export { dropout } from './dropout.ts';
export { isWinnowError, ShapeError, WinnowError } from './errors.ts';
export { flatten } from './flatten.ts';
export { kwta, kwtaSizes, type KwtaOptions, type KwtaSizes } from './kwta.ts';
export type * from './layer.ts';
export { maxPool2d } from './max-pool2d.ts';
export { decodeModel, modelFormat, modelFromJSON, modelToJSON, type ModelJSON } from './model-file.ts';
export { readModelFile } from './read-model-file.ts';
export { input, limits, named, outputShape, withTraining, type Network, type TrainingDefaults } from './network.ts';
export { relu } from './relu.ts';
export { formatShape, shapeSize, type Shape } from './shape.ts';
export { softmaxCrossEntropy } from './softmax-cross-entropy.ts';
export { sparse } from './sparse.ts';
