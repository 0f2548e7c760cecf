/**
 * The `cpu` backend: runs the programs the compiler generates for a CPU (specialised JavaScript
 * with WebAssembly SIMD matrix products, `compiler/codegen/js`). All data lives in one
 * WebAssembly memory: the model state first (the ModelState's tensors and momentum buffers become
 * views of it, so checkpoints and the runtime see every step at once; the masks, and the sparse
 * weights' per-unit index lists derived from them when the model is made), then the per-call inputs,
 * then the temporaries of the buffer plan. Programs are compiled once per batch size.
 *
 * With more than one thread (`threads`, default WINNOW_THREADS or the machine's cores up to 8) the
 * memory is a shared WebAssembly memory and worker threads (`threads.ts`) take slices of every
 * kernel with enough work; the slices never split a sum, so results are bit-identical to one
 * thread. Workers start with the first program that has such a kernel.
 */
import { compile, type CompileOptions, type ProgramKind } from '../../compiler/backend/compile.ts';
import { generateJs, type JsProgram } from '../../compiler/codegen/js/program.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { shapeSize } from '../../dsl/shape.ts';
import { WinnowError } from '../../dsl/errors.ts';
import type { Model } from '../backend.ts';
import { inferenceBatchFor } from '../evaluate.ts';
import type { ModelState } from '../model-state.ts';
import { drawRandoms, maskIndexFromState, scalarValue, type CallInputs } from '../compiled/host.ts';
import { sumStats } from '../compiled/stats.ts';
import { withSharedMemory } from '../../compiler/codegen/js/wat.ts';
import { align, cpuCompileOptions, indexListsOf, layoutProgram } from './layout.ts';
import { resolveThreads, startPool, threadsSupported, type PoolOptions, type ThreadPool, type ThreadStats } from './threads.ts';
import { assembleWat } from './wasm.ts';

interface Program {
  readonly run: (io: CallInputs, times?: Float64Array) => void;
  readonly output: number;
  readonly stats?: number;
  readonly address: (v: number) => number;
  readonly js: JsProgram;
}


/** Where one training step's time went: wall milliseconds per kernel (in program order), the host's input copies and the copy-backs, and the whole step. */
export interface StepProfile {
  readonly kernels: ReadonlyArray<{ readonly name: string; readonly ms: number }>;
  readonly hostMs: number;
  readonly copyMs: number;
  readonly totalMs: number;
}

/** Options of a cpu model. */
export interface CpuModelOptions {
  /**
   * Threads sharing the kernels, the main thread included: default the WINNOW_THREADS environment
   * variable, else the machine's available parallelism up to 8. 1 runs on the main thread alone,
   * with no workers; where worker threads or SharedArrayBuffer are missing it is always 1.
   */
  readonly threads?: number;
  /**
   * Options of pass `sparseForms` (compact k-winners layers, a background-skipping first layer),
   * or false for the dense forms only; default `cpuCompileOptions.sparse` (the cost model decides).
   */
  readonly sparse?: CompileOptions['sparse'] | false;
  /** Kernels with less estimated work (about one multiply-add per unit) run whole on the main thread; default 20000. 0 splits every kernel that can be split. */
  readonly minSplitWork?: number;
  /** Tuning and test settings of the worker pool (spinning, patience, workers only). */
  readonly pool?: PoolOptions;
}

/** A model on the `cpu` backend. */
export interface CpuModel extends Model {
  /** Threads the model's kernels run on (1: the main thread only). */
  readonly threads: number;
  /** Kernels split across the threads so far, their chunks, and how many chunks the workers ran (all 0 on one thread). */
  readonly threadStats: () => ThreadStats;
  /** Compiled programs' generated sources, for `winnow inspect --kernels`. */
  readonly programSource: (kind: ProgramKind, batch: number) => Promise<JsProgram>;
  /** One training step (as `trainStep`) timed kernel by kernel, for `winnow bench --profile`. */
  readonly profileStep: (...args: Parameters<Model['trainStep']>) => Promise<StepProfile>;
  /** Ends the worker threads; the model refuses further calls. */
  readonly dispose: () => void;
}

/** The default of `minSplitWork`: about 10-20 microseconds of work on one core, against about 1-2 microseconds to hand a slice to a spinning worker. */
const defaultMinSplitWork = 20000;

/** Ends the workers of a cpu model that was never disposed, once it is garbage. */
const orphans = new FinalizationRegistry<{ pool?: Promise<ThreadPool | undefined> }>((held) => void held.pool?.then((p) => p?.dispose(), () => undefined));

