/**
 * Pass `inferShapes`: gives every op its output shape from its inputs' shapes, using each op's
 * shape rule from the op table. A rule that cannot give a shape is a compiler error naming the op.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { IR, Op } from '../ir.ts';
import { opDef } from '../ops/index.ts';
import { IRError } from '../verify.ts';

/** Fills in `shape` on every op. */
export const inferShapes = (ir: IR): IR => {
  const ops: Op[] = [];
  for (const op of ir.ops) {
    const inputs = op.inputs.map((i) => ops[i]);
    const shape = opDef(op.op).inferShape(op, inputs);
    if (E.isLeft(shape)) throw new IRError('in inferShapes', [`%${op.id} ${op.op}: ${shape.left}`]);
    ops.push({ ...op, shape: shape.right });
  }
  return { ...ir, ops };
};
