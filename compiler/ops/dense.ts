/**
 * `dense`: y = x W^T + b; inputs [x, W, b?].
 */
import { denseRule } from '../../dsl/dense.ts';
import { layerShape, type OpDef } from './op-def.ts';
import { effectiveWeight, weightAttrs, weightChecks } from './weights.ts';

/** The `dense` op. */
export const denseOp: OpDef = {
  name: 'dense',
  arity: [2, 3],
  attrs: { units: 'int', bias: 'bool', ...weightAttrs },
  inferShape: layerShape('dense', denseRule),
  decompose: (op, [x, w, b], ctx) => {
    const y = ctx.emit('linear', [x, effectiveWeight(op, w, ctx)], { units: op.attrs.units, fanIn: op.attrs.fanIn }, { layer: op.layer });
    return b === undefined ? y : ctx.emit('biasAdd', [y, b], { hw: 1 }, { layer: op.layer });
  },
  check: (op, ins) => weightChecks(op.attrs.units as number, ins[0].shape![0], [op.attrs.units as number, ins[0].shape![0]], op.attrs.bias as boolean, ins, op.attrs.fanIn as number),
};
