/**
 * winnow's compiler: network -> IR -> passes -> (later) kernels.
 *
 * @example
 * import { trace, lower } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * console.log(lower(trace(readModelFile('examples/models/sparse-mlp.json'))).asText());
 */
export { printIR, type IR, type Op, type OpName } from './ir.ts';
export { frontEnd, runPipeline, type Pass } from './pipeline.ts';
export { lower, trace, type Lowered, type Traced } from './stages.ts';
export { IRError, irProblems, verifyIR } from './verify.ts';
export { summarize, type LayerSummary, type Summary } from './summary.ts';
export { compile, scheduleText, type Compiled, type CompileOptions, type ProgramKind } from './backend/compile.ts';
export type { Buffer, BufferKind, BufferPlan, Kernel, Schedule } from './backend/schedule.ts';
export type { PrimName } from './ir.ts';
