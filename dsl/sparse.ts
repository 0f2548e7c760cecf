/**
 * `sparse(weightDensity)`: sparse weights, a modifier of the `dense` or `conv2d` layer before it.
 * Each output unit keeps exactly round(weightDensity x fan_in) of its inputs, chosen once at
 * random; the rest stay zero for the whole of training.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse } from 'winnow/dsl';
 * const net = pipe(input([1024]), dense(700), sparse(0.3)); // 307 inputs kept per unit
 */
import { checks, requireValid } from './checks.ts';
import { conv2dRule } from './conv2d.ts';
import type { WeightDensity } from './density.ts';
import { denseRule } from './dense.ts';
import type { WeightedKind } from './layer.ts';
import { modifyLast, type Network } from './network.ts';

/**
 * Keeps a fraction `weightDensity` in (0, 1] of each unit's weights.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, conv2d, sparse } from 'winnow/dsl';
 * pipe(input([1, 28, 28]), conv2d({ filters: 8, kernel: 5 }), sparse(0.5));
 */
export const sparse = (weightDensity: WeightDensity) => {
  requireValid('sparse: weightDensity', weightDensity, checks.weightDensity);
  return <K extends WeightedKind>(net: Network<K>): Network<K> =>
    modifyLast(net, 'sparse', ['dense', 'conv2d'], (l) => ({ ...l, weightDensity }), net.last === 'dense' ? denseRule : conv2dRule);
};
