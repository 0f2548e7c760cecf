/**
 * A model's state: parameters, their sparse-weight masks and optimizer buffers, and the layers'
 * state (duty cycles, boost strengths, running statistics). Every backend reads and writes this
 * same structure, and checkpoints store exactly it, so a model trained on one backend can be
 * evaluated on another.
 *
 * Tensor names are made by winnow from layer indices (`l3.weight`, `l3.weight.mask`,
 * `l3.weight.momentum`, `l4.dutyCycle`), never from names in a model file.
 *
 * @example
 * import { initModelState } from 'winnow/runtime/model-state';
 * // const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
 */
import { shapeSize } from '../dsl/shape.ts';
import type { Shape } from '../dsl/shape.ts';
import type { Op } from '../compiler/ir.ts';
import type { Lowered } from '../compiler/stages.ts';
import type { Arr } from './reference/kernel.ts';
import { Rng } from './rng.ts';

/** The float type a model computes and stores in. */
export type FloatType = 'float32' | 'float64';

/** One named tensor of the state. */
export interface StateTensor {
  readonly name: string;
  readonly shape: Shape;
  readonly data: Arr;
}

/** Everything a model owns besides its architecture. */
export interface ModelState {
  readonly dtype: FloatType;
  /** Parameters and layer state, by the name of their IR source op. */
  readonly tensors: Map<string, StateTensor>;
  /** Sparse-weight masks (1 = kept), by weight name; only for weights with density < 1. */
  readonly masks: Map<string, Uint8Array>;
  /** SGD momentum buffers, by parameter name. */
  readonly momentum: Map<string, Arr>;
}

/** The state tensor name of a `param` or `state` op (`l3.weight`, `l4.dutyCycle`). */
export const sourceName = (op: Op): string => `l${op.layer}.${op.attrs.role as string}`;

/** A zeroed float array of a type. */
export const allocFloat = (dtype: FloatType, n: number): Arr => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));

/** The mask of a weight op: each output unit (row) keeps `keptPerUnit` of its `fanIn` inputs, chosen at random. */
const makeMask = (rng: Rng, units: number, fanIn: number, kept: number): Uint8Array => {
  const mask = new Uint8Array(units * fanIn);
  const scratch = new Int32Array(fanIn);
  for (let u = 0; u < units; u++) {
    const chosen = rng.sample(fanIn, kept, scratch);
    for (let j = 0; j < kept; j++) mask[u * fanIn + chosen[j]] = 1;
  }
  return mask;
};

/** One tensor a model's state holds, as its IR implies it. */
export interface LayoutEntry {
  /** The `param` or `state` op it comes from. */
  readonly op: Op;
  readonly name: string;
  readonly shape: Shape;
  /** For sparse weights: each of `shape[0]` units keeps `kept` of its `fanIn` inputs. */
  readonly mask?: { readonly fanIn: number; readonly kept: number };
}

/** The tensors a model's state holds (params, with momentum, and layer state), in IR order. */
export const stateLayout = (lowered: Lowered): LayoutEntry[] => {
  const ops = lowered.ir.ops;
  return ops
    .filter((op) => op.op === 'param' || op.op === 'state')
    .map((op) => {
      const entry = { op, name: sourceName(op), shape: op.shape! };
      if (op.op !== 'param' || op.attrs.role !== 'weight') return entry;
      const consumer = ops.find((o) => o.inputs[1] === op.id && (o.op === 'dense' || o.op === 'conv2d'))!;
      const fanIn = consumer.attrs.fanIn as number;
      const kept = consumer.attrs.keptPerUnit as number;
      return kept < fanIn ? { ...entry, mask: { fanIn, kept } } : entry;
    });
};

/**
 * A freshly initialised state: weights uniform in (-bound, bound) as the IR says, masks drawn once
 * from the seed (each unit keeps exactly round(weightDensity x fan_in) inputs) and applied, biases
 * uniform, batch-norm scales 1 and shifts 0, duty cycles 0, boost strengths as configured.
 * Everything comes from one seeded stream in IR order, so a seed reproduces it bit for bit.
 */
export const initModelState = (lowered: Lowered, options: { readonly seed: number; readonly dtype: FloatType }): ModelState => {
  const rng = Rng.fromSeed(options.seed, 0);
  const tensors = new Map<string, StateTensor>();
  const masks = new Map<string, Uint8Array>();
  const momentum = new Map<string, Arr>();
  for (const { op, name, shape, mask: sparse } of stateLayout(lowered)) {
    const data = allocFloat(options.dtype, shapeSize(shape));
    if (op.op === 'state') data.fill(op.attrs.init as number);
    else if (op.attrs.init === 'ones') data.fill(1);
    else if (op.attrs.init === 'uniform') {
      const bound = op.attrs.bound as number;
      for (let i = 0; i < data.length; i++) data[i] = (rng.float() * 2 - 1) * bound;
    }
    if (sparse) {
      const mask = makeMask(rng, shape[0], sparse.fanIn, sparse.kept);
      for (let i = 0; i < data.length; i++) if (!mask[i]) data[i] = 0;
      masks.set(name, mask);
    }
    tensors.set(name, { name, shape, data });
    if (op.op === 'param') momentum.set(name, allocFloat(options.dtype, data.length));
  }
  return { dtype: options.dtype, tensors, masks, momentum };
};

/** Re-zeroes masked weights (after every optimizer step). */
export const applyMasks = (state: ModelState): void => {
  for (const [name, mask] of state.masks) {
    const w = state.tensors.get(name)!.data;
    for (let i = 0; i < w.length; i++) if (!mask[i]) w[i] = 0;
  }
};

/** Multiplies every k-winners layer's boost strength by its strengthFactor (once per epoch). */
export const decayBoostStrengths = (lowered: Lowered, state: ModelState): void => {
  for (const op of lowered.ir.ops) {
    if (op.op !== 'kwta') continue;
    const strength = state.tensors.get(`l${op.layer}.boostStrength`)!.data;
    strength[0] *= op.attrs.strengthFactor as number;
  }
};
