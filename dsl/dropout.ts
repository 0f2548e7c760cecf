/**
 * `dropout(rate)`: inverted dropout. At training each unit is zeroed with probability `rate` and
 * the survivors are scaled by 1 / (1 - rate); identity at inference. Sparse only while training,
 * unlike k-winners.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu, dropout } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), relu, dropout(0.5));
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import type { DropoutLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';

/** Shape and parameter rules of `dropout`. */
export const dropoutRule: LayerRule<DropoutLayer> = { outputShape: (_l, s) => E.right(s), params: () => ({ params: 0, nonzero: 0 }) };

/**
 * Inverted dropout with the given rate in [0, 1).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, dropout } from 'winnow/dsl';
 * pipe(input([784]), dense(1000), dropout(0.5)).shapes; // [[1000], [1000]]
 */
export const dropout = (rate: number, options: { readonly name?: string } = {}) => {
  requireValid('dropout: rate', rate, checks.rate);
  const layer: DropoutLayer = { kind: 'dropout', rate, ...(options.name !== undefined ? { name: options.name } : {}) };
  return <K extends OpenKind>(net: Network<K>): Network<'dropout'> => appendLayer(net, layer, dropoutRule);
};
