/**
 * `relu`: max(x, 0), elementwise; keeps its input's shape.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu } from 'winnow/dsl';
 * pipe(input([4]), dense(3), relu).shapes; // [[3], [3]]
 */
import * as E from 'fp-ts/lib/Either.js';
import type { OpenKind, ReluLayer } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';

/** Shape and parameter rules of `relu`. */
export const reluRule: LayerRule<ReluLayer> = { outputShape: (_l, s) => E.right(s), params: () => ({ params: 0, nonzero: 0 }) };

/**
 * max(x, 0), elementwise.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, relu } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), relu);
 */
export const relu = <K extends OpenKind>(net: Network<K>): Network<'relu'> => appendLayer(net, { kind: 'relu' }, reluRule);
