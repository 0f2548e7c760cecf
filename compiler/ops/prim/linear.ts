/**
 * Matrix primitives of dense layers: `linear` (y = x W^T), and its gradients `linearGradX`
 * (dx = g W) and `linearGradW` (dW = g^T x, summed over the batch).
 */
import { fromAttrs, size, sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `linear(x, W)`: x `[b, fanIn]` (any per-sample shape of that size), W `[units, fanIn]`. */
export const linearOp: OpDef = {
  name: 'linear',
  arity: [2, 2],
  attrs: { units: 'int', fanIn: 'int' },
  inferShape: fromAttrs((a) => [a.units as number]),
  check: (op, ins) => (size(ins[0].shape!) === op.attrs.fanIn ? [] : [`input has ${size(ins[0].shape!)} values per sample, fanIn is ${op.attrs.fanIn}`]),
  grad: (op, g, ctx, needs) => [
    needs[0] ? ctx.emit('linearGradX', [g, op.inputs[1]], { ...op.attrs, shape: [...ctx.op(op.inputs[0]).shape!] }) : undefined,
    needs[1] ? ctx.emit('linearGradW', [g, op.inputs[0]], op.attrs, { batched: false }) : undefined,
  ],
};

/** `linearGradX(g, W)`: g W, shaped like the forward input (attribute `shape`). */
export const linearGradXOp: OpDef = {
  name: 'linearGradX',
  arity: [2, 2],
  attrs: { units: 'int', fanIn: 'int', shape: 'ints' },
  inferShape: fromAttrs((a) => a.shape as number[]),
};

/** `linearGradW(g, x)`: sum over the batch of g^T x, `[units, fanIn]`. */
export const linearGradWOp: OpDef = {
  name: 'linearGradW',
  arity: [2, 2],
  attrs: { units: 'int', fanIn: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number, a.fanIn as number]),
};

/** `add(a, b)`: gradient accumulation where a value has several consumers. */
export const addOp: OpDef = {
  name: 'add',
  arity: [2, 2],
  attrs: {},
  elementwise: { main: 0 },
  inferShape: sameAs(0),
  grad: (_op, g, _ctx, needs) => [needs[0] ? g : undefined, needs[1] ? g : undefined],
};
