/**
 * The runtime of a module built by `winnow build --backend gpujs:<mode>`: the gpujs runner
 * (runtime/gpujs/runner.ts) over programs compiled at build time (runtime/gpujs/program.ts, as
 * JSON) and the embedded state. No parser or compiler runs at load time.
 *
 * - **gpu.js is imported, not bundled**: the module does `import('gpu.js')` when it loads, so
 *   gpu.js (^2.24, with `createPipeline`) must be installed where the module runs; its webasm worker
 *   pool loads its own files, which a bundle would break. In a browser, map `gpu.js` to its browser
 *   build (an import map or a bundler).
 * - **WebGPU in Node**: when a gpujs:webgpu module finds no `navigator.gpu` in Node, it installs
 *   Dawn there as `winnow train` does (runtime/gpu/node-webgpu.ts; the `webgpu` package must be
 *   installed), falling back to Mesa's llvmpipe without a GPU.
 * - **Asynchronous API**: the exports are those of a cpu build (predict, trainStep, endEpoch,
 *   state, rngState) with the same arguments, but `predict`, `trainStep`, `endEpoch` and `state`
 *   return Promises (gpu.js's webgpu mode is asynchronous). On webgpu the state stays on the
 *   device between calls; `state()` reads it back.
 */
import type { ProgramKind } from '../../compiler/backend/compile.ts';
import type { ModelState } from '../model-state.ts';
import type { GpujsProgram } from '../gpujs/program.ts';
import { createGpujsRunner, loadGpujs, type GpujsMode } from '../gpujs/runner.ts';
import { Rng } from '../rng.ts';
import { decodeArena, fromBase64, type ArenaEntry, type Sgd, type StateCopy, type Step } from './standalone.ts';

/** Everything `winnow build` bakes into a gpujs module. */
export interface GpujsStandaloneSpec {
  readonly name: string;
  /** The backend name (`gpujs:webasm`, ...) and its gpu.js mode. */
  readonly backend: string;
  readonly mode: GpujsMode;
  readonly batch: number;
  readonly classes: number;
  readonly inputShape: ReadonlyArray<number>;
  /** Floats of the state arena. */
  readonly floats: number;
  readonly arena: ReadonlyArray<ArenaEntry>;
  /** The arena's data, base64 (see `encodeArena` in build.ts). */
  readonly data: string;
  readonly rng: readonly [number, number, number, number];
  /** Mesa's software-renderer loop limit: a program with a kernel past it is refused on such an adapter. */
  readonly softwareLoopLimit: number;
  readonly inference: GpujsProgram;
  readonly train?: GpujsProgram;
  readonly epochEnd?: GpujsProgram;
}

const shapeSize = (s: ReadonlyArray<number>) => s.reduce((a, b) => a * b, 1);

