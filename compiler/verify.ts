/**
 * The IR verifier, run at the entry and exit of every pipeline: SSA order, known ops, arity,
 * attribute types, shapes. A failure is a compiler bug (or a hand-made IR), never bad user input:
 * user input is refused earlier, by the DSL and the model-file decoder.
 */
import type { IR } from './ir.ts';
import { opTable } from './ops/index.ts';

/**
 * Thrown when an IR breaks an invariant: names the pass and every problem.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, verifyIR, IRError } from 'winnow/compiler';
 * const { ir } = trace(pipe(input([4]), dense(2)));
 * try {
 *   verifyIR({ ...ir, output: 9 }, 'after myPass');
 * } catch (e) {
 *   if (e instanceof IRError) console.log(e.problems); // ['output %9 is not defined']
 * }
 */
export class IRError extends Error {
  constructor(readonly where: string, readonly problems: ReadonlyArray<string>) {
    super(`invalid IR ${where}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'IRError';
  }
}

/** Options of `verifyIR`. */
export interface VerifyOptions {
  /** Every op must have a shape (after shape inference). */
  readonly requireShapes?: boolean;
}

/**
 * Problems in an IR (empty when valid), one line per problem naming the op.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, irProblems } from 'winnow/compiler';
 * const { ir } = trace(pipe(input([4]), dense(2)));
 * irProblems(ir); // []
 * irProblems(ir, { requireShapes: true }); // ['%3 dense: no shape']
 * irProblems({ ...ir, output: 9 }); // ['output %9 is not defined']
 */
export const irProblems = (ir: IR, options: VerifyOptions = {}): string[] => {
  const problems: string[] = [];
  const seenInput: number[] = [];
  ir.ops.forEach((op, index) => {
    const at = `%${op.id}`;
    if (op.id !== index) problems.push(`${at}: id does not match its position ${index}`);
    const def = opTable.get(op.op);
    if (!def) {
      problems.push(`${at}: unknown op ${JSON.stringify(op.op)}`);
      return;
    }
    if (op.op === 'input') seenInput.push(op.id);
    const [min, max] = def.arity;
    if (op.inputs.length < min || op.inputs.length > max) problems.push(`${at} ${op.op}: takes ${min}..${max} inputs, got ${op.inputs.length}`);
    for (const i of op.inputs) {
      if (!Number.isInteger(i) || i < 0 || i >= index) problems.push(`${at} ${op.op}: input %${i} is not defined before it`);
    }
    for (const [key, type] of Object.entries(def.attrs)) {
      const optional = key.endsWith('?');
      const name = optional ? key.slice(0, -1) : key;
      const v = op.attrs[name];
      if (v === undefined) {
        if (!optional) problems.push(`${at} ${op.op}: missing attribute ${name}`);
        continue;
      }
      const ok =
        type === 'int' ? Number.isInteger(v)
        : type === 'number' ? typeof v === 'number' && Number.isFinite(v)
        : type === 'bool' ? typeof v === 'boolean'
        : type === 'ints' ? Array.isArray(v) && v.every(Number.isInteger)
        : typeof v === 'string' && type.includes(v);
      if (!ok) problems.push(`${at} ${op.op}: attribute ${name} must be ${Array.isArray(type) ? `one of ${type.join('|')}` : type}, got ${JSON.stringify(v)}`);
    }
    for (const name of Object.keys(op.attrs)) {
      if (!(name in def.attrs) && !(`${name}?` in def.attrs)) problems.push(`${at} ${op.op}: unknown attribute ${name}`);
    }
    if (op.shape !== undefined && !op.shape.every((d) => Number.isInteger(d) && d > 0)) problems.push(`${at} ${op.op}: bad shape [${op.shape.join(', ')}]`);
    if (options.requireShapes && op.shape === undefined) problems.push(`${at} ${op.op}: no shape`);
    const mainBatched = def.elementwise ? ir.ops[op.inputs[def.elementwise.main]]?.batched : undefined;
    if (!op.batched && op.inputs.length > 0 && !def.absolute && mainBatched !== false) problems.push(`${at} ${op.op}: only sources, absolute ops and elementwise ops on unbatched values may be unbatched`);
    if (op.batched && def.absolute) problems.push(`${at} ${op.op}: must be unbatched`);
  });
  if (seenInput.length !== 1) problems.push(`expected exactly one input op, got ${seenInput.length}`);
  const defined = (v: number) => Number.isInteger(v) && v >= 0 && v < ir.ops.length;
  if (!defined(ir.output)) problems.push(`output %${ir.output} is not defined`);
  for (const [name, v] of Object.entries(ir.results ?? {})) if (!defined(v)) problems.push(`result ${name} %${v} is not defined`);
  for (const u of ir.updates ?? []) {
    if (!defined(u.source) || !defined(u.value)) problems.push(`update %${u.source} <- %${u.value} is not defined`);
    else if (ir.ops[u.source].inputs.length > 0) problems.push(`update target %${u.source} is not a source op`);
    else if (ir.ops[u.value].batched || String(ir.ops[u.value].shape) !== String(ir.ops[u.source].shape)) problems.push(`update %${u.source} <- %${u.value}: shapes differ`);
  }
  return problems;
};

/**
 * Throws an `IRError` naming `where` unless the IR is valid; returns the IR unchanged otherwise.
 *
 * @example
 * import { pipe } from 'fp-ts/function';
 * import { input, dense } from 'winnow/dsl';
 * import { trace, verifyIR } from 'winnow/compiler';
 * const { ir } = trace(pipe(input([4]), dense(2)));
 * verifyIR(ir, 'after myPass') === ir; // true
 * // verifyIR({ ...ir, output: 9 }, 'after myPass') throws IRError "invalid IR after myPass:\n  output %9 is not defined"
 */
export const verifyIR = (ir: IR, where: string, options: VerifyOptions = {}): IR => {
  const problems = irProblems(ir, options);
  if (problems.length) throw new IRError(where, problems);
  return ir;
};
