/**
 * `dropout`: inverted dropout at training, identity at inference.
 */
import { dropoutRule } from '../../dsl/dropout.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `dropout` op. */
export const dropoutOp: OpDef = { name: 'dropout', arity: [1, 1], attrs: { rate: 'number' }, inferShape: layerShape('dropout', dropoutRule),
  decompose: (op, [x], ctx) => {
    const rate = op.attrs.rate as number;
    if (!ctx.training || rate === 0) return x;
    const keep = ctx.emit('random', [], { rate, role: 'dropout' }, { shape: op.shape, batched: true, layer: op.layer });
    return ctx.emit('maskScale', [x, keep], { scale: 1 / (1 - rate) }, { layer: op.layer });
  },
};
