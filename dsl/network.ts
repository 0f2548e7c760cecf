/**
 * A network: an input shape and a list of layers, with every layer's output shape inferred as it
 * is added. Networks are immutable values built with data-last combinators and fp-ts `pipe`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu, softmaxCrossEntropy } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(100), relu, dense(10), softmaxCrossEntropy);
 * net.shapes; // [[100], [100], [10], [10]]
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid, type Check } from './checks.ts';
import { ShapeError, WinnowError } from './errors.ts';
import type { Layer, LayerKind } from './layer.ts';
import { formatShape, shapeSize, type Shape } from './shape.ts';

/**
 * Training hyperparameters a model file may carry as defaults (CLI flags override them). Attach
 * them with `withTraining`; each is checked (for example `lrGamma` in (0, 1], `momentum` in [0, 1)).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy, withTraining, type TrainingDefaults } from 'winnow/dsl';
 * const training: TrainingDefaults = { epochs: 10, batchSize: 64, lr: 0.02, lrGamma: 0.8 };
 * pipe(input([784]), dense(10), softmaxCrossEntropy, withTraining(training)).training; // { epochs: 10, batchSize: 64, lr: 0.02, lrGamma: 0.8 }
 */
export interface TrainingDefaults {
  readonly epochs?: number;
  readonly batchSize?: number;
  readonly firstEpochBatchSize?: number;
  readonly lr?: number;
  readonly lrGamma?: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
}

/**
 * A network whose last layer has kind `K` (`'input'` when it has no layers yet). The phantom
 * `last` lets TypeScript reject `boost` after anything but `kwta`, `sparse` after anything
 * without weights, and any layer after the `softmaxCrossEntropy` head.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, kwta, type Network } from 'winnow/dsl';
 * const net: Network<'kwta'> = pipe(input([784]), dense(100), kwta({ percentOn: 0.1 }));
 * net.shapes; // [[100], [100]]
 * net.paramCounts; // [78500, 0]
 */
export interface Network<K extends LayerKind | 'input' = LayerKind | 'input'> {
  readonly _tag: 'Network';
  /** Kind of the last layer (`'input'` if none). */
  readonly last: K;
  /** Per-sample input shape. */
  readonly input: Shape;
  readonly layers: ReadonlyArray<Layer>;
  /** Output shape of each layer, same length as `layers`. */
  readonly shapes: ReadonlyArray<Shape>;
  /** Parameter count of each layer, same length as `layers` (checked against `limits`). */
  readonly paramCounts: ReadonlyArray<number>;
  /** Optional model name (an identifier). */
  readonly name?: string;
  /** Training defaults carried with the model. */
  readonly training?: TrainingDefaults;
}

/**
 * Limits that keep a model (file) from making the process allocate absurd memory. The DSL and
 * the model-file decoder both refuse a network over any of them.
 *
 * @example
 * import { input, limits } from 'winnow/dsl';
 * limits.maxParams; // 67108864
 * // input([limits.maxDimension + 1]) throws "input: shape must be [n] or [c, h, w] of positive integers <= 65536, got [65537]"
 */
export const limits = {
  /** Most layers in a network. */
  maxLayers: 256,
  /** Largest single dimension of any shape. */
  maxDimension: 65_536,
  /** Most parameters in a network (2^26, 256 MiB as float32). */
  maxParams: 67_108_864,
  /** Most activations per sample, summed over all layers (2^22). */
  maxActivations: 4_194_304,
} as const;

/** A layer kind's static rules: output shape and parameter counts. */
export interface LayerRule<L extends Layer> {
  /** Output shape for an input shape, or a description of what was expected. */
  readonly outputShape: (layer: L, input: Shape) => E.Either<string, Shape>;
  /** Parameter count and non-zero parameter count (after the sparse-weight mask). */
  readonly params: (layer: L, input: Shape) => { readonly params: number; readonly nonzero: number };
}

/** An identifier: what `name` fields may hold. */
export const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** How the identifier rule reads in errors (DSL and model files alike). */
export const identifierRule = 'must be an identifier (a letter or _, then letters, digits or _; at most 64)';

/**
 * The start of every network: its per-sample input shape (`[n]` or `[c, h, w]`).
 *
 * @example
 * import { input } from 'winnow/dsl';
 * const start = input([1, 28, 28]);
 */
export const input = (shape: Shape, options: { readonly name?: string } = {}): Network<'input'> => {
  if (!(shape.length === 1 || shape.length === 3) || !shape.every((d) => Number.isInteger(d) && d > 0 && d <= limits.maxDimension)) {
    throw new WinnowError('shape', `input: shape must be [n] or [c, h, w] of positive integers <= ${limits.maxDimension}, got ${formatShape(shape)}`);
  }
  if (shapeSize(shape) > limits.maxActivations) {
    throw new WinnowError('shape', `input: ${shapeSize(shape)} values per sample exceed the limit of ${limits.maxActivations}`);
  }
  if (options.name !== undefined) checkName('input: name', options.name);
  return { _tag: 'Network', last: 'input', input: [...shape], layers: [], shapes: [], paramCounts: [], ...(options.name !== undefined ? { name: options.name } : {}) };
};

/**
 * The output shape of a network so far (its input shape when it has no layers).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, maxPool2d, outputShape } from 'winnow/dsl';
 * outputShape(pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 }), maxPool2d(2))); // [32, 12, 12]
 * outputShape(input([784])); // [784]
 */
