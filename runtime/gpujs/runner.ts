/**
 * Runs gpujs programs (runtime/gpujs/program.ts) on one gpu.js mode over a `ModelState`: the
 * execution half of the gpujs:* backends, with no compiler in it, shared by the in-process model
 * (runtime/gpujs/model.ts) and modules built by `winnow build --backend gpujs:<mode>`.
 *
 * - **One plan per call.** Where the mode fuses pipelines (webgpu: `fused-encoder`, one command
 *   encoder and one queue submission per call; webasm: `fused-sync` / `fused-threaded`, one wasm
 *   memory), a program runs as ONE `gpu.createPipeline` plan. Elsewhere (cpu, and the GL modes,
 *   whose generic executor would add nothing) kernels are called one by one. `describe()` says
 *   which ran.
 * - **State on the device (webgpu).** From a program's second call on, gpujs:webgpu keeps the
 *   model state's arrays (parameters, momentum buffers, duty cycles, masks) in device buffers
 *   between calls (runtime/gpujs/webgpu-resident.ts): a training step uploads only the batch, its
 *   labels, random masks and hyperparameters and reads back only the per-sample statistics and
 *   one-element state (boost strengths); `predict` reads back only the logits and sees the last
 *   step's weights without a round trip through the host. `state` then lags behind until `sync()`
 *   reads the arrays back; after the host changes `state`, `invalidate()` makes the next call
 *   upload it again. One-element tensors are always kept current on the host.
 * - **Index lists.** A sparse weight's per-unit index lists (`maskIndex` sources) are derived from
 *   its mask once (`maskIndexData`, indices as floats) and kept like the masks: on the device with
 *   them (webgpu), re-derived after `invalidate`.
 * - **State elsewhere.** The other modes upload the state a program reads on every call and write
 *   every update back before the call resolves: `state` is always current there.
 * - **Non-finite steps.** A step whose loss is not finite changes no state on any mode: on webgpu
 *   its updates are committed to the device's state buffers only once the host has seen a finite
 *   loss (at the start of the next submission), elsewhere they are never written back.
 *
 * @example
 * import { createGpujsRunner, loadGpujs } from 'winnow/runtime/gpujs/runner';
 * // const runner = createGpujsRunner({ gpujs: await loadGpujs(), mode: 'webasm', backend: 'gpujs:webasm', state, inputSize: 784, program: (kind, batch) => programs[kind] });
 * // const logits = await runner.predict(x, 64);
 */
import type { ProgramKind } from '../../compiler/backend/compile.ts';
import type { Dims, KernelArg } from '../../compiler/codegen/gpujs/kernels.ts';
import type { StepResult } from '../backend.ts';
import { maskIndexFromState } from '../compiled/mask-index.ts';
import { sumStats } from '../compiled/stats.ts';
import type { ModelState } from '../model-state.ts';
import type { SgdSettings } from '../optimizer.ts';
import type { GpujsProgram, ProgramSource, StateSlot } from './program.ts';
import { slotKey, WebgpuResidency, type ResidentPlan } from './webgpu-resident.ts';

/** The gpu.js modes winnow runs on. */
export type GpujsMode = 'webgpu' | 'webgl2' | 'headlessgl' | 'webasm' | 'cpu';

/** The slice of gpu.js this runtime uses (its typings lack `input` and `createPipeline`). */
export interface GpujsModule {
  readonly GPU: {
    new (settings: { mode: string }): GpuInstance;
    readonly isWebAssemblySupported?: boolean;
    readonly isWebGL2Supported?: boolean;
    readonly isHeadlessGLSupported?: boolean;
  };
  readonly input: (value: Float32Array, size: number[]) => unknown;
  // gpu.js's kernel classes, to say which one a kernel really runs on
  readonly WebGL2Kernel?: unknown;
  readonly WebGLKernel?: unknown;
  readonly HeadlessGLKernel?: unknown;
  readonly WebGPUKernel?: unknown;
  readonly WebAssemblyKernel?: unknown;
  readonly CPUKernel?: unknown;
}

interface GpuInstance {
  createKernel(source: string, settings: object): KernelFn;
  createPipeline(fn: (...args: unknown[]) => unknown, settings?: object): PipelineFn;
  destroy(): unknown;
}

