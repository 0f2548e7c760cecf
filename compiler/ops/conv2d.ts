/**
 * `conv2d`: a 2-D convolution; inputs [x, W, b?], W is [filters, channels, kernel, kernel].
 */
import { conv2dRule } from '../../dsl/conv2d.ts';
import { layerShape, type OpDef } from './op-def.ts';
import { effectiveWeight, weightAttrs, weightChecks } from './weights.ts';

/** The `conv2d` op. */
export const conv2dOp: OpDef = {
  name: 'conv2d',
  arity: [2, 3],
  attrs: { filters: 'int', kernel: 'int', stride: 'int', padding: 'int', bias: 'bool', ...weightAttrs },
  inferShape: layerShape('conv2d', conv2dRule),
  decompose: (op, [x, w, b], ctx) => {
    const [channels, height, width] = ctx.op(x).shape!;
    const [filters, outH, outW] = op.shape!;
    const { kernel, stride, padding } = op.attrs;
    const geometry = { filters, kernel, stride, padding, channels, height, width, outH, outW };
    const y = ctx.emit('conv', [x, effectiveWeight(op, w, ctx)], geometry, { layer: op.layer });
    return b === undefined ? y : ctx.emit('biasAdd', [y, b], { hw: outH * outW }, { layer: op.layer });
  },
  check: (op, ins) => {
    const [c] = ins[0].shape!;
    const { filters, kernel } = op.attrs as { filters: number; kernel: number };
    return weightChecks(filters, c * kernel * kernel, [filters, c, kernel, kernel], op.attrs.bias as boolean, ins, op.attrs.fanIn as number);
  },
};
