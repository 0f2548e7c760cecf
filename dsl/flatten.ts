/**
 * `flatten`: `[c, h, w] -> [c * h * w]`, channel-major (as PyTorch's flatten).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, flatten } from 'winnow/dsl';
 * pipe(input([64, 4, 4]), flatten).shapes; // [[1024]]
 */
import * as E from 'fp-ts/lib/Either.js';
import type { FlattenLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { shapeSize } from './shape.ts';

/** Shape and parameter rules of `flatten`. */
export const flattenRule: LayerRule<FlattenLayer> = { outputShape: (_l, s) => E.right([shapeSize(s)]), params: () => ({ params: 0, nonzero: 0 }) };

/**
 * Reshapes a feature map to a vector.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, flatten, dense } from 'winnow/dsl';
 * const net = pipe(input([1, 28, 28]), conv2d({ filters: 4, kernel: 5 }), flatten, dense(10));
 */
export const flatten = <K extends OpenKind>(net: Network<K>): Network<'flatten'> => appendLayer(net, { kind: 'flatten' }, flattenRule);