type KernelFn = ((...args: unknown[]) => unknown) & { destroy?: () => void; readonly kernel?: object };
type PipelineFn = ((...args: unknown[]) => Promise<Record<string, unknown>>) & {
  readonly executorKind?: string;
  readonly fallbackReason?: string | null;
  destroy?: () => unknown;
};

let gpujsModule: Promise<GpujsModule> | undefined;

/** gpu.js, imported once on first use. */
export const loadGpujs = (): Promise<GpujsModule> =>
  (gpujsModule ??= import('gpu.js').then((m) => {
    const mod = ((m as { default?: unknown }).default ?? m) as GpujsModule;
    if (typeof mod.GPU !== 'function' || typeof mod.input !== 'function') throw new Error('gpu.js loaded without GPU and input');
    return mod;
  }));

/** Whether a program runs as one pipeline plan in this mode (else kernel by kernel). */
export const pipelined = (mode: GpujsMode): boolean => mode === 'webgpu' || mode === 'webasm';

/** What a gpujs model says about how it runs. */
export interface GpujsDescription {
  readonly mode: GpujsMode;
  /** Per compiled program and batch: kernel count and executor (`fused-encoder`, `fused-sync`, `fused-threaded`, `generic`, or `per-kernel`). */
  readonly programs: ReadonlyArray<{
    readonly program: ProgramKind;
    readonly batch: number;
    readonly kernels: number;
    readonly executor: string;
    readonly fallbackReason?: string;
    /**
     * The gpu.js modes the program's kernels hold now (`webgl2`, `webgl`, `headlessgl`, `webgpu`,
     * `webasm`, `cpu`), distinct and sorted: `[mode]` unless gpu.js swapped a kernel it could not
     * build for its CPU fallback (it only warns on the console when it does).
     */
    readonly kernelModes: ReadonlyArray<string>;
    /** Whether its last call read the model state from device buffers (gpujs:webgpu from a program's second call on). */
    readonly stateOnDevice: boolean;
    /** Why the state is not on the device although the mode could keep it there, when it is not. */
    readonly residentReason?: string;
  }>;
  /** One line for people. */
  readonly text: string;
}

/** What a runner needs. */
export interface GpujsRunnerOptions {
  readonly gpujs: GpujsModule;
  readonly mode: GpujsMode;
  /** The backend name, for messages. */
  readonly backend: string;
  /** The state the programs read and update (see the module doc for when it is current). */
  readonly state: ModelState;
  /** Floats of one input sample. */
  readonly inputSize: number;
  /** The program of a kind at a batch size (compiled on demand, or built in). */
  readonly program: (kind: ProgramKind, batch: number) => GpujsProgram;
  /** Keep state arrays on the device between calls where the mode allows it (webgpu). Default true. */
  readonly resident?: boolean;
}

/** Random numbers for dropout and DropConnect masks. */
export interface FloatStream {
  float(): number;
}

/** A runner's calls. Calls are serialised: each waits for the one before. */
export interface GpujsRunner {
  predict(x: Float32Array, batch: number): Promise<Float32Array>;
  trainStep(x: Float32Array, labels: ArrayLike<number>, batch: number, sgd: SgdSettings, samplesSeen: number, rng: FloatStream): Promise<StepResult>;
  endEpoch(): Promise<void>;
  /** Brings `state` up to date (reads device-resident arrays back); a no-op when it is. */
  sync(): Promise<void>;
  /** The host changed `state`: the next call uploads it again (device-side changes not synced are dropped). */
  invalidate(): void;
  describe(): GpujsDescription;
  dispose(): void;
}

/** A program made ready on the GPU. */
interface Loaded {
  readonly spec: GpujsProgram;
  readonly fns: ReadonlyArray<KernelFn>;
  readonly pipeline?: PipelineFn;
  /** The device-resident plan (webgpu), `undefined` before the first call, or why there is none. */
  resident?: ResidentPlan | string;
  executor?: string;
  fallbackReason?: string | null;
  stateOnDevice: boolean;
}

/** Per-call inputs. */
interface Call {
  readonly x: Float32Array;
  readonly batch: number;
  readonly labels?: ArrayLike<number>;
  readonly sgd?: SgdSettings;
  readonly samplesSeen?: number;
  readonly rng?: FloatStream;
}

const floatsOf = (dims: Dims): number => (dims.length === 2 ? dims[0] * dims[1] : dims[0]);

