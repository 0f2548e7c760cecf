/**
 * `maxPool2d(size)`: max pooling over size x size windows with stride size,
 * `[c, h, w] -> [c, floor(h / size), floor(w / size)]`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, maxPool2d } from 'winnow/dsl';
 * pipe(input([32, 24, 24]), maxPool2d(2)).shapes; // [[32, 12, 12]]
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import type { MaxPool2dLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { formatShape } from './shape.ts';

/** Shape and parameter rules of `maxPool2d`. */
export const maxPool2dRule: LayerRule<MaxPool2dLayer> = {
  outputShape: (l, s) => {
    if (s.length !== 3) return E.left(`expects an image input [c, h, w], got ${formatShape(s)}`);
    if (s[1] < l.size || s[2] < l.size) return E.left(`window ${l.size}x${l.size} does not fit input ${formatShape(s)}`);
    return E.right([s[0], Math.floor(s[1] / l.size), Math.floor(s[2] / l.size)]);
  },
  params: () => ({ params: 0, nonzero: 0 }),
};

/**
 * Max pooling with a square window of `size` and stride `size`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, maxPool2d } from 'winnow/dsl';
 * pipe(input([1, 28, 28]), maxPool2d(2)).shapes; // [[1, 14, 14]]
 */
export const maxPool2d = (size: number, options: { readonly name?: string } = {}) => {
  requireValid('maxPool2d: size', size, checks.positiveInt);
  const layer: MaxPool2dLayer = { kind: 'maxPool2d', size, ...(options.name !== undefined ? { name: options.name } : {}) };
  return <K extends OpenKind>(net: Network<K>): Network<'maxPool2d'> => appendLayer(net, layer, maxPool2dRule);
};
