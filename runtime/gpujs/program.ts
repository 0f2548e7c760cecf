/**
 * A compiled program of the gpujs:* backends as plain data: the gpu.js kernels the code generator
 * made for one schedule (compiler/codegen/gpujs/kernels.ts) and what the host binds around them
 * (each source's origin, the random masks in draw order, the results and the state each update
 * writes). Nothing in it needs the IR, so `runtime/gpujs/runner.ts` runs it without the compiler,
 * in-process (runtime/gpujs/model.ts compiles one per program and batch on demand) and in a module
 * built by `winnow build --backend gpujs:<mode>` (which embeds them as JSON).
 *
 * Text in a program is only generated kernel source (checked by `checkKernelSource`: numbers and
 * compiler-made identifiers), kernel names and state names (`l3.weight`), both compiler-made.
 *
 * @example
 * import { gpujsProgram } from 'winnow/runtime/gpujs/program';
 * // const p = gpujsProgram(lowered, 'train', 64, { backend: 'gpujs:webgpu' });
 * // p.kernels.length; p.updates.map((u) => u.slot.name); // ['l0.weight', ...]
 */
import { compile, type ProgramKind } from '../../compiler/backend/compile.ts';
import { floatsOf } from '../../compiler/backend/passes/plan-buffers.ts';
import type { SparseFormsOptions } from '../../compiler/backend/passes/sparse-forms.ts';
import { gpujsKernels, type Dims, type KernelArg } from '../../compiler/codegen/gpujs/kernels.ts';
import { SOFTWARE_LOOP_LIMIT } from '../../compiler/codegen/gpujs/source.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { stateSlot } from '../compiled/host.ts';

/** Where a state source lives in a `ModelState`: a map and a (compiler-made) name. */
export interface StateSlot {
  readonly map: 'tensors' | 'momentum' | 'masks' | 'maskIndex';
  readonly name: string;
}

/** One gpu.js kernel of a program. */
export interface ProgramKernel {
  readonly name: string;
  /** `function (params) { ... }` for `gpu.createKernel` (checked generated source). */
  readonly source: string;
  readonly settings: { readonly output: number[]; readonly loopMaxIterations: number; readonly precision: 'single'; readonly tactic: 'precision' };
  readonly args: ReadonlyArray<KernelArg>;
  /** The value it writes; `dims` is the layout readers index, `outputDims` what gpu.js writes (a long 2-D output may be one row). */
  readonly output: number;
  readonly dims: Dims;
  readonly outputDims: Dims;
  /** Loop iterations one thread runs in all (Mesa's software renderers stop every loop past `SOFTWARE_LOOP_LIMIT`). */
  readonly loopIterations: number;
}

/** What the kernels read from outside them, in pipeline-argument order. */
export type ProgramSource =
  /** An array from the call: the batch, its labels, or a random keep-mask (`randoms`). */
  | { readonly kind: 'array'; readonly value: number; readonly dims: Dims; readonly from: 'input' | 'labels' | 'random' }
  /** An array of the model state. */
  | { readonly kind: 'array'; readonly value: number; readonly dims: Dims; readonly from: 'state'; readonly slot: StateSlot }
  /** A number from the call: a hyperparameter (`lr`, `momentum`, `weightDecay`) or samples seen. */
  | { readonly kind: 'scalar'; readonly value: number; readonly from: 'scalar'; readonly role: string }
  /** A one-element state tensor passed as a number (a boost strength). */
  | { readonly kind: 'scalar'; readonly value: number; readonly from: 'state'; readonly slot: StateSlot };

/** A program compiled for one batch size, as data. */
export interface GpujsProgram {
  readonly kind: ProgramKind;
  readonly batch: number;
  readonly kernels: ReadonlyArray<ProgramKernel>;
  readonly sources: ReadonlyArray<ProgramSource>;
  /** Every random keep-mask of the program in the reference's draw order: value, elements, drop rate. */
  readonly randoms: ReadonlyArray<{ readonly value: number; readonly floats: number; readonly rate: number }>;
  /** The logits (train and inference programs). */
  readonly output?: number;
  /** Per-sample `[loss, correct]` (train program). */
  readonly stats?: number;
  /** State the program updates: the value computed, the slot it replaces. */
  readonly updates: ReadonlyArray<{ readonly value: number; readonly slot: StateSlot }>;
}

/** Options of `gpujsProgram`. */
export interface GpujsProgramOptions {
  /** The backend name, for messages. */
  readonly backend: string;
  /** Refuse kernels that would run past Mesa's software loop limit (see `SOFTWARE_LOOP_LIMIT`). */
  readonly softwareLoopLimit?: boolean;
  /** See `GpujsKernelOptions.maxOutputSide`. */
  readonly maxOutputSide?: number;
  /** Options of pass `sparseForms` (target gpujs), or false for the dense IR; default `gpujsCompileOptions.sparse`. */
  readonly sparse?: Omit<SparseFormsOptions, 'batch' | 'target'> | false;
}

