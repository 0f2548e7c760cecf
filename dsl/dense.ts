/**
 * `dense(units)`: a fully connected layer, `[n] -> [units]`.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, sparse } from 'winnow/dsl';
 * const net = pipe(input([784]), dense(1000), sparse(0.5)); // each unit keeps 392 of its 784 inputs
 */
import * as E from 'fp-ts/lib/Either.js';
import { checks, requireValid } from './checks.ts';
import { keptInputsPerUnit } from './density.ts';
import type { DenseLayer, OpenKind } from './layer.ts';
import { appendLayer, type LayerRule, type Network } from './network.ts';
import { formatShape } from './shape.ts';

/** Shape and parameter rules of `dense`. */
export const denseRule: LayerRule<DenseLayer> = {
  outputShape: (layer, s) =>
    s.length === 1 ? E.right([layer.units]) : E.left(`expects a vector input [n], got ${formatShape(s)} (add flatten before it)`),
  params: (layer, s) => {
    const fanIn = s[0];
    const bias = layer.bias ? layer.units : 0;
    return { params: layer.units * fanIn + bias, nonzero: layer.units * keptInputsPerUnit(layer.weightDensity, fanIn) + bias };
  },
};

/**
 * A fully connected layer with `units` outputs (and a bias unless `bias: false`).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * pipe(input([784]), dense(10)).shapes; // [[10]]
 */
export const dense = (units: number, options: { readonly bias?: boolean; readonly name?: string } = {}) => {
  requireValid('dense: units', units, checks.positiveInt);
  const layer: DenseLayer = {
    kind: 'dense',
    units,
    weightDensity: 1,
    dropconnect: 0,
    bias: options.bias ?? true,
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  return <K extends OpenKind>(net: Network<K>): Network<'dense'> => appendLayer(net, layer, denseRule);
};
