/**
 * Convolution primitives: `conv` (cross-correlation, zero padding, stride), `convGradX` (the
 * transposed convolution of the output gradient) and `convGradW` (the weight gradient, summed over
 * the batch). Layout: x `[b, C, H, W]`, W `[F, C, K, K]`, y `[b, F, OH, OW]`.
 */
import { convAttrs, fromAttrs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `conv(x, W)`. */
export const convOp: OpDef = {
  name: 'conv',
  arity: [2, 2],
  attrs: convAttrs,
  inferShape: fromAttrs((a) => [a.filters as number, a.outH as number, a.outW as number]),
  grad: (op, g, ctx, needs) => [
    needs[0] ? ctx.emit('convGradX', [g, op.inputs[1]], op.attrs) : undefined,
    needs[1] ? ctx.emit('convGradW', [g, op.inputs[0]], op.attrs, { batched: false }) : undefined,
  ],
};

/** `convGradX(g, W)`: d loss / d x. */
export const convGradXOp: OpDef = {
  name: 'convGradX',
  arity: [2, 2],
  attrs: convAttrs,
  inferShape: fromAttrs((a) => [a.channels as number, a.height as number, a.width as number]),
};

/** `convGradW(g, x)`: d loss / d W, `[F, C, K, K]`. */
export const convGradWOp: OpDef = {
  name: 'convGradW',
  arity: [2, 2],
  attrs: convAttrs,
  absolute: true,
  inferShape: fromAttrs((a) => [a.filters as number, a.channels as number, a.kernel as number, a.kernel as number]),
};
