/**
 * `relu`: max(x, 0).
 */
import { reluRule } from '../../dsl/relu.ts';
import { layerShape, type OpDef } from './op-def.ts';

/** The `relu` op. */
export const reluOp: OpDef = { name: 'relu', arity: [1, 1], attrs: {}, inferShape: layerShape('relu', reluRule),
  elementwise: { main: 0 },
  decompose: (op, [x], ctx) => ctx.emit('relu', [x], {}, { layer: op.layer }),
  /** The gradient uses the output (y > 0 exactly where x > 0), so the pre-activation need not be kept. */
  grad: (op, g, ctx, needs) => [needs[0] ? ctx.emit('reluGrad', [g, op.id]) : undefined],
};
