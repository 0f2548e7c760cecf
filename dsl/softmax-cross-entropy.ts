/**
 * `softmaxCrossEntropy`: the classification head. The network outputs logits; training
 * minimises the mean softmax cross-entropy against integer labels (computed stably). Nothing may
 * follow it (a compile-time error).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(10), softmaxCrossEntropy);
 */
import * as E from 'fp-ts/lib/Either.js';
import type { OpenKind, SoftmaxCrossEntropyLayer } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { formatShape } from './shape.ts';

/** Shape and parameter rules of the head: it needs a vector of logits. */
export const softmaxCrossEntropyRule: LayerRule<SoftmaxCrossEntropyLayer> = {
  outputShape: (_l, s) => (s.length === 1 ? E.right(s) : E.left(`expects a vector of logits [classes], got ${formatShape(s)} (add flatten and dense before it)`)),
  params: () => ({ params: 0, nonzero: 0 }),
};

/**
 * Ends a network with a softmax cross-entropy head.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * pipe(input([4]), dense(3), softmaxCrossEntropy).last; // 'softmaxCrossEntropy'
 */
export const softmaxCrossEntropy = <K extends OpenKind>(net: Network<K>): Network<'softmaxCrossEntropy'> =>
  appendLayer(net, { kind: 'softmaxCrossEntropy' }, softmaxCrossEntropyRule);
