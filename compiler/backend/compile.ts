/**
 * The back end's pipeline: a lowered network becomes a scheduled program through named, pure
 * passes (`decompose`, `autodiff`, `optimizer` on the IR, verified after each; then `fuse` and
 * `planBuffers`). Three programs exist per network: `train` (one full training step: forward,
 * loss, backward, SGD with mask re-zeroing, duty cycles), `inference`, and `epochEnd` (boost
 * strength decay).
 *
 * @example
 * import { trace, lower, compile } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * const c = compile(lower(trace(readModelFile('examples/models/dense-mlp.json'))), { program: 'train', batch: 64 });
 * console.log(c.asText()); // the program's IR, its kernels and its buffer plan
 */
import { printIR, type IR } from '../ir.ts';
import type { Lowered } from '../stages.ts';
import { verifyIR } from '../verify.ts';
import { builder, finish } from './emitter.ts';
import { autodiff } from './passes/autodiff.ts';
import { decompose } from './passes/decompose.ts';
import { fuse } from './passes/fuse.ts';
import { optimizer } from './passes/optimizer.ts';
import { planBuffers } from './passes/plan-buffers.ts';
import { planSparseForms, sparseForms, type FormChoice, type SparseFormsOptions } from './passes/sparse-forms.ts';
import type { Schedule } from './schedule.ts';

/** The programs of a network. */
export type ProgramKind = 'train' | 'inference' | 'epochEnd';

/** Options of `compile`. */
export interface CompileOptions {
  readonly program: ProgramKind;
  /** The batch size buffers are planned for. */
  readonly batch: number;
  /**
   * Run pass `sparseForms` (after `optimizer` on a training step, after `decompose` on inference):
   * compact k-winners outputs and a background-skipping first layer where the cost model says they
   * pay. Only the cpu backend implements those primitives; without this option the IR stays dense.
   */
  readonly sparse?: Omit<SparseFormsOptions, 'batch'>;
}

/** A compiled program: the third stage, after `Traced` and `Lowered`. */
export interface Compiled {
  readonly stage: 'compiled';
  readonly program: ProgramKind;
  readonly batch: number;
  readonly lowered: Lowered;
  /** Names of the back-end passes that ran, in order. */
  readonly passes: ReadonlyArray<string>;
  readonly schedule: Schedule;
  /** With `sparse`: what pass `sparseForms` chose per layer, and why. */
  readonly forms?: ReadonlyArray<FormChoice>;
  asText(): string;
}

interface IRPass {
  readonly name: string;
  readonly run: (ir: IR) => IR;
}

/**
 * `epochEnd`: every k-winners layer's boost strength times its strengthFactor.
 */
const epochEnd = (ir: IR): IR => {
  const b = builder();
  const ids = new Map<number, number>();
  const updates: Array<{ source: number; value: number }> = [];
  for (const op of ir.ops) {
    if (op.op === 'input' || (op.op === 'state' && op.attrs.role === 'boostStrength')) {
      ids.set(op.id, b.emit(op.op, [], op.attrs, { shape: op.shape, batched: op.batched, ...(op.layer !== undefined ? { layer: op.layer } : {}) }));
    }
  }
  for (const op of ir.ops) {
    if (op.op !== 'kwta') continue;
    const s = ids.get(op.inputs[2])!;
    updates.push({ source: s, value: b.emit('scale', [s], { factor: op.attrs.strengthFactor }, { layer: op.layer }) });
  }
  return finish(b, ir, 0, {}, updates);
};

/** The IR passes of each program. */
export const backEndPasses = (program: ProgramKind): ReadonlyArray<IRPass> =>
  program === 'train'
    ? [{ name: 'decompose', run: decompose(true) }, { name: 'autodiff', run: autodiff }, { name: 'optimizer', run: optimizer }]
    : program === 'inference'
      ? [{ name: 'decompose', run: decompose(false) }]
      : [{ name: 'epochEnd', run: epochEnd }];

/** Compiles one program of a lowered network for a batch size. */
export const compile = (lowered: Lowered, options: CompileOptions): Compiled => {
  let ir = verifyIR(lowered.ir, 'at back-end entry', { requireShapes: true });
  const sparse = options.sparse && options.program !== 'epochEnd' ? { ...options.sparse, batch: options.batch } : undefined;
  let forms: ReadonlyArray<FormChoice> | undefined;
  const passes: IRPass[] = [
    ...backEndPasses(options.program),
    ...(sparse ? [{ name: 'sparseForms', run: (x: IR) => ((forms = planSparseForms(x, sparse).choices), sparseForms(sparse)(x)) }] : []),
  ];
  for (const p of passes) ir = verifyIR(p.run(ir), `after ${p.name}`, { requireShapes: true });
  const schedule = planBuffers(options.batch)(fuse(ir));
  const names = [...passes.map((p) => p.name), 'fuse', 'planBuffers'];
  const formLines = forms?.length ? `${forms.map((f) => `; form: ${f.why}`).join('\n')}\n` : '';
  return {
    stage: 'compiled',
    program: options.program,
    batch: options.batch,
    lowered,
    passes: names,
    schedule,
    ...(forms ? { forms } : {}),
    asText: () => `; stage: compiled ${options.program} (passes: ${names.join(', ')}; batch ${options.batch})\n${formLines}${scheduleText(schedule)}`,
  };
};

/** A schedule as text: the IR, then one line per kernel, then the buffer plan. */
export const scheduleText = (s: Schedule): string => {
  const lines = [printIR(s.ir), `; ${s.kernels.length} kernels`];
  for (const k of s.kernels) {
    const ops = k.ops.map((o) => `%${o} ${s.ir.ops[o].op}`).join(' -> ');
    const buf = s.plan ? ` => buffer ${s.plan.bufferOf.get(k.output)}${s.plan.inPlace.has(k.output) ? ' (in place)' : ''}` : '';
    lines.push(`${k.name}: ${ops}${buf}`);
  }
  if (s.plan) {
    const p = s.plan;
    const temps = p.buffers.filter((b) => b.kind === 'temp');
    lines.push(`; buffers for batch ${p.batch}: ${p.buffers.length - temps.length} sources, ${temps.length} temps holding ${p.tempFloats} floats (${p.tempFloatsUnshared} without reuse)`);
  }
  return lines.join('\n');
};
