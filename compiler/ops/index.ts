/**
 * The op table: every op the IR may contain, each defined in its own module (arity, attribute
 * schema, shape rule, checks; later passes register their rules there too). Shape rules of layer
 * ops come from the DSL's rules, so the DSL and the compiler cannot disagree about shapes.
 */
import type { OpName } from '../ir.ts';
import { batchNormOp } from './batch-norm.ts';
import { conv2dOp } from './conv2d.ts';
import { denseOp } from './dense.ts';
import { dropoutOp } from './dropout.ts';
import { flattenOp } from './flatten.ts';
import { kwtaOp } from './kwta.ts';
import { maxPool2dOp } from './max-pool2d.ts';
import type { OpDef } from './op-def.ts';
import { reluOp } from './relu.ts';
import { softmaxCrossEntropyOp } from './softmax-cross-entropy.ts';
import { inputOp, paramOp, stateOp } from './sources.ts';
import { convGradWOp, convGradXOp, convOp } from './prim/conv.ts';
import { biasAddOp, biasGradOp, maskScaleOp, reluGradOp, scaleOp } from './prim/elementwise.ts';
import { dutyCycleOp, kwtaApplyOp, kwtaGradOp, kwtaKeysOp, kwtaThresholdOp } from './prim/kwta.ts';
import { addOp, linearGradWOp, linearGradXOp, linearOp } from './prim/linear.ts';
import { xentGradOp, xentStatsOp } from './prim/loss.ts';
import { batchMeanOp, batchVarOp, normalizeGradScaleOp, normalizeGradXOp, normalizeOp, runningStatOp } from './prim/normalize.ts';
import { momentumOp, sgdUpdateOp } from './prim/optimizer.ts';
import { maxPoolGradOp, maxPoolOp } from './prim/pool.ts';
import { biasGradCompactOp, compactInputOp, dutyCycleCompactOp, gatherOp, kwtaBlockCountsOp, kwtaCompactOp, linearGradWOuterOp, linearGradXAtOp, transposeOp } from './prim/sparse.ts';
import { channelLastOp, convGradWFromOp, convGradXFromOp, convScatterOp, convWeightTOp, expandOp, maxPoolGradCompactOp, pickAtOp } from './prim/sparse-conv.ts';
import { labelsOp, maskOp, momentOp, randomOp, scalarOp } from './prim/sources.ts';
import { linearIdxGradWOp, linearIdxGradXOp, linearIdxOp, maskIndexOp, transposeBatchOp } from './prim/sparse-weights.ts';

const defs: ReadonlyArray<OpDef> = [
  inputOp, paramOp, stateOp, denseOp, conv2dOp, maxPool2dOp, flattenOp, reluOp, batchNormOp, kwtaOp, dropoutOp, softmaxCrossEntropyOp,
  labelsOp, scalarOp, randomOp, maskOp, momentOp,
  linearOp, linearGradXOp, linearGradWOp, addOp, convOp, convGradXOp, convGradWOp, biasAddOp, biasGradOp, reluGradOp, maskScaleOp, scaleOp,
  maxPoolOp, maxPoolGradOp, kwtaThresholdOp, kwtaApplyOp, kwtaGradOp, dutyCycleOp, kwtaKeysOp,
  batchMeanOp, batchVarOp, runningStatOp, normalizeOp, normalizeGradScaleOp, normalizeGradXOp, xentGradOp, xentStatsOp, momentumOp, sgdUpdateOp,
  kwtaCompactOp, kwtaBlockCountsOp, compactInputOp, dutyCycleCompactOp, transposeOp, gatherOp, linearGradXAtOp, linearGradWOuterOp, biasGradCompactOp,
  convWeightTOp, convScatterOp, convGradXFromOp, channelLastOp, convGradWFromOp, maxPoolGradCompactOp, expandOp, pickAtOp,
  maskIndexOp, linearIdxOp, linearIdxGradXOp, linearIdxGradWOp, transposeBatchOp,
];

/** Ops without inputs: their values come from the host (input, labels, scalars, masks) or the model state. */
export const isSource = (name: OpName): boolean => opDef(name).arity[1] === 0;

/** The op table, by name. */
export const opTable: ReadonlyMap<OpName, OpDef> = new Map(defs.map((d) => [d.name, d]));

/** The definition of an op kind (throws for an unknown kind: a compiler bug). */
export const opDef = (name: OpName): OpDef => {
  const d = opTable.get(name);
  if (!d) throw new Error(`unknown op ${name}`);
  return d;
};