/**
 * A model on the `cpu` backend.
 *
 * @example
 * import { createCpuModel } from 'winnow/runtime/cpu/model';
 * // const model = await createCpuModel(lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }), { threads: 2 });
 * // await model.trainStep(x, labels, 64, { lr: 0.01, momentum: 0.9, weightDecay: 0 }, 64, rng);
 * // model.dispose();
 */
export const createCpuModel = async (lowered: Lowered, state: ModelState, options: CpuModelOptions = {}): Promise<CpuModel> => {
  if (state.dtype !== 'float32') throw new WinnowError('backend', 'the cpu backend computes in float32; its state must be float32');
  const minSplitWork = options.minSplitWork ?? defaultMinSplitWork;
  if (!(minSplitWork >= 0)) throw new WinnowError('usage', `minSplitWork must be a number >= 0, got ${String(options.minSplitWork)}`);
  let threads = await resolveThreads(options.threads);
  if (threads > 1 && !(await threadsSupported())) threads = 1;
  // The state arena: every tensor, momentum buffer and (as floats) mask, in a fixed order.
  const arena = new Map<string, { offset: number; length: number }>();
  let end = 0;
  const place = (key: string, length: number) => {
    arena.set(key, { offset: end, length });
    end += align(length);
  };
  for (const [name, t] of state.tensors) place(`tensors:${name}`, t.data.length);
  for (const [name, m] of state.momentum) place(`momentum:${name}`, m.length);
  for (const [name, m] of state.masks) place(`masks:${name}`, m.length);
  // The index lists of the dense layers' sparse weights (the programs' maskIndex sources), derived from their masks below.
  const indexLists = indexListsOf(lowered);
  for (const l of indexLists) place(`maskIndex:${l.name}`, l.units * l.kept);
  const stateEnd = end;
  const initial = Math.ceil((stateEnd * 4) / 65536) + 1;
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory(threads > 1 ? { initial, maximum: 65536, shared: true } : { initial });
  } catch {
    threads = 1; // no shared memory here (or no room to reserve one): one thread
    memory = new WebAssembly.Memory({ initial });
  }
  const shared = threads > 1;
  // The workers: started with the first program that has a kernel to split (never, for source-only uses).
  const held: { pool?: Promise<ThreadPool | undefined> } = {};
  let started: ThreadPool | undefined;
  let disposed = false;
  let M = new Float32Array(memory.buffer);
  for (const [name, t] of state.tensors) M.set(t.data, arena.get(`tensors:${name}`)!.offset);
  for (const [name, m] of state.momentum) M.set(m, arena.get(`momentum:${name}`)!.offset);
  for (const [name, m] of state.masks) M.set(m, arena.get(`masks:${name}`)!.offset);
  for (const l of indexLists) {
    const at = arena.get(`maskIndex:${l.name}`)!;
    maskIndexFromState(state.masks, l.name, l.units, l.kept, M.subarray(at.offset, at.offset + at.length), 'int32', l.fanIn);
  }
  const rebind = () => {
    M = new Float32Array(memory.buffer);
    const view = (key: string) => {
      const a = arena.get(key)!;
      return new Float32Array(memory.buffer, a.offset * 4, a.length);
    };
    for (const [name, t] of state.tensors) state.tensors.set(name, { ...t, data: view(`tensors:${name}`) });
    for (const name of state.momentum.keys()) state.momentum.set(name, view(`momentum:${name}`));
  };
  rebind();
  const ensure = (floats: number) => {
    const need = Math.ceil((floats * 4) / 65536) - memory.buffer.byteLength / 65536;
    if (need > 0) {
      memory.grow(need);
      rebind();
    }
  };

  const programs = new Map<string, Program>();
  const program = async (kind: ProgramKind, batch: number): Promise<Program> => {
    if (disposed) throw new WinnowError('backend', 'this cpu model has been disposed');
    const key = `${kind}:${batch}`;
    const cached = programs.get(key);
    if (cached) return cached;
    const { schedule } = compile(lowered, { program: kind, batch, ...(options.sparse === false ? {} : { sparse: options.sparse ?? cpuCompileOptions.sparse }) });
    const ir = schedule.ir;
    const { address, scratch, copies } = layoutProgram(schedule, stateEnd, (key) => arena.get(key)?.offset);
    const js = generateJs(schedule, address, scratch);
    ensure(scratch + js.scratchFloats);
    const module = js.wat ? await assembleWat(shared ? withSharedMemory(js.wat) : js.wat) : undefined;
    const W = module ? new WebAssembly.Instance(module, { env: { mem: memory } }).exports : {};
    const kernels = (new Function(`return (${js.source});`)() as (m: unknown, w: unknown) => Array<(m: Float32Array, lo?: number, hi?: number) => void>)(undefined, W);
    // Kernels worth splitting across the threads; the others run whole on this thread.
    const splits = js.partitions.map((p) => (shared && p && p.extent > 1 && p.work >= minSplitWork ? p : undefined));
    let threaded: { pool: ThreadPool; id: number } | undefined;
    if (splits.some((p) => p)) {
      const pool = (started = await (held.pool ??= startPool(threads, memory, options.pool)));
      if (pool) threaded = { pool, id: pool.load(js.source, module) };
    }
    const hostOps = ir.ops.filter((o) => o.op === 'input' || o.op === 'labels' || o.op === 'scalar');
    // `times` (profiling): milliseconds added per kernel, then for the host's inputs, then for the copy-backs.
    const run = (io: CallInputs, times?: Float64Array) => {
      if (M.buffer !== memory.buffer) rebind();
      threaded?.pool.begin();
      try {
        let t0 = times ? performance.now() : 0;
        for (const op of hostOps) {
          const at = address(op.id);
          if (op.op === 'input') M.set(io.x.subarray(0, batch * shapeSize(op.shape!)), at);
          else if (op.op === 'labels') for (let i = 0; i < batch; i++) M[at + i] = io.labels![i];
          else M[at] = scalarValue(op, io);
        }
        drawRandoms(ir, io, (op, n) => M.subarray(address(op.id), address(op.id) + n));
        if (times) times[kernels.length] += performance.now() - t0;
        for (let i = 0; i < kernels.length; i++) {
          if (times) t0 = performance.now();
          const p = splits[i];
          const k = kernels[i];
          if (p && threaded) threaded.pool.split(threaded.id, i, p.extent, p.grain, (lo, hi) => k(M, lo, hi), js.kernels[i]);
          else k(M);
          if (times) times[i] += performance.now() - t0;
        }
        if (times) t0 = performance.now();
        for (const [from, to, length] of copies) M.copyWithin(to, from, from + length);
        if (times) times[kernels.length + 1] += performance.now() - t0;
      } finally {
        threaded?.pool.end();
      }
    };
    const p: Program = { run, output: ir.output, stats: ir.results?.stats, address, js };
    programs.set(key, p);
    return p;
  };

  const ops = lowered.ir.ops;
  const classes = shapeSize(ops[lowered.ir.output].shape!);
  const inputSize = shapeSize(lowered.ir.inputShape);
  const activations = ops.filter((o) => o.batched).reduce((a, o) => a + shapeSize(o.shape!), 0);
  const model: CpuModel = {
    backend: 'cpu',
    threads,
    threadStats: () => started?.stats() ?? { kernels: 0, chunks: 0, workerChunks: 0 },
    lowered,
    state,
    classes,
    inputSize,
    inferenceBatch: inferenceBatchFor(activations * 2),
    predict: async (x, batch) => {
      const p = await program('inference', batch);
      p.run({ x, batch });
      const at = p.address(p.output);
      return M.slice(at, at + batch * classes);
    },
    trainStep: async (x, labels, batch, sgd, samplesSeen, rng) => {
      const p = await program('train', batch);
      p.run({ x, batch, labels, sgd, samplesSeen, rng });
      const at = p.address(p.stats!);
      const { loss, correct } = sumStats(M.subarray(at, at + 2 * batch), batch);
      return Number.isFinite(loss) ? { loss, correct } : { loss, correct, nonFinite: 'the loss (the cpu backend does not say which layer; run with --backend reference to find it)' };
    },
    endEpoch: async () => {
      const p = await program('epochEnd', 1);
      p.run({ x: new Float32Array(inputSize), batch: 1 });
    },
    programSource: async (kind: ProgramKind, batch: number) => (await program(kind, batch)).js,
    profileStep: async (x, labels, batch, sgd, samplesSeen, rng) => {
      const p = await program('train', batch);
      const times = new Float64Array(p.js.kernels.length + 2);
      const t0 = performance.now();
      p.run({ x, batch, labels, sgd, samplesSeen, rng }, times);
      const totalMs = performance.now() - t0;
      return { kernels: p.js.kernels.map((name, i) => ({ name, ms: times[i] })), hostMs: times[p.js.kernels.length], copyMs: times[p.js.kernels.length + 1], totalMs };
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      orphans.unregister(held);
      void held.pool?.then((p) => p?.dispose(), () => undefined);
    },
  };
  orphans.register(model, held, held);
  return model;
};
