/**
 * `dropconnect(rate)`: DropConnect, a modifier of the `dense` or `conv2d` layer before it. At
 * training each weight is dropped with probability `rate` (a fresh mask per batch); at inference
 * the weights are used at their expectation.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, dropconnect } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), dropconnect(0.2));
 */
import { checks, requireValid } from './checks.ts';
import { conv2dRule } from './conv2d.ts';
import { denseRule } from './dense.ts';
import type { WeightedKind } from './layer.ts';
import { modifyLast, type Network } from './network.ts';

/**
 * Drops each weight with probability `rate` in [0, 1) at training.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, dropconnect } from 'winnow/dsl';
 * pipe(input([10]), dense(5), dropconnect(0.5));
 */
export const dropconnect = (rate: number) => {
  requireValid('dropconnect: rate', rate, checks.rate);
  return <K extends WeightedKind>(net: Network<K>): Network<K> =>
    modifyLast(net, 'dropconnect', ['dense', 'conv2d'], (l) => ({ ...l, dropconnect: rate }), net.last === 'dense' ? denseRule : conv2dRule);
};
