/**
 * The compiler's staged objects, each with `asText()`:
 * `trace(network)` -> `Traced` (IR as built from the DSL) -> `lower(traced)` -> `Lowered` (after
 * the pass pipeline). Later stages (`Compiled`, per backend) build on `Lowered`.
 *
 * @example
 * import { trace, lower } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * const lowered = lower(trace(readModelFile('examples/models/sparse-cnn2.json')));
 * console.log(lowered.asText());
 */
import type { Network } from '../dsl/network.ts';
import { printIR, type IR } from './ir.ts';
import { frontEnd, runPipeline, type Pass } from './pipeline.ts';
import { buildIR } from './trace.ts';
import { verifyIR } from './verify.ts';

/**
 * A network traced to IR (no activation shapes inferred yet; parameter and state shapes are set).
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, type Traced } from 'winnow/compiler';
 * const traced: Traced = trace(pipe(input([4]), dense(2)));
 * traced.stage; // 'traced'
 * traced.ir.ops[1].shape; // [2, 4] (the weight)
 * traced.ir.ops[3].shape; // undefined (the dense output, until inferShapes)
 */
export interface Traced {
  readonly stage: 'traced';
  readonly network: Network;
  readonly ir: IR;
  asText(): string;
}

/**
 * A traced network after the compiler's pass pipeline.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, lower, type Lowered } from 'winnow/compiler';
 * const lowered: Lowered = lower(trace(pipe(input([4]), dense(2))));
 * lowered.passes; // ['inferShapes', 'validate', 'accountParams']
 * lowered.ir.ops[3].shape; // [2]
 */
export interface Lowered {
  readonly stage: 'lowered';
  readonly network: Network;
  readonly ir: IR;
  /** Names of the passes that ran, in order. */
  readonly passes: ReadonlyArray<string>;
  asText(): string;
}

/**
 * Traces a network to IR.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace } from 'winnow/compiler';
 * trace(pipe(input([4]), dense(2), softmaxCrossEntropy)).asText();
 */
export const trace = (network: Network<any>): Traced => {
  const ir = verifyIR(buildIR(network), 'after trace');
  return { stage: 'traced', network, ir, asText: () => `; stage: traced\n${printIR(ir)}` };
};

/**
 * Runs the pass pipeline (the front end by default) on a traced network.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense, softmaxCrossEntropy } from 'winnow/dsl';
 * import { trace, lower } from 'winnow/compiler';
 * lower(trace(pipe(input([4]), dense(2), softmaxCrossEntropy))).ir.ops.length; // 5
 */
export const lower = (traced: Traced, passes: ReadonlyArray<Pass> = frontEnd): Lowered => {
  const ir = runPipeline(traced.ir, passes);
  const names = passes.map((p) => p.name);
  return { stage: 'lowered', network: traced.network, ir, passes: names, asText: () => `; stage: lowered (passes: ${names.join(', ')})\n${printIR(ir)}` };
};