/** Flattens a gpu.js result (a Float32Array, or rows of them) into `out`. */
const flattenInto = (result: unknown, dims: Dims, out: Float32Array): Float32Array => {
  if (dims.length === 1) {
    out.set(result as Float32Array);
    return out;
  }
  const rows = result as ArrayLike<ArrayLike<number>>;
  const cols = dims[0];
  for (let r = 0; r < dims[1]; r++) out.set(rows[r], r * cols);
  return out;
};

/** The gpu.js mode of the kernel a kernel function holds now (gpu.js replaces one that fails to build by a CPUKernel). */
const kernelModeOf = (gpujs: GpujsModule, fn: KernelFn): string => {
  const classes: ReadonlyArray<readonly [unknown, string]> = [
    [gpujs.WebGL2Kernel, 'webgl2'],
    [gpujs.HeadlessGLKernel, 'headlessgl'],
    [gpujs.WebGLKernel, 'webgl'],
    [gpujs.WebGPUKernel, 'webgpu'],
    [gpujs.WebAssemblyKernel, 'webasm'],
    [gpujs.CPUKernel, 'cpu'],
  ];
  const ctor = fn.kernel?.constructor;
  return classes.find(([c]) => c !== undefined && c === ctor)?.[1] ?? 'unknown';
};

/** The value of a scalar source of role `role`. */
const scalarOf = (role: string, io: Call): number =>
  role === 'lr' ? (io.sgd?.lr ?? 0) : role === 'momentum' ? (io.sgd?.momentum ?? 0) : role === 'weightDecay' ? (io.sgd?.weightDecay ?? 0) : (io.samplesSeen ?? 0);

