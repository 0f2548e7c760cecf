/**
 * `winnow/browser`: the library for browsers, one ES module (dist/browser.mjs, built by
 * runtime/bin/build.mjs with esbuild for `platform: 'browser'`). It holds the DSL, the model-file
 * codec, the compiler, and the runtime with the backends a browser can run: `reference`, `cpu`
 * (generated JavaScript and WebAssembly SIMD), `gpujs:webgl2`, `gpujs:webgpu` (where the browser
 * has `navigator.gpu`), `gpujs:webasm` and `gpujs:cpu`. Nothing here touches Node: models come
 * from JSON you fetch (`modelFromJSON`), not from files (`readModelFile` is Node only), and MNIST
 * bytes are yours to bring (`normalizeInto`, `evaluateImages`, `noiseTest` work on them).
 *
 * @example
 * import { modelFromJSON, trace, lower, initModelState, createModel, Rng } from 'winnow/browser';
 * const net = modelFromJSON(await (await fetch('sparse-mlp.json')).json());
 * const lowered = lower(trace(net));
 * const model = await createModel('gpujs:webgl2', lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }));
 * // x: 64 x 784 normalised pixels, labels: 64 bytes
 * // const { loss } = await model.trainStep(x, labels, 64, { lr: 0.01, momentum: 0.9, weightDecay: 0 }, 64, Rng.fromSeed(1, 2));
 * // const logits = await model.predict(x, 64);
 */
import { registerBackend } from './backend.ts';
import { cpuBackend } from './cpu/index.ts';
import { gpujsBackends } from './gpujs/backends.ts';
import { browserHost } from './gpujs/browser-host.ts';

// The DSL: everything `winnow/dsl` exports except `readModelFile` (it reads files: Node only).
export { pipe } from 'fp-ts/lib/function.js';
export { batchNorm, type BatchNormOptions } from '../dsl/batch-norm.ts';
export { boost, defaultBoost } from '../dsl/boost.ts';
export { conv2d, type Conv2dOptions } from '../dsl/conv2d.ts';
export { dense } from '../dsl/dense.ts';
export type { ActivationDensity, WeightDensity } from '../dsl/density.ts';
export { dropconnect } from '../dsl/dropconnect.ts';
export { dropout } from '../dsl/dropout.ts';
export { isWinnowError, ShapeError, WinnowError } from '../dsl/errors.ts';
export { flatten } from '../dsl/flatten.ts';
export { kwta, kwtaSizes, type KwtaOptions, type KwtaSizes } from '../dsl/kwta.ts';
export type * from '../dsl/layer.ts';
export { maxPool2d } from '../dsl/max-pool2d.ts';
export { decodeModel, modelFormat, modelFromJSON, modelToJSON, type ModelJSON } from '../dsl/model-file.ts';
export { input, limits, named, outputShape, withTraining, type Network, type TrainingDefaults } from '../dsl/network.ts';
export { relu } from '../dsl/relu.ts';
export { formatShape, shapeSize, type Shape } from '../dsl/shape.ts';
export { softmaxCrossEntropy } from '../dsl/softmax-cross-entropy.ts';
export { sparse } from '../dsl/sparse.ts';

// The compiler.
export * from '../compiler/index.ts';

// The runtime: backends, model state, training steps and evaluation.
export * from './backend.ts';
export type { GpujsDescription, GpujsMode, GpujsModel } from './gpujs/model.ts';
export { decayBoostStrengths, initModelState, stateLayout, type FloatType, type LayoutEntry, type ModelState, type StateTensor } from './model-state.ts';
export type { SgdSettings } from './optimizer.ts';
export { Rng } from './rng.ts';
export { evaluate, evaluateImages, noiseTest, type Classifier, type EvalResult, type NoiseResult } from './evaluate.ts';
export { MNIST_MEAN, MNIST_STD, NOISE_LEVELS, NOISE_VALUE, noisePixelCount, noisyImages, normalizeInto, type MnistSet } from './mnist-pixels.ts';

// The backends a browser can run besides `reference` (which backend.ts registers).
for (const { name, backend } of [cpuBackend, ...gpujsBackends(browserHost)]) registerBackend(name, backend);
