/**
 * `maxPool2d`: max over size x size windows with stride size.
 */
import { maxPool2dRule } from '../../dsl/max-pool2d.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `maxPool2d` op. */
export const maxPool2dOp: OpDef = { name: 'maxPool2d', arity: [1, 1], attrs: { size: 'int' }, inferShape: layerShape('maxPool2d', maxPool2dRule),
  decompose: (op, [x], ctx) => {
    const [channels, height, width] = ctx.op(x).shape!;
    const [, outH, outW] = op.shape!;
    return ctx.emit('maxPool', [x], { size: op.attrs.size, channels, height, width, outH, outW }, { layer: op.layer });
  },
};