/** Installs WebGPU for gpu.js in Node when nothing provides `navigator.gpu`; says whether the adapter is a software renderer. */
const webgpuHere = async (name: string): Promise<boolean> => {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (nav?.gpu || !inNode) {
    if (!nav?.gpu) throw new Error(`${name}: this module runs on gpujs:webgpu, and this platform has no WebGPU (navigator.gpu)`);
    const adapter = await (nav.gpu as { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; vendor?: string; description?: string } } | null> }).requestAdapter();
    if (!adapter) throw new Error(`${name}: navigator.gpu gives no adapter`);
    const info = adapter.info ?? {};
    return info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor ?? ''} ${info.description ?? ''}`);
  }
  const { installNodeWebGPU } = await import('../gpu/node-webgpu.ts');
  const s = await installNodeWebGPU();
  if (!s.ok) throw new Error(`${name}: this module runs on gpujs:webgpu, which is not available here: ${s.reason}`);
  return s.software;
};

/** A built gpujs module's API over its spec. */
export const createGpujsStandalone = async (spec: GpujsStandaloneSpec) => {
  const M = new Float32Array(spec.floats);
  decodeArena(spec.arena, fromBase64(spec.data), M);
  const state: ModelState = { dtype: 'float32', tensors: new Map(), momentum: new Map(), masks: new Map() };
  for (const e of spec.arena) {
    const data = M.subarray(e.offset, e.offset + e.length);
    if (e.map === 'tensors') state.tensors.set(e.name, { name: e.name, shape: [...e.shape], data });
    else if (e.map === 'momentum') state.momentum.set(e.name, data);
    else state.masks.set(e.name, Uint8Array.from(data));
  }
  const B = spec.batch;
  const inputSize = shapeSize(spec.inputShape);
  const classes = spec.classes;
  const programs: Partial<Record<ProgramKind, GpujsProgram>> = { inference: spec.inference, train: spec.train, epochEnd: spec.epochEnd };
  if (spec.mode === 'webgpu' && (await webgpuHere(spec.name))) {
    for (const p of Object.values(programs)) {
      const tooLong = p?.kernels.find((k) => k.loopIterations > spec.softwareLoopLimit);
      if (tooLong) throw new Error(`${spec.name}: kernel ${tooLong.name} of the ${p!.kind} program runs ${tooLong.loopIterations} loop iterations per thread, but this software WebGPU adapter stops every loop after ${spec.softwareLoopLimit}; rebuild with a smaller --batch or --backend gpujs:webasm`);
    }
  }
  const runner = createGpujsRunner({
    gpujs: await loadGpujs(),
    mode: spec.mode,
    backend: spec.backend,
    state,
    inputSize,
    program: (kind, batch) => {
      const p = programs[kind];
      if (!p || p.batch !== batch) throw new Error(`${spec.name}: no ${kind} program for batch ${batch}`);
      return p;
    },
  });
  let stream = Rng.fromState(spec.rng);
  const checkBatch = (x: unknown, batch: unknown, what: string) => {
    if (!(x instanceof Float32Array)) throw new TypeError(`${what}: x must be a Float32Array`);
    if (!Number.isInteger(batch) || (batch as number) < 0) throw new RangeError(`${what}: batch must be a non-negative integer, got ${String(batch)}`);
    if (x.length < (batch as number) * inputSize) throw new RangeError(`${what}: x holds ${x.length} values, a batch of ${String(batch)} needs ${(batch as number) * inputSize}`);
  };

  /** Logits of `batch` samples (any number: run in chunks of the compiled batch, the last one zero-padded). */
  const predict = async (x: Float32Array, batch: number): Promise<Float32Array> => {
    checkBatch(x, batch, 'predict');
    const out = new Float32Array(batch * classes);
    const chunk = new Float32Array(B * inputSize);
    for (let s = 0; s < batch; s += B) {
      const m = Math.min(B, batch - s);
      chunk.set(x.subarray(s * inputSize, (s + m) * inputSize));
      if (m < B) chunk.fill(0, m * inputSize);
      const logits = await runner.predict(chunk, B);
      out.set(logits.subarray(0, m * classes), s * classes);
    }
    return out;
  };

  /**
   * One training step on a batch of exactly the compiled batch size; the arguments are a cpu
   * build's (a number `seed` restarts the module's training stream as `winnow train --seed` would,
   * an object with `float()` is drawn from instead).
   */
  const trainStep = async (x: Float32Array, labels: Uint8Array | ArrayLike<number>, batch: number, sgd: Sgd, samplesSeen: number, seed?: number | { float(): number }): Promise<Step> => {
    if (!spec.train) throw new Error('trainStep: this module was built with --inference-only');
    checkBatch(x, batch, 'trainStep');
    if (batch !== B) throw new RangeError(`trainStep: the training program is compiled for batch ${B}, got ${batch} (rebuild with --batch ${batch})`);
    if (!labels || labels.length < batch) throw new RangeError(`trainStep: labels must hold ${batch} class indices`);
    if (typeof seed === 'number') stream = Rng.fromSeed(seed, 2);
    const rng = typeof seed === 'object' && seed !== null ? seed : stream;
    const r = await runner.trainStep(x, labels, batch, sgd, samplesSeen, rng);
    return r.nonFinite !== undefined ? { loss: r.loss, correct: r.correct, nonFinite: r.nonFinite } : { loss: r.loss, correct: r.correct };
  };

  /** End of an epoch: every k-winners layer's boost strength times its strengthFactor. */
  const endEpoch = async (): Promise<void> => {
    if (!spec.epochEnd) throw new Error('endEpoch: this module was built with --inference-only');
    await runner.endEpoch();
  };

  /** A copy of the state (read back from the device first on webgpu). */
  const stateCopy = async (): Promise<StateCopy> => {
    await runner.sync();
    const out = { tensors: {} as Record<string, { shape: number[]; data: Float32Array }>, momentum: {} as Record<string, Float32Array>, masks: {} as Record<string, Uint8Array> };
    for (const [name, t] of state.tensors) out.tensors[name] = { shape: [...t.shape], data: Float32Array.from(t.data) };
    for (const [name, m] of state.momentum) out.momentum[name] = Float32Array.from(m);
    for (const [name, m] of state.masks) out.masks[name] = m.slice();
    return out;
  };

  return {
    predict,
    trainStep,
    endEpoch,
    state: stateCopy,
    /** The training stream's state (four uint32 words), e.g. to save with the weights. */
    rngState: () => stream.state(),
    /** Frees the GPU kernels and buffers; the module is unusable after. */
    dispose: () => runner.dispose(),
  };
};
