/**
 * Elementwise primitives (fusable into the kernel that produces their main input): bias, masks
 * and scaling, and the gradients of ReLU; plus `biasGrad`, the bias gradient's reduction.
 * ReLU itself is the layer op `relu` (already primitive), given its rules in `../relu.ts`.
 */
import { fromAttrs, sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `biasAdd(x, b)`: x + b[unit], the unit being the element (vectors) or its channel (`hw` = H x W per channel). */
export const biasAddOp: OpDef = {
  name: 'biasAdd',
  arity: [2, 2],
  attrs: { hw: 'int' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
  grad: (op, g, ctx, needs) => [
    needs[0] ? g : undefined,
    needs[1] ? ctx.emit('biasGrad', [g], { units: ctx.op(op.inputs[1]).shape![0], hw: op.attrs.hw }, { batched: false }) : undefined,
  ],
};

/** `biasGrad(g)`: the sum of g over the batch (and over each channel's H x W positions). */
export const biasGradOp: OpDef = {
  name: 'biasGrad',
  arity: [1, 1],
  attrs: { units: 'int', hw: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
};

/** `reluGrad(g, y)`: g where the ReLU's output y > 0, else 0. */
export const reluGradOp: OpDef = { name: 'reluGrad', arity: [2, 2], attrs: {}, elementwise: { main: 0 }, inferShape: sameAs(0) };

/** `maskScale(x, m)`: x * m * scale (dropout at training with scale 1 / (1 - rate); DropConnect with scale 1). */
export const maskScaleOp: OpDef = {
  name: 'maskScale',
  arity: [2, 2],
  attrs: { scale: 'number' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
  grad: (op, g, ctx, needs) => [needs[0] ? ctx.emit('maskScale', [g, op.inputs[1]], op.attrs, { batched: ctx.op(g).batched }) : undefined, undefined],
};

/** `scale(x)`: x * factor (DropConnect's expectation at inference; boost decay). */
export const scaleOp: OpDef = {
  name: 'scale',
  arity: [1, 1],
  attrs: { factor: 'number' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
  grad: (op, g, ctx, needs) => [needs[0] ? ctx.emit('scale', [g], op.attrs, { batched: ctx.op(g).batched }) : undefined],
};
