/**
 * Pass `validate`: runs every op's semantic checks (parameter and state shapes against their
 * consumer, k-winners sizes). Returns the IR unchanged or throws naming every problem.
 */
import type { IR } from '../ir.ts';
import { opDef } from '../ops/index.ts';
import { IRError } from '../verify.ts';

/** Checks every op's invariants beyond shapes. */
export const validate = (ir: IR): IR => {
  const problems = ir.ops.flatMap((op) =>
    (opDef(op.op).check?.(op, op.inputs.map((i) => ir.ops[i])) ?? []).map((p) => `%${op.id} ${op.op}: ${p}`),
  );
  if (problems.length) throw new IRError('in validate', problems);
  return ir;
};