/** Creates a runner; programs are made on first use (a few batch sizes kept per kind). */
export const createGpujsRunner = (options: GpujsRunnerOptions): GpujsRunner => {
  const { gpujs, mode, backend, state, inputSize } = options;
  const gpu = new gpujs.GPU({ mode });
  const canReside = mode === 'webgpu' && options.resident !== false;
  const residency = canReside ? new WebgpuResidency() : undefined;
  const programs = new Map<string, Loaded>();
  const maskCache = new Map<string, Float32Array>();
  /** Sparse weights' index lists (`maskIndex` sources, map `maskIndex`): their shape by weight name, from the programs loaded, and the lists derived from the masks. */
  const indexShapes = new Map<string, { readonly kept: number; readonly units: number }>();
  const indexCache = new Map<string, Float32Array>();
  let chain: Promise<unknown> = Promise.resolve();
  let disposed = false;
  /** The device's state buffers hold newer arrays than `state` (a step or epoch end was committed there). */
  let hostBehind = false;
  /** `state` holds newer arrays than the device's state buffers (or there are none yet). */
  let deviceBehind = true;

  const wrap = (data: Float32Array, dims: Dims): unknown => (dims.length === 2 ? gpujs.input(data, [dims[0], dims[1]]) : data);

  /** The per-unit index lists of sparse weight `name`, derived from its mask once (masks never change; `invalidate` drops them). */
  const indexLists = (name: string): Float32Array => {
    let lists = indexCache.get(name);
    if (!lists) {
      const shape = indexShapes.get(name);
      if (!shape) throw new Error(`${backend}: no sparse weight ${name} has index lists`);
      lists = maskIndexFromState(state.masks, name, shape.units, shape.kept, new Float32Array(shape.units * shape.kept), 'float');
      indexCache.set(name, lists);
    }
    return lists;
  };

  const slotData = (slot: StateSlot): ArrayLike<number> => {
    if (slot.map === 'maskIndex') return indexLists(slot.name);
    const data = slot.map === 'tensors' ? state.tensors.get(slot.name)?.data : slot.map === 'momentum' ? state.momentum.get(slot.name) : state.masks.get(slot.name);
    if (!data) throw new Error(`${backend}: the model state has no ${slot.map === 'tensors' ? 'tensor' : slot.map === 'momentum' ? 'momentum buffer' : 'mask'} ${slot.name}`);
    return data;
  };
  /** State arrays of more than one element live on the device (webgpu); one-element ones (boost strengths) on the host. */
  const onDevice = (slot: StateSlot): boolean => slotData(slot).length > 1;

  const asFloat32 = (slot: StateSlot): Float32Array => {
    if (slot.map === 'maskIndex') return indexLists(slot.name);
    if (slot.map === 'masks') {
      let m = maskCache.get(slot.name);
      if (!m) maskCache.set(slot.name, (m = Float32Array.from(slotData(slot))));
      return m;
    }
    const data = slotData(slot);
    return data instanceof Float32Array ? data : Float32Array.from(data);
  };

  const load = (spec: GpujsProgram): Loaded => {
    for (const s of spec.sources) if (s.kind === 'array' && s.from === 'state' && s.slot.map === 'maskIndex') indexShapes.set(s.slot.name, { kept: s.dims[0], units: s.dims[1] ?? 1 });
    const fns = spec.kernels.map((k) => gpu.createKernel(k.source, k.settings));
    const loaded: Loaded = { spec, fns, stateOnDevice: false };
    if (!pipelined(mode) || spec.kernels.length === 0) return loaded;
    const produced = new Set(spec.kernels.map((k) => k.output));
    const sourceIndex = new Map(spec.sources.map((s, i) => [`${s.kind}${s.value}`, i]));
    const results = [...(spec.output !== undefined ? [spec.output] : []), ...(spec.stats !== undefined ? [spec.stats] : []), ...spec.updates.map((u) => u.value)];
    // The orchestration runs once, at the pipeline's first call, over handles: it only wires kernels.
    const orchestrate = function (...args: unknown[]): Record<string, unknown> {
      const values = new Map<number, unknown>();
      spec.kernels.forEach((k, i) => {
        const argsOf = k.args.map((a: KernelArg) => (produced.has(a.value) ? values.get(a.value) : args[sourceIndex.get(`${a.kind}${a.value}`)!]));
        values.set(k.output, fns[i](...argsOf));
      });
      return Object.fromEntries(results.map((v) => [`v${v}`, values.get(v)]));
    };
    // gpu.js makes one argument handle per declared parameter
    Object.defineProperty(orchestrate, 'length', { value: spec.sources.length });
    return { ...loaded, pipeline: gpu.createPipeline(orchestrate) };
  };

  const release = (key: string) => {
    const p = programs.get(key)!;
    programs.delete(key);
    // its plan buffers may hold the only copy of the last step's state
    if (residency && typeof p.resident === 'object' && residency.isPending(p.resident)) residency.flush();
    p.pipeline?.destroy?.();
    for (const f of p.fns) f.destroy?.();
  };

  const programFor = (kind: ProgramKind, batch: number): Loaded => {
    const key = `${kind}:${batch}`;
    let p = programs.get(key);
    if (!p) {
      // keep a few batch sizes per program (the last batch of an epoch is often smaller)
      const same = [...programs.entries()].filter(([, q]) => q.spec.kind === kind);
      if (same.length >= 3) release(same[0][0]);
      p = load(options.program(kind, batch));
      programs.set(key, p);
    }
    return p;
  };

  /** Every pipeline argument of a call, flat: arrays (state ones only when `withState`) and numbers. */
  const argumentsOf = (p: GpujsProgram, io: Call, withState: (s: ProgramSource & { from: 'state' }) => boolean): Array<Float32Array | number | undefined> => {
    const randoms = new Map<number, Float32Array>();
    for (const r of p.randoms) {
      if (!io.rng) throw new Error('a training program with random masks needs a random stream');
      const mask = new Float32Array(r.floats);
      for (let i = 0; i < r.floats; i++) mask[i] = io.rng.float() >= r.rate ? 1 : 0;
      randoms.set(r.value, mask);
    }
    return p.sources.map((s) => {
      if (s.kind === 'scalar') return s.from === 'scalar' ? scalarOf(s.role, io) : Number(slotData(s.slot)[0]);
      switch (s.from) {
        case 'input':
          return io.x.length === io.batch * inputSize ? io.x : io.x.subarray(0, io.batch * inputSize);
        case 'labels': {
          const labels = new Float32Array(io.batch);
          for (let i = 0; i < io.batch; i++) labels[i] = io.labels![i];
          return labels;
        }
        case 'random':
          return randoms.get(s.value)!;
        default:
          return withState(s) ? asFloat32(s.slot) : undefined;
      }
    });
  };

  /** Reads the device's state arrays back into `state` (committing a pending step first). */
  const syncHost = async () => {
    if (!hostBehind || !residency) return;
    const arrays = await residency.download((key) => !key.startsWith('masks:') && !key.startsWith('maskIndex:')); // masks (and the lists derived from them) never change
    for (const [key, data] of arrays) {
      const at = key.indexOf(':');
      const map = key.slice(0, at);
      const name = key.slice(at + 1);
      const target = map === 'tensors' ? state.tensors.get(name)!.data : state.momentum.get(name)!;
      target.set(data);
    }
    hostBehind = false;
  };

  /** The host's state arrays that live on the device. */
  const deviceArrays = function* (): Generator<readonly [string, Float32Array]> {
    for (const [name, t] of state.tensors) if (t.data.length > 1) yield [slotKey({ map: 'tensors', name }), asFloat32({ map: 'tensors', name })];
    for (const [name, m] of state.momentum) if (m.length > 1) yield [slotKey({ map: 'momentum', name }), asFloat32({ map: 'momentum', name })];
    for (const [name, m] of state.masks) if (m.length > 1) yield [slotKey({ map: 'masks', name }), asFloat32({ map: 'masks', name })];
    yield* indexArrays();
  };

  /** The index lists of the programs loaded so far, for the device. */
  const indexArrays = function* (): Generator<readonly [string, Float32Array]> {
    for (const name of indexShapes.keys()) yield [slotKey({ map: 'maskIndex', name }), indexLists(name)];
  };

  /**
   * Runs a program: on its device-resident plan when there is one (reading back `reads` only),
   * else uploading its state and reading every result back. Resolves to the values read.
   */
  const run = async (p: Loaded, io: Call, reads: ReadonlyArray<number>): Promise<{ values: Map<number, Float32Array>; resident?: ResidentPlan }> => {
    if (residency && typeof p.resident === 'object') {
      if (deviceBehind) {
        residency.upload(deviceArrays());
        deviceBehind = false;
      } else residency.uploadMissing(indexArrays()); // a program loaded since may read index lists the device lacks
      const plan = p.resident;
      const args = argumentsOf(p.spec, io, (s) => !onDevice(s.slot)) as Array<Float32Array | number>;
      const values = await residency.run(plan, args, reads);
      p.stateOnDevice = true;
      return { values, resident: plan };
    }
    await syncHost(); // this call reads `state`
    const args = argumentsOf(p.spec, io, () => true).map((a, i) => {
      const s = p.spec.sources[i];
      return s.kind === 'array' ? wrap(a as Float32Array, s.dims) : a;
    });
    const out = new Map<number, Float32Array>();
    const outDims = new Map(p.spec.kernels.map((k) => [k.output, k.outputDims]));
    const flat = (v: number, result: unknown) => {
      const d = outDims.get(v)!;
      return flattenInto(result, d, new Float32Array(floatsOf(d)));
    };
    p.stateOnDevice = false;
    if (p.pipeline) {
      const res = await p.pipeline(...args);
      p.executor = p.pipeline.executorKind;
      p.fallbackReason = p.pipeline.fallbackReason ?? null;
      for (const [key, result] of Object.entries(res)) out.set(Number(key.slice(1)), flat(Number(key.slice(1)), result));
      if (residency && p.resident === undefined) {
        // the first call compiled gpu.js's executor: from the next call on, run it with the state on the device
        p.resident = residency.adopt(p.pipeline, p.spec, onDevice);
      }
      return { values: out };
    }
    const sourceIndex = new Map(p.spec.sources.map((s, i) => [`${s.kind}${s.value}`, i]));
    const values = new Map<number, unknown>();
    for (let i = 0; i < p.spec.kernels.length; i++) {
      const k = p.spec.kernels[i];
      const kargs = k.args.map((a) => (values.has(a.value) ? values.get(a.value) : args[sourceIndex.get(`${a.kind}${a.value}`)!]));
      const data = flat(k.output, await p.fns[i](...kargs));
      values.set(k.output, wrap(data, k.dims));
      out.set(k.output, data);
    }
    p.executor = 'per-kernel';
    return { values: out };
  };

  /** Accepts a call's updates: host-kept ones into `state` now, device-resident ones committed on the device. */
  const accept = (p: Loaded, r: { values: Map<number, Float32Array>; resident?: ResidentPlan }) => {
    for (const u of p.spec.updates) {
      if (r.resident && onDevice(u.slot)) continue;
      const target = u.slot.map === 'tensors' ? state.tensors.get(u.slot.name)!.data : state.momentum.get(u.slot.name)!;
      target.set(r.values.get(u.value)!);
      if (!r.resident && onDevice(u.slot)) deviceBehind = true;
    }
    if (r.resident && r.resident.commits.length > 0) {
      residency!.setPending(r.resident);
      hostBehind = true;
    }
  };

  /** Values a call on the device must read back: `values`, and updates of host-kept state. */
  const readsOf = (p: Loaded, values: ReadonlyArray<number>): number[] => [...values, ...p.spec.updates.filter((u) => !onDevice(u.slot)).map((u) => u.value)];

  /** Serialises calls (gpu.js kernels and pipelines keep per-call state). */
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    if (disposed) return Promise.reject(new Error(`${backend}: the model has been disposed`));
    const next = chain.then(f);
    chain = next.catch(() => undefined);
    return next;
  };

  return {
    predict: (x, batch) =>
      serial(async () => {
        const p = programFor('inference', batch);
        const r = await run(p, { x, batch }, [p.spec.output!]);
        return r.values.get(p.spec.output!)!;
      }),
    trainStep: (x, labels, batch, sgd, samplesSeen, rng) =>
      serial(async (): Promise<StepResult> => {
        const p = programFor('train', batch);
        const spec = p.spec;
        const r = await run(p, { x, batch, labels, sgd, samplesSeen, rng }, readsOf(p, [spec.stats!]));
        const { loss, correct } = sumStats(r.values.get(spec.stats!)!, batch);
        if (!Number.isFinite(loss)) {
          const logits = r.values.get(spec.output!) ?? (await residency!.readLast(r.resident!, [spec.output!])).get(spec.output!)!;
          const where = logits.some((v) => !Number.isFinite(v)) ? 'the logits (this backend does not read back earlier layers)' : 'the loss itself';
          return { loss, correct, nonFinite: where };
        }
        accept(p, r);
        return { loss, correct };
      }),
    endEpoch: () =>
      serial(async () => {
        const p = programFor('epochEnd', 1);
        if (p.spec.kernels.length === 0) return;
        accept(p, await run(p, { x: new Float32Array(inputSize), batch: 1 }, readsOf(p, [])));
      }),
    sync: () => serial(syncHost),
    invalidate: () => {
      // after the calls already made (the host changed `state` once they resolved)
      chain = chain.then(() => {
        maskCache.clear();
        indexCache.clear();
        deviceBehind = true;
        hostBehind = false;
      });
    },
    describe: () => {
      const list = [...programs.values()].map((p) => ({
        program: p.spec.kind,
        batch: p.spec.batch,
        kernels: p.spec.kernels.length,
        executor: p.executor ?? (p.pipeline ? 'pipeline (not run yet)' : 'per-kernel'),
        ...(p.fallbackReason ? { fallbackReason: p.fallbackReason } : {}),
        kernelModes: [...new Set(p.fns.map((f) => kernelModeOf(gpujs, f)))].sort(),
        stateOnDevice: p.stateOnDevice,
        ...(typeof p.resident === 'string' ? { residentReason: p.resident } : {}),
      }));
      const how = pipelined(mode) ? 'one createPipeline plan per program call' : 'one call per kernel';
      const ranOn = (modes: ReadonlyArray<string>) => (modes.length === 0 || (modes.length === 1 && modes[0] === mode) ? '' : `, kernels on ${modes.join(' + ')}`);
      const where = (p: (typeof list)[number]) => (p.stateOnDevice ? ', state on the device' : p.residentReason ? `, state uploaded per call (${p.residentReason})` : '');
      const text = `gpu.js ${mode}: ${how}; ${list.map((p) => `${p.program} (batch ${p.batch}): ${p.kernels} kernels, ${p.executor}${p.fallbackReason ? ` (${p.fallbackReason})` : ''}${ranOn(p.kernelModes)}${where(p)}`).join('; ') || 'nothing compiled yet'}`;
      return { mode, programs: list, text };
    },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      // destroying with a call in flight rejects it; wait for the queue to drain first
      void chain.then(() => {
        for (const key of [...programs.keys()]) release(key);
        residency?.destroy();
        try {
          const r = gpu.destroy();
          if (r && typeof (r as Promise<unknown>).catch === 'function') (r as Promise<unknown>).catch(() => undefined);
        } catch {
          // already gone
        }
      });
    },
  };
};
