/**
 * `conv2d({ filters, kernel, stride?, padding? })`: a 2-D convolution with square kernels,
 * `[c, h, w] -> [filters, (h + 2p - kernel) / stride + 1, (w + 2p - kernel) / stride + 1]`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d } from 'winnow/dsl';
 * pipe(input([1, 28, 28]), conv2d({ filters: 32, kernel: 5 })).shapes; // [[32, 24, 24]]
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import { keptInputsPerUnit } from './density.ts';
import type { Conv2dLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { formatShape } from './shape.ts';

/** Output size of a convolution along one axis (0 or less when the kernel does not fit). */
export const convOutputSize = (size: number, kernel: number, stride: number, padding: number): number =>
  Math.floor((size + 2 * padding - kernel) / stride) + 1;

/** Shape and parameter rules of `conv2d`. */
export const conv2dRule: LayerRule<Conv2dLayer> = {
  outputShape: (l, s) => {
    if (s.length !== 3) return E.left(`expects an image input [c, h, w], got ${formatShape(s)}`);
    const [, h, w] = s;
    if (h + 2 * l.padding < l.kernel || w + 2 * l.padding < l.kernel) {
      return E.left(`kernel ${l.kernel}x${l.kernel} with padding ${l.padding} does not fit input ${formatShape(s)}`);
    }
    return E.right([l.filters, convOutputSize(h, l.kernel, l.stride, l.padding), convOutputSize(w, l.kernel, l.stride, l.padding)]);
  },
  params: (l, s) => {
    const fanIn = s[0] * l.kernel * l.kernel;
    const bias = l.bias ? l.filters : 0;
    return { params: l.filters * fanIn + bias, nonzero: l.filters * keptInputsPerUnit(l.weightDensity, fanIn) + bias };
  },
};

/**
 * Options of `conv2d`: `filters` and a square `kernel` (positive integers), `stride` (default 1),
 * `padding` (zeros on every side, default 0) and `bias` (default true).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, type Conv2dOptions } from 'winnow/dsl';
 * const options: Conv2dOptions = { filters: 16, kernel: 3, stride: 2, padding: 1, bias: false };
 * const net = pipe(input([3, 32, 32]), conv2d(options));
 * net.shapes; // [[16, 16, 16]]
 * net.paramCounts; // [432] (16 x 3 x 3 x 3, no bias)
 */
export interface Conv2dOptions {
  readonly filters: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly padding?: number;
  readonly bias?: boolean;
  readonly name?: string;
}

/**
 * A 2-D convolution (stride 1 and no padding unless given).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d } from 'winnow/dsl';
 * pipe(input([1, 28, 28]), conv2d({ filters: 8, kernel: 3, padding: 1 })).shapes; // [[8, 28, 28]]
 */
export const conv2d = (options: Conv2dOptions) => {
  requireValid('conv2d: filters', options.filters, checks.positiveInt);
  requireValid('conv2d: kernel', options.kernel, checks.positiveInt);
  requireValid('conv2d: stride', options.stride ?? 1, checks.positiveInt);
  requireValid('conv2d: padding', options.padding ?? 0, checks.nonNegativeInt);
  const layer: Conv2dLayer = {
    kind: 'conv2d',
    filters: options.filters,
    kernel: options.kernel,
    stride: options.stride ?? 1,
    padding: options.padding ?? 0,
    weightDensity: 1,
    dropconnect: 0,
    bias: options.bias ?? true,
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  return <K extends OpenKind>(net: Network<K>): Network<'conv2d'> => appendLayer(net, layer, conv2dRule);
};
