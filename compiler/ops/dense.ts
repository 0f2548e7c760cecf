/**
 * `dense`: y = x W^T + b; inputs [x, W, b?].
 */
import { denseRule } from '../../dsl/dense.ts';
import { layerShape, type OpDef } from './op-def.ts';
import { weightAttrs, weightChecks } from './weights.ts';

/** The `dense` op. */
export const denseOp: OpDef = {
  name: 'dense',
  arity: [2, 3],
  attrs: { units: 'int', bias: 'bool', ...weightAttrs },
  inferShape: layerShape('dense', denseRule),
  check: (op, ins) => weightChecks(op.attrs.units as number, ins[0].shape![0], [op.attrs.units as number, ins[0].shape![0]], op.attrs.bias as boolean, ins, op.attrs.fanIn as number),
};