export const outputShape = (net: Network<any>): Shape => (net.shapes.length ? net.shapes[net.shapes.length - 1] : net.input);

const checkName = (where: string, name: string): void => {
  if (!identifierPattern.test(name)) {
    throw new WinnowError('model', `${where}: ${identifierRule}, got ${JSON.stringify(name)}`);
  }
};

/** `layer 3 (dense)` */
export const layerLabel = (index: number, kind: string): string => `layer ${index} (${kind})`;

const checkLimits = (net: Network<any>): void => {
  if (net.layers.length > limits.maxLayers) {
    throw new ShapeError(undefined, undefined, `${net.layers.length} layers exceed the limit of ${limits.maxLayers}`);
  }
  const params = net.paramCounts.reduce((a, b) => a + b, 0);
  if (params > limits.maxParams) {
    throw new ShapeError(undefined, undefined, `${params} parameters exceed the limit of ${limits.maxParams}`);
  }
  const acts = net.shapes.reduce((a, s) => a + shapeSize(s), shapeSize(net.input));
  if (acts > limits.maxActivations) {
    throw new ShapeError(undefined, undefined, `${acts} activations per sample exceed the limit of ${limits.maxActivations}`);
  }
};

/**
 * Appends a layer, inferring its output shape; a mismatch throws a `WinnowError` naming the
 * layer (index and kind) and both shapes. Used by every layer combinator.
 */
export const appendLayer = <K extends LayerKind>(net: Network<any>, layer: Layer & { readonly kind: K }, rule: LayerRule<any>): Network<K> => {
  const index = net.layers.length;
  if (net.last === 'softmaxCrossEntropy') {
    throw new ShapeError(index, layer.kind, 'nothing may follow the softmaxCrossEntropy head');
  }
  if (layer.name !== undefined) checkName(`${layerLabel(index, layer.kind)}: name`, layer.name);
  const inShape = outputShape(net);
  const out = rule.outputShape(layer, inShape);
  if (E.isLeft(out)) {
    throw new ShapeError(index, layer.kind, out.left);
  }
  if (out.right.some((d) => d > limits.maxDimension)) {
    throw new ShapeError(index, layer.kind, `output ${formatShape(out.right)} has a dimension over the limit of ${limits.maxDimension}`);
  }
  if (!out.right.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ShapeError(index, layer.kind, `input ${formatShape(inShape)} gives an empty output ${formatShape(out.right)}`);
  }
  const next: Network<K> = {
    ...net,
    last: layer.kind,
    layers: [...net.layers, layer],
    shapes: [...net.shapes, out.right],
    paramCounts: [...net.paramCounts, rule.params(layer, inShape).params],
  };
  checkLimits(next);
  return next;
};

/**
 * Replaces the last layer (used by modifiers such as `sparse` and `boost`), re-checking it.
 */
export const modifyLast = <K extends LayerKind>(
  net: Network<K>,
  modifier: string,
  appliesTo: ReadonlyArray<LayerKind>,
  f: (l: Layer & { kind: K }) => Layer & { kind: K },
  rule: LayerRule<any>,
): Network<K> => {
  const index = net.layers.length - 1;
  // TypeScript already rejects misuse; this guards plain JavaScript callers.
  if (index < 0 || !appliesTo.includes(net.layers[index].kind)) {
    throw new ShapeError(index < 0 ? undefined : index, index < 0 ? undefined : net.layers[index].kind, `${modifier} applies to the ${appliesTo.join(' or ')} layer before it, not to ${index < 0 ? 'the input' : `a ${net.layers[index].kind} layer`}`);
  }
  const prev: Network<any> = {
    ...net,
    last: index === 0 ? 'input' : net.layers[index - 1].kind,
    layers: net.layers.slice(0, index),
    shapes: net.shapes.slice(0, index),
    paramCounts: net.paramCounts.slice(0, index),
  };
  return appendLayer<K>(prev, f(net.layers[index] as Layer & { kind: K }) as Layer & { kind: K }, rule);
};

/**
 * Names a network (an identifier).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, named } from 'winnow/dsl';
 * const net = pipe(input([4]), dense(2), named('tiny'));
 */
export const named = (name: string) => <K extends LayerKind | 'input'>(net: Network<K>): Network<K> => {
  checkName('network: name', name);
  return { ...net, name };
};

/**
 * Attaches training defaults to a network (CLI flags override them).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy, withTraining } from 'winnow/dsl';
 * const net = pipe(input([4]), dense(2), softmaxCrossEntropy, withTraining({ lr: 0.02, epochs: 10 }));
 */
export const withTraining = (training: TrainingDefaults) => {
  for (const [key, value] of Object.entries(training)) {
    const check = Object.prototype.hasOwnProperty.call(trainingChecks, key) ? trainingChecks[key as keyof TrainingDefaults] : undefined;
    if (check === undefined) throw new WinnowError('model', `training.${key}: unknown field`);
    requireValid(`training.${key}`, value as number, check);
  }
  return <K extends LayerKind | 'input'>(net: Network<K>): Network<K> => ({ ...net, training: { ...net.training, ...training } });
};

/** The rule each training default obeys (shared with the model-file codec). */
export const trainingChecks: { readonly [F in keyof TrainingDefaults]-?: Check } = {
  epochs: checks.positiveInt,
  batchSize: checks.positiveInt,
  firstEpochBatchSize: checks.positiveInt,
  lr: checks.positive,
  lrGamma: checks.unitHalfOpen,
  momentum: checks.momentum,
  weightDecay: checks.nonNegative,
};
