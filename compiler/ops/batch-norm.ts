/**
 * `batchNorm`: inputs [x, runningMean, runningVar, gamma?, beta?], per feature or per channel.
 *
 * Decomposition (primitives in `prim/normalize.ts`): at training, the batch's mean and biased
 * variance per channel (`batchMean`, `batchVar`), `normalize` with them, and the running
 * statistics' momentum updates (`runningStat`, with the unbiased variance into the running
 * variance) as the program's updates of the two `state` sources; at inference, `normalize` with the
 * running statistics. Gamma and beta are parameters: the optimizer pass gives them SGD steps.
 */
import { batchNormRule } from '../../dsl/batch-norm.ts';
import { size } from './prim/helpers.ts';
import { expectShape, layerShape, type OpDef } from './op-def.ts';

/** The `batchNorm` op. */
export const batchNormOp: OpDef = {
  name: 'batchNorm',
  arity: [3, 5],
  attrs: { affine: 'bool', momentum: 'number', epsilon: 'number' },
  inferShape: layerShape('batchNorm', batchNormRule),
  decompose: (op, [x, runningMean, runningVar, gamma, beta], ctx) => {
    const shape = ctx.op(x).shape!;
    const units = shape[0];
    const hw = size(shape) / units;
    const { momentum, epsilon } = op.attrs as { momentum: number; epsilon: number };
    const affine = op.attrs.affine === true;
    const at = op.layer !== undefined ? { layer: op.layer } : {};
    const scaleShift = affine ? [gamma, beta] : [];
    if (!ctx.training) return ctx.emit('normalize', [x, runningMean, runningVar, ...scaleShift], { hw, epsilon, affine, batchStats: false }, at);
    const mean = ctx.emit('batchMean', [x], { units, hw }, { batched: false, ...at });
    const variance = ctx.emit('batchVar', [x, mean], { units, hw }, { batched: false, ...at });
    ctx.update(runningMean, ctx.emit('runningStat', [runningMean, mean], { momentum, hw, unbiased: false }, at));
    ctx.update(runningVar, ctx.emit('runningStat', [runningVar, variance], { momentum, hw, unbiased: true }, at));
    return ctx.emit('normalize', [x, mean, variance, ...scaleShift], { hw, epsilon, affine, batchStats: true }, at);
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
