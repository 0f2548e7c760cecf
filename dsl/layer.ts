/**
 * The layers a network is made of, as plain immutable data. Each kind has its own module with
 * its combinator and its shape rule (`dense.ts`, `kwta.ts`, ...); this module only names them.
 *
 * @example
 * import type { Layer } from 'winnow/dsl';
 * const l: Layer = { kind: 'relu' };
 */
import type { ActivationDensity, WeightDensity } from './density.ts';

/** Settings shared by layers with a weight tensor (`dense`, `conv2d`). */
export interface WeightSettings {
  /** Fraction of weights kept per output unit (1 = dense). Set with `sparse`. */
  readonly weightDensity: WeightDensity;
  /** DropConnect rate on the weights at training (0 = off). Set with `dropconnect`. */
  readonly dropconnect: number;
  /** Whether the layer adds a bias. */
  readonly bias: boolean;
}

/** A fully connected layer: `[n] -> [units]`. */
export interface DenseLayer extends WeightSettings {
  readonly kind: 'dense';
  readonly units: number;
  readonly name?: string;
}

/** A 2-D convolution: `[c, h, w] -> [filters, h', w']`. */
export interface Conv2dLayer extends WeightSettings {
  readonly kind: 'conv2d';
  readonly filters: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly name?: string;
}

/** Max pooling with a square window and stride equal to its size. */
export interface MaxPool2dLayer {
  readonly kind: 'maxPool2d';
  readonly size: number;
  readonly name?: string;
}

/** `[c, h, w] -> [c * h * w]`. */
export interface FlattenLayer {
  readonly kind: 'flatten';
  readonly name?: string;
}

/** max(x, 0). */
export interface ReluLayer {
  readonly kind: 'relu';
  readonly name?: string;
}

/** Batch normalisation (per feature for vectors, per channel for feature maps). */
export interface BatchNormLayer {
  readonly kind: 'batchNorm';
  /** Learn a scale and shift (gamma, beta). */
  readonly affine: boolean;
  /** Running statistics momentum (PyTorch convention: new = (1 - m) x old + m x batch). */
  readonly momentum: number;
  readonly epsilon: number;
  readonly name?: string;
}

/** Boosting of a k-winners layer (a modifier: see `boost`). */
export interface BoostSettings {
  /** Initial boost strength (>= 0). */
  readonly strength: number;
  /** Multiplied into the strength once per epoch (0..1). */
  readonly strengthFactor: number;
  /** Duty-cycle averaging period in samples. */
  readonly dutyCyclePeriod: number;
}

/** k-winners-take-all. Exactly one of `percentOn` and `k` is set. */
export interface KwtaLayer {
  readonly kind: 'kwta';
  readonly percentOn?: ActivationDensity;
  readonly k?: number;
  readonly kInferenceFactor: number;
  /** For feature maps: winners per position over channels (true) or over C x H x W (false). */
  readonly local: boolean;
  /** Exactly k winners (ties broken by index) instead of every unit >= the k-th value. */
  readonly breakTies: boolean;
  /** Also zero negative winners. */
  readonly relu: boolean;
  /** Boosting; absent means strength 0 (duty cycles are still tracked). */
  readonly boost?: BoostSettings;
  readonly name?: string;
}

/** Inverted dropout at training, identity at inference. */
export interface DropoutLayer {
  readonly kind: 'dropout';
  readonly rate: number;
  readonly name?: string;
}

/** Softmax cross-entropy head: the network's output is the logits; training uses the loss. */
export interface SoftmaxCrossEntropyLayer {
  readonly kind: 'softmaxCrossEntropy';
  readonly name?: string;
}

/**
 * Any layer: a union discriminated by `kind` (what `Network.layers` holds). The per-kind
 * interfaces above are plain data; the combinators fill in every default.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse, relu, type Layer } from 'winnow/dsl';
 * const describe = (l: Layer): string => (l.kind === 'dense' ? `dense ${l.units} keeping ${l.weightDensity}` : l.kind);
 * pipe(input([784]), dense(100), sparse(0.5), relu).layers.map(describe); // ['dense 100 keeping 0.5', 'relu']
 */
export type Layer =
  | DenseLayer
  | Conv2dLayer
  | MaxPool2dLayer
  | FlattenLayer
  | ReluLayer
  | BatchNormLayer
  | KwtaLayer
  | DropoutLayer
  | SoftmaxCrossEntropyLayer;

/**
 * The kind tag of a layer.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu, type LayerKind } from 'winnow/dsl';
 * const kinds: LayerKind[] = pipe(input([4]), dense(3), relu).layers.map((l) => l.kind); // ['dense', 'relu']
 */
export type LayerKind = Layer['kind'];

/**
 * Layers that own a weight tensor (what `sparse` and `dropconnect` apply to).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse, type Network, type WeightedKind } from 'winnow/dsl';
 * const halfSparse = <K extends WeightedKind>(net: Network<K>): Network<K> => sparse(0.5)(net);
 * pipe(input([784]), dense(100), halfSparse); // halfSparse after relu is a compile-time error
 */
export type WeightedKind = 'dense' | 'conv2d';

/**
 * Every kind after which more layers may follow (everything but the head).
 *
 * @example
 * import type { OpenKind } from 'winnow/dsl';
 * const open: OpenKind = 'input';
 * // const closed: OpenKind = 'softmaxCrossEntropy'; // compile-time error
 */
export type OpenKind = 'input' | Exclude<LayerKind, 'softmaxCrossEntropy'>;

/**
 * Every layer kind, in a stable order. `winnow/dsl` re-exports it as a type only.
 *
 * @example
 * import type { layerKinds, LayerKind } from 'winnow/dsl';
 * type Kind = (typeof layerKinds)[number]; // the same union as LayerKind
 */
export const layerKinds: ReadonlyArray<LayerKind> = [
  'dense', 'conv2d', 'maxPool2d', 'flatten', 'relu', 'batchNorm', 'kwta', 'dropout', 'softmaxCrossEntropy',
];
