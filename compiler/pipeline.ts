/**
 * The compiler is a named, ordered list of pure passes `(ir) => ir`; the IR is verified at the
 * entry and exit of the pipeline (and, in debug runs, between passes).
 */
import type { IR } from './ir.ts';
import { accountParams } from './passes/account-params.ts';
import { inferShapes } from './passes/infer-shapes.ts';
import { validate } from './passes/validate.ts';
import { verifyIR } from './verify.ts';

/**
 * A named pass: a pure function from IR to IR.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, lower, frontEnd, type Pass } from 'winnow/compiler';
 * const identity: Pass = { name: 'identity', run: (ir) => ir, shapesAfter: true };
 * lower(trace(pipe(input([4]), dense(2))), [...frontEnd, identity]).passes; // ['inferShapes', 'validate', 'accountParams', 'identity']
 */
export interface Pass {
  readonly name: string;
  readonly run: (ir: IR) => IR;
  /** Whether the IR after this pass must have every shape. */
  readonly shapesAfter: boolean;
}

/**
 * The front end: shape inference, validation and parameter accounting (what `lower` runs by
 * default).
 *
 * @example
 * import { frontEnd } from 'winnow/compiler';
 * frontEnd.map((p) => p.name); // ['inferShapes', 'validate', 'accountParams']
 */
export const frontEnd: ReadonlyArray<Pass> = [
  { name: 'inferShapes', run: inferShapes, shapesAfter: true },
  { name: 'validate', run: validate, shapesAfter: true },
  { name: 'accountParams', run: accountParams, shapesAfter: true },
];

/**
 * Runs `passes` in order, verifying the IR at entry and exit (and after every pass when
 * `verifyEach`, which tests use).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, frontEnd, runPipeline } from 'winnow/compiler';
 * const ir = runPipeline(trace(pipe(input([4]), dense(2))).ir, frontEnd, { verifyEach: true });
 * ir.ops[3].shape; // [2]
 * ir.ops[3].notes; // { params: 10, nonzeroParams: 10 }
 */
export const runPipeline = (ir: IR, passes: ReadonlyArray<Pass>, options: { readonly verifyEach?: boolean } = {}): IR => {
  let current = verifyIR(ir, 'at pipeline entry');
  for (const pass of passes) {
    current = pass.run(current);
    if (options.verifyEach) verifyIR(current, `after ${pass.name}`, { requireShapes: pass.shapesAfter });
  }
  const last = passes[passes.length - 1];
  return verifyIR(current, 'at pipeline exit', { requireShapes: last?.shapesAfter ?? false });
};
