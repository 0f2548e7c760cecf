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

const defs: ReadonlyArray<OpDef> = [
  inputOp, paramOp, stateOp, denseOp, conv2dOp, maxPool2dOp, flattenOp, reluOp, batchNormOp, kwtaOp, dropoutOp, softmaxCrossEntropyOp,
];

/** The op table, by name. */
export const opTable: ReadonlyMap<OpName, OpDef> = new Map(defs.map((d) => [d.name, d]));

/** The definition of an op kind (throws for an unknown kind: a compiler bug). */
export const opDef = (name: OpName): OpDef => {
  const d = opTable.get(name);
  if (!d) throw new Error(`unknown op ${name}`);
  return d;
};
