/**
 * Max-pooling primitives: square windows, stride = size, floor output size. `maxPoolGrad` routes
 * each window's gradient to its first maximum (row-major window order), computed as a gather per
 * input element, so no scatter is needed on any backend.
 */
import { fromAttrs, poolAttrs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `maxPool(x)`. */
export const maxPoolOp: OpDef = {
  name: 'maxPool',
  arity: [1, 1],
  attrs: poolAttrs,
  inferShape: fromAttrs((a) => [a.channels as number, a.outH as number, a.outW as number]),
  grad: (op, g, ctx, needs) => [needs[0] ? ctx.emit('maxPoolGrad', [g, op.inputs[0]], op.attrs) : undefined],
};

/** `maxPoolGrad(g, x)`: d loss / d x. */
export const maxPoolGradOp: OpDef = {
  name: 'maxPoolGrad',
  arity: [2, 2],
  attrs: poolAttrs,
  inferShape: fromAttrs((a) => [a.channels as number, a.height as number, a.width as number]),
};