/**
 * The compile options of the gpujs backends: pass `sparseForms` with target gpujs (compact
 * k-winners layers where the cost model says they pay).
 *
 * @example
 * // compile(lowered, { program: 'train', batch: 64, ...gpujsCompileOptions })
 */
export const gpujsCompileOptions = { sparse: { target: 'gpujs' } } as const;

/** Throws when a kernel would run past the loop limit of Mesa's software renderers (which would silently compute garbage). */
const checkSoftwareLoops = (backend: string, kind: ProgramKind, batch: number, kernels: ReadonlyArray<{ readonly name: string; readonly loopIterations: number }>): void => {
  const tooLong = kernels.find((k) => k.loopIterations > SOFTWARE_LOOP_LIMIT);
  if (tooLong) {
    throw new Error(
      `${backend}: kernel ${tooLong.name} of the ${kind} program (batch ${batch}) runs ${tooLong.loopIterations} loop iterations per thread, ` +
        `but this software WebGPU adapter stops every loop after ${SOFTWARE_LOOP_LIMIT}; use a smaller batch or gpujs:webasm`,
    );
  }
};

const sourceOps = new Set(['input', 'labels', 'random', 'scalar', 'param', 'state', 'moment', 'mask', 'maskIndex']);

/** Compiles `kind` at `batch` and describes it for the gpujs runner. */
export const gpujsProgram = (lowered: Lowered, kind: ProgramKind, batch: number, options: GpujsProgramOptions): GpujsProgram => {
  const schedule = compile(lowered, { program: kind, batch, ...(options.sparse === false ? {} : { sparse: { ...options.sparse, target: 'gpujs' } }) }).schedule;
  const ir = schedule.ir;
  const kernels = gpujsKernels(schedule, batch, options.maxOutputSide !== undefined ? { maxOutputSide: options.maxOutputSide } : {});
  if (options.softwareLoopLimit) checkSoftwareLoops(options.backend, kind, batch, kernels);
  const produced = new Set(kernels.map((k) => k.output));
  const sources: ProgramSource[] = [];
  const seen = new Set<string>();
  const slotOf = (v: number): StateSlot => {
    const slot = stateSlot(ir.ops[v]);
    if (!slot) throw new Error(`gpu.js backend: %${v} is not model state`);
    return slot;
  };
  for (const k of kernels) {
    for (const a of k.args) {
      if (produced.has(a.value)) continue;
      const op = ir.ops[a.value];
      if (!sourceOps.has(op.op)) throw new Error(`gpu.js backend: kernel ${k.name} reads %${a.value}, which no kernel produces`);
      const key = `${a.kind}${a.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (a.kind === 'scalar') {
        sources.push(op.op === 'scalar' ? { kind: 'scalar', value: a.value, from: 'scalar', role: String(op.attrs.role) } : { kind: 'scalar', value: a.value, from: 'state', slot: slotOf(a.value) });
      } else if (op.op === 'input' || op.op === 'labels' || op.op === 'random') {
        sources.push({ kind: 'array', value: a.value, dims: a.dims, from: op.op });
      } else {
        sources.push({ kind: 'array', value: a.value, dims: a.dims, from: 'state', slot: slotOf(a.value) });
      }
    }
  }
  const updates = (ir.updates ?? []).map((u) => {
    const slot = slotOf(u.source);
    if (slot.map === 'masks') throw new Error(`gpu.js backend: the ${kind} program updates the mask %${u.source}`);
    return { value: u.value, slot };
  });
  const output = kind === 'epochEnd' ? undefined : ir.output;
  const stats = ir.results?.stats;
  for (const v of [output, stats, ...updates.map((u) => u.value)]) {
    if (v !== undefined && !produced.has(v)) throw new Error(`gpu.js backend: the ${kind} program's result %${v} is not computed by a kernel`);
  }
  return {
    kind,
    batch,
    kernels: kernels.map((k) => ({ name: k.name, source: k.source, settings: { ...k.settings, output: [...k.settings.output] }, args: k.args, output: k.output, dims: k.dims, outputDims: k.outputDims, loopIterations: k.loopIterations })),
    sources,
    randoms: ir.ops.filter((o) => o.op === 'random').map((o) => ({ value: o.id, floats: floatsOf(ir, o.id, batch), rate: o.attrs.rate as number })),
    ...(output !== undefined ? { output } : {}),
    ...(stats !== undefined ? { stats } : {}),
    updates,
  };
};
