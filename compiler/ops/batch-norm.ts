/**
 * `batchNorm`: inputs [x, runningMean, runningVar, gamma?, beta?], per feature or per channel.
 */
import { WinnowError } from '../../dsl/errors.ts';
import { batchNormRule } from '../../dsl/batch-norm.ts';
import { expectShape, layerShape, type OpDef } from './op-def.ts';

/** The `batchNorm` op. */
export const batchNormOp: OpDef = {
  name: 'batchNorm',
  arity: [3, 5],
  attrs: { affine: 'bool', momentum: 'number', epsilon: 'number' },
  inferShape: layerShape('batchNorm', batchNormRule),
  decompose: () => {
    throw new WinnowError('backend', 'batchNorm is not supported by the compiled backends yet; use --backend reference');
  },
  check: (op, ins) => {
    const c = ins[0].shape![0];
    return [
      ...expectShape('running mean', ins[1].shape, [c]),
      ...expectShape('running variance', ins[2].shape, [c]),
      ...(op.attrs.affine ? [...expectShape('gamma', ins[3]?.shape, [c]), ...expectShape('beta', ins[4]?.shape, [c])] : []),
    ];
  },
};
