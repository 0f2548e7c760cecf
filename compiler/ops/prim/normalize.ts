/**
 * Batch-normalisation primitives (PyTorch semantics, as the reference backend computes them). A
 * value `[C, ...]` has C channels of `hw` elements per sample (vectors: hw = 1, one channel per
 * element); element e of a sample is in channel floor(e / hw). Statistics run over the batch and
 * each channel's hw positions: count = batch x hw elements per channel, known only to code
 * generators (the IR is batch-free), which bake it in as a number.
 *
 * - `batchMean(x)`: per channel, sum(x) / count.
 * - `batchVar(x, mean)`: per channel, the biased variance sum((x - mean)^2) / count (two passes).
 * - `runningStat(running, stat)`: (1 - momentum) x running + momentum x stat, with `unbiased`
 *   times count / (count - 1) (kept as is when count is 1): the running-statistics update, a
 *   graph update of the `state` source, computed in place.
 * - `normalize(x, mean, var, gamma?, beta?)`: xhat = (x - mean) / sqrt(var + epsilon), times gamma
 *   plus beta when affine; elementwise, so it fuses (training: with what follows it; inference:
 *   into the kernel producing x as well).
 * - `normalizeGradScale(g, x, mean, var)`: per channel, sum(g x xhat): d gamma, and a term of dx.
 * - `normalizeGradX(g, x, mean, var, gamma?, sumG?, sumGXhat?)`: d x.
 *
 * `normalize` with `batchStats` normalises with the batch's own `batchMean` and `batchVar` of x,
 * and its VJP is that of the whole normalisation: dx = gamma / std x (g - sum(g) / count - xhat x
 * sum(g xhat) / count), the statistics' dependence on x included; the statistic primitives then
 * pass no gradient themselves (as `kwtaThreshold` passes none: k-winners' VJP accounts for it).
 * Without `batchStats` (running statistics, fixed), dx = gamma / std x g. In both, d gamma =
 * sum(g xhat) and d beta = sum(g) per channel (`biasGrad`), and the running statistics get none.
 */
import { fromAttrs, sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `batchMean(x)`: `[units]`. */
export const batchMeanOp: OpDef = {
  name: 'batchMean',
  arity: [1, 1],
  attrs: { units: 'int', hw: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
  grad: () => [undefined],
};

/** `batchVar(x, mean)`: `[units]`, biased. */
export const batchVarOp: OpDef = {
  name: 'batchVar',
  arity: [2, 2],
  attrs: { units: 'int', hw: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
  grad: () => [undefined, undefined],
};

/** `runningStat(running, stat)`: the running-statistic update (not differentiated: it feeds no loss). */
export const runningStatOp: OpDef = {
  name: 'runningStat',
  arity: [2, 2],
  attrs: { momentum: 'number', hw: 'int', unbiased: 'bool' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
};

/** `normalize(x, mean, var, gamma?, beta?)`. */
export const normalizeOp: OpDef = {
  name: 'normalize',
  arity: [3, 5],
  attrs: { hw: 'int', epsilon: 'number', affine: 'bool', batchStats: 'bool' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
  grad: (op, g, ctx, needs) => {
    const [x, mean, variance, gamma] = op.inputs;
    const { hw, epsilon, affine, batchStats } = op.attrs as { hw: number; epsilon: number; affine: boolean; batchStats: boolean };
    if (batchStats && (ctx.op(mean).op !== 'batchMean' || ctx.op(variance).op !== 'batchVar' || ctx.op(mean).inputs[0] !== x || ctx.op(variance).inputs[0] !== x)) {
      throw new Error(`normalize %${op.id}: batchStats needs the batchMean and batchVar of its own input`);
    }
    const units = ctx.op(mean).shape![0];
    const statsForX = needs[0] && batchStats;
    const absolute = { batched: false, ...(op.layer !== undefined ? { layer: op.layer } : {}) };
    const sumG = (affine && needs[4]) || statsForX ? ctx.emit('biasGrad', [g], { units, hw }, absolute) : undefined;
    const sumGXhat = (affine && needs[3]) || statsForX ? ctx.emit('normalizeGradScale', [g, x, mean, variance], { units, hw, epsilon }, absolute) : undefined;
    const dx = needs[0]
      ? ctx.emit('normalizeGradX', [g, x, mean, variance, ...(affine ? [gamma] : []), ...(batchStats ? [sumG!, sumGXhat!] : [])], { hw, epsilon, affine, batchStats })
      : undefined;
    return affine ? [dx, undefined, undefined, sumGXhat, sumG] : [dx, undefined, undefined];
  },
};

/** `normalizeGradScale(g, x, mean, var)`: `[units]`, sum over the batch and positions of g x xhat. */
export const normalizeGradScaleOp: OpDef = {
  name: 'normalizeGradScale',
  arity: [4, 4],
  attrs: { units: 'int', hw: 'int', epsilon: 'number' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
};

/** `normalizeGradX(g, x, mean, var, gamma?, sumG?, sumGXhat?)`: gamma only when affine, the sums only with batchStats. */
export const normalizeGradXOp: OpDef = {
  name: 'normalizeGradX',
  arity: [4, 7],
  attrs: { hw: 'int', epsilon: 'number', affine: 'bool', batchStats: 'bool' },
  elementwise: { main: 0 },
  inferShape: sameAs(0),
};
