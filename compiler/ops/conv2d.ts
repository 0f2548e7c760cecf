/**
 * `conv2d`: a 2-D convolution; inputs [x, W, b?], W is [filters, channels, kernel, kernel].
 */
import { conv2dRule } from '../../dsl/conv2d.ts';
import { layerShape, type OpDef } from './op-def.ts';
import { weightAttrs, weightChecks } from './weights.ts';

/** The `conv2d` op. */
export const conv2dOp: OpDef = {
  name: 'conv2d',
  arity: [2, 3],
  attrs: { filters: 'int', kernel: 'int', stride: 'int', padding: 'int', bias: 'bool', ...weightAttrs },
  inferShape: layerShape('conv2d', conv2dRule),
  check: (op, ins) => {
    const [c] = ins[0].shape!;
    const { filters, kernel } = op.attrs as { filters: number; kernel: number };
    return weightChecks(filters, c * kernel * kernel, [filters, c, kernel, kernel], op.attrs.bias as boolean, ins, op.attrs.fanIn as number);
  },
};
