/**
 * `batchNorm({ affine? })`: batch normalisation per feature (vectors) or per channel (feature
 * maps), with running statistics for inference. `affine: false` learns no scale and shift.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, batchNorm } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(100), batchNorm({ affine: false }));
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import type { BatchNormLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';

/** Shape and parameter rules of `batchNorm`: 2 parameters per channel when affine. */
export const batchNormRule: LayerRule<BatchNormLayer> = {
  outputShape: (_l, s) => E.right(s),
  params: (l, s) => (l.affine ? { params: 2 * s[0], nonzero: 2 * s[0] } : { params: 0, nonzero: 0 }),
};

/**
 * Options of `batchNorm` (PyTorch's defaults): `affine` true, `momentum` 0.1 in (0, 1],
 * `epsilon` 1e-5 (> 0). An affine layer learns 2 parameters per feature or channel.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, batchNorm, type BatchNormOptions } from 'winnow/dsl';
 * const options: BatchNormOptions = { momentum: 0.01, epsilon: 1e-3 };
 * pipe(input([784]), dense(100), batchNorm(options)).paramCounts; // [78500, 200]
 */
export interface BatchNormOptions {
  readonly affine?: boolean;
  readonly momentum?: number;
  readonly epsilon?: number;
  readonly name?: string;
}

/**
 * Batch normalisation (affine by default, momentum 0.1, epsilon 1e-5).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, batchNorm } from 'winnow/dsl';
 * const net = pipe(input([1, 28, 28]), conv2d({ filters: 8, kernel: 5 }), batchNorm());
 */
export const batchNorm = (options: BatchNormOptions = {}) => {
  const layer: BatchNormLayer = {
    kind: 'batchNorm',
    affine: options.affine ?? true,
    momentum: requireValid('batchNorm: momentum', options.momentum ?? 0.1, checks.unitHalfOpen),
    epsilon: requireValid('batchNorm: epsilon', options.epsilon ?? 1e-5, checks.positive),
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  return <K extends OpenKind>(net: Network<K>): Network<'batchNorm'> => appendLayer(net, layer, batchNormRule);
};
