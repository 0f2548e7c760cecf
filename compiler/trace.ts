/**
 * Builds the IR of a network: one op per layer, with parameter and state ops for what each layer
 * owns. Shapes of activations are left for the `inferShapes` pass; parameter and state shapes are
 * set here (they are what the runtime allocates). Weight initialisation is recorded as attributes:
 * uniform in (-bound, bound) with bound = 1 / sqrt(fan-in kept per unit), PyTorch's default for
 * dense weights and nupic.torch's normalisation for sparse ones.
 */
import * as E from 'fp-ts/lib/Either.js';
import { keptInputsPerUnit } from '../dsl/density.ts';
import { kwtaSizes } from '../dsl/kwta.ts';
import type { Layer } from '../dsl/layer.ts';
import type { Network } from '../dsl/network.ts';
import type { Shape } from '../dsl/shape.ts';
import type { AttrValue, IR, Op, OpName } from './ir.ts';

/** Builds the (traced, shape-less) IR of a network. */
export const buildIR = (net: Network<any>): IR => {
  const ops: Op[] = [];
  const emit = (op: OpName, inputs: number[], attrs: Record<string, AttrValue>, extra: Partial<Op> = {}): number => {
    const id = ops.length;
    ops.push({ id, op, inputs, attrs, dtype: 'f32', batched: true, ...extra });
    return id;
  };
  const param = (layer: number, role: string, shape: Shape, init: string, bound?: number): number =>
    emit('param', [], { role, init, ...(bound !== undefined ? { bound } : {}), layer }, { shape, batched: false, layer });
  const state = (layer: number, role: string, shape: Shape, init: number): number =>
    emit('state', [], { role, init }, { shape, batched: false, layer });

  let x = emit('input', [], {}, { shape: net.input });
  net.layers.forEach((l: Layer, i: number) => {
    const inShape = i === 0 ? net.input : net.shapes[i - 1];
    const at = { layer: i };
    switch (l.kind) {
      case 'dense':
      case 'conv2d': {
        const fanIn = l.kind === 'dense' ? inShape[0] : inShape[0] * l.kernel * l.kernel;
        const units = l.kind === 'dense' ? l.units : l.filters;
        const kept = keptInputsPerUnit(l.weightDensity, fanIn);
        const bound = 1 / Math.sqrt(kept);
        const wShape = l.kind === 'dense' ? [units, fanIn] : [units, inShape[0], l.kernel, l.kernel];
        const w = param(i, 'weight', wShape, 'uniform', bound);
        const b = l.bias ? [param(i, 'bias', [units], 'uniform', 1 / Math.sqrt(fanIn))] : [];
        const common = { bias: l.bias, weightDensity: l.weightDensity, dropconnect: l.dropconnect, keptPerUnit: kept, fanIn };
        x = l.kind === 'dense'
          ? emit('dense', [x, w, ...b], { units, ...common }, at)
          : emit('conv2d', [x, w, ...b], { filters: l.filters, kernel: l.kernel, stride: l.stride, padding: l.padding, ...common }, at);
        break;
      }
      case 'maxPool2d':
        x = emit('maxPool2d', [x], { size: l.size }, at);
        break;
      case 'flatten':
      case 'relu':
      case 'softmaxCrossEntropy':
        x = emit(l.kind, [x], {}, at);
        break;
      case 'dropout':
        x = emit('dropout', [x], { rate: l.rate }, at);
        break;
      case 'batchNorm': {
        const c = inShape[0];
        const mean = state(i, 'runningMean', [c], 0);
        const variance = state(i, 'runningVar', [c], 1);
        const affine = l.affine ? [param(i, 'gamma', [c], 'ones'), param(i, 'beta', [c], 'zeros')] : [];
        x = emit('batchNorm', [x, mean, variance, ...affine], { affine: l.affine, momentum: l.momentum, epsilon: l.epsilon }, at);
        break;
      }
      case 'kwta': {
        const sizes = kwtaSizes(l, inShape);
        if (E.isLeft(sizes)) throw new Error(`trace: ${sizes.left}`); // the DSL already refused this
        const s = sizes.right;
        const dc = state(i, 'dutyCycle', [s.dutyCycles], 0);
        const strength = state(i, 'boostStrength', [1], l.boost?.strength ?? 0);
        x = emit('kwta', [x, dc, strength], {
          k: s.k, kInference: s.kInference, n: s.n, groups: s.groups, kInferenceFactor: l.kInferenceFactor,
          local: l.local, breakTies: l.breakTies, relu: l.relu,
          strengthFactor: l.boost?.strengthFactor ?? 1, dutyCyclePeriod: l.boost?.dutyCyclePeriod ?? 1000,
        }, at);
        break;
      }
    }
  });
  return { ops, output: x, inputShape: net.input };
};
