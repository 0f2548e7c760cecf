/**
 * The runtime of a module built by `winnow build`: everything such a module runs besides its
 * generated kernels. It sets up one WebAssembly memory, decodes the embedded state into it,
 * instantiates the embedded matrix-product binaries, and runs the programs the compiler generated
 * (`runtime/aot/build.ts` lays out the memory and bakes every address in). It imports nothing but
 * the project's random number generator, and runs in Node or a browser: no compiler, no wabt, no
 * file system.
 *
 * The memory layout is the cpu backend's (runtime/cpu/model.ts): the state arena (tensors, then
 * momentum buffers, then masks as floats), then each program's inputs, temporaries and scratch.
 *
 * A built module runs on one thread: every kernel is called whole (`k(M)`), and its memory is not
 * shared. (The in-process cpu backend can split the same kernels across worker threads; a built
 * module has no workers, so it needs neither SharedArrayBuffer nor cross-origin isolation.)
 */
import { Rng } from '../rng.ts';

/** A generated program's factory: `(M, W) => kernels` (compiler/codegen/js/program.ts). */
export type ProgramFactory = (m: unknown, w: Record<string, unknown>) => Array<(m: Float32Array) => void>;

/** One compiled program, with every address (in floats) fixed at build time. */
export interface ProgramSpec {
  readonly factory: ProgramFactory;
  /** The matrix products' WebAssembly binary, base64, or '' when there are none. */
  readonly wasm: string;
  /** Addresses of the batch's inputs and labels. */
  readonly inputs: ReadonlyArray<number>;
  readonly labels: ReadonlyArray<number>;
  /** Scalar sources: [role ('lr', 'momentum', 'weightDecay', else samples seen), address]. */
  readonly scalars: ReadonlyArray<readonly [string, number]>;
  /** Random keep-masks in draw order: [address, elements, drop rate]. */
  readonly randoms: ReadonlyArray<readonly [number, number, number]>;
  /** State updates not done in place: [from, to, length]. */
  readonly copies: ReadonlyArray<readonly [number, number, number]>;
  /** Address of the output (logits), and of the per-sample [loss, correct] statistics (-1: none). */
  readonly output: number;
  readonly stats: number;
}

/** One tensor of the state arena, at `offset` (in floats) in memory (`maskIndex`: a sparse weight's index lists, int32 bit patterns, derived from its mask at build time). */
export interface ArenaEntry {
  readonly map: 'tensors' | 'momentum' | 'masks' | 'maskIndex';
  readonly name: string;
  readonly shape: ReadonlyArray<number>;
  readonly offset: number;
  readonly length: number;
}

/** Everything `winnow build` bakes into a module besides the kernels. */
export interface StandaloneSpec {
  readonly name: string;
  readonly batch: number;
  readonly classes: number;
  readonly inputShape: ReadonlyArray<number>;
  /** Floats of memory the programs need. */
  readonly memoryFloats: number;
  readonly arena: ReadonlyArray<ArenaEntry>;
  /** The arena's data, base64 (see `encodeArena` in build.ts). */
  readonly data: string;
  /** The training stream's state (dropout, DropConnect), four uint32 words. */
  readonly rng: readonly [number, number, number, number];
  readonly inference: ProgramSpec;
  readonly train?: ProgramSpec;
  readonly epochEnd?: ProgramSpec;
}

/** SGD hyperparameters of a step. */
export interface Sgd {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

/** A training step's outcome: mean loss and correct predictions before the step. */
export interface Step {
  readonly loss: number;
  readonly correct: number;
  readonly nonFinite?: string;
}

/** A copy of the model's state. */
export interface StateCopy {
  readonly tensors: Record<string, { readonly shape: number[]; readonly data: Float32Array }>;
  readonly momentum: Record<string, Float32Array>;
  readonly masks: Record<string, Uint8Array>;
}

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes base64 (no dependency on Buffer or atob). */
export const fromBase64 = (text: string): Uint8Array<ArrayBuffer> => {
  const lookup = new Uint8Array(128);
  for (let i = 0; i < 64; i++) lookup[alphabet.charCodeAt(i)] = i;
  let n = text.length;
  while (n > 0 && text[n - 1] === '=') n--;
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let j = 0;
  for (let i = 0; i < n; i += 4) {
    const a = lookup[text.charCodeAt(i)], b = lookup[text.charCodeAt(i + 1)];
    const c = i + 2 < n ? lookup[text.charCodeAt(i + 2)] : 0, d = i + 3 < n ? lookup[text.charCodeAt(i + 3)] : 0;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    if (j < out.length) out[j++] = v >>> 16;
    if (j < out.length) out[j++] = (v >>> 8) & 255;
    if (j < out.length) out[j++] = v & 255;
  }
  return out;
};

/** Writes the arena's encoded data into memory (the inverse of build.ts's `encodeArena`). */
export const decodeArena = (arena: ReadonlyArray<ArenaEntry>, bytes: Uint8Array, M: Float32Array): void => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (const e of arena) {
    const bitmap = at;
    at += (Math.ceil(e.length / 8) + 3) & ~3;
    for (let i = 0; i < e.length; i++) {
      if (!((bytes[bitmap + (i >>> 3)] >>> (i & 7)) & 1)) continue;
      if (e.map === 'masks') M[e.offset + i] = 1;
      else {
        M[e.offset + i] = view.getFloat32(at, true);
        at += 4;
      }
    }
  }
};

const shapeSize = (s: ReadonlyArray<number>) => s.reduce((a, b) => a * b, 1);

/** A built module's API over its spec. */
export const createStandalone = async (spec: StandaloneSpec) => {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((spec.memoryFloats * 4) / 65536) + 1 });
  const M = new Float32Array(memory.buffer);
  decodeArena(spec.arena, fromBase64(spec.data), M);
  const B = spec.batch;
  const inputSize = shapeSize(spec.inputShape);
  const classes = spec.classes;
  let stream = Rng.fromState(spec.rng);

  const load = async (p: ProgramSpec) => {
    const exports = p.wasm ? (await WebAssembly.instantiate(fromBase64(p.wasm), { env: { mem: memory } })).instance.exports : {};
    return { ...p, kernels: p.factory(undefined, exports as Record<string, unknown>) };
  };
  const inference = await load(spec.inference);
  const train = spec.train ? await load(spec.train) : undefined;
  const epochEnd = spec.epochEnd ? await load(spec.epochEnd) : undefined;
  type Loaded = typeof inference;
  const run = (p: Loaded) => {
    for (const k of p.kernels) k(M);
    for (const [from, to, length] of p.copies) M.copyWithin(to, from, from + length);
  };
  const checkBatch = (x: unknown, batch: unknown, what: string) => {
    if (!(x instanceof Float32Array)) throw new TypeError(`${what}: x must be a Float32Array`);
    if (!Number.isInteger(batch) || (batch as number) < 0) throw new RangeError(`${what}: batch must be a non-negative integer, got ${String(batch)}`);
    if (x.length < (batch as number) * inputSize) throw new RangeError(`${what}: x holds ${x.length} values, a batch of ${String(batch)} needs ${(batch as number) * inputSize}`);
  };

  /** Logits of `batch` samples (any number: run in chunks of the compiled batch, the last one zero-padded). */
  const predict = (x: Float32Array, batch: number): Float32Array => {
    checkBatch(x, batch, 'predict');
    const out = new Float32Array(batch * classes);
    const p = inference;
    for (const [, at] of p.scalars) M[at] = 0;
    for (let s = 0; s < batch; s += B) {
      const m = Math.min(B, batch - s);
      for (const at of p.inputs) {
        M.set(x.subarray(s * inputSize, (s + m) * inputSize), at);
        if (m < B) M.fill(0, at + m * inputSize, at + B * inputSize);
      }
      run(p);
      out.set(M.subarray(p.output, p.output + m * classes), s * classes);
    }
    return out;
  };

  /**
   * One training step (forward, loss, backward, SGD with mask re-zeroing, duty cycles) on a batch
   * of exactly the compiled batch size. `samplesSeen` counts training samples including this
   * batch. Dropout and DropConnect masks come from the module's training stream; `seed` (a
   * number) first restarts that stream as `winnow train --seed` would, or (an object with
   * `float()`, e.g. winnow's Rng) is drawn from instead.
   */
  const trainStep = (x: Float32Array, labels: Uint8Array | ArrayLike<number>, batch: number, sgd: Sgd, samplesSeen: number, seed?: number | { float(): number }): Step => {
    const p = train;
    if (!p) throw new Error('trainStep: this module was built with --inference-only');
    checkBatch(x, batch, 'trainStep');
    if (batch !== B) throw new RangeError(`trainStep: the training program is compiled for batch ${B}, got ${batch} (rebuild with --batch ${batch})`);
    if (!labels || labels.length < batch) throw new RangeError(`trainStep: labels must hold ${batch} class indices`);
    if (typeof seed === 'number') stream = Rng.fromSeed(seed, 2);
    const rng = typeof seed === 'object' && seed !== null ? seed : stream;
    for (const at of p.inputs) M.set(x.subarray(0, batch * inputSize), at);
    for (const at of p.labels) for (let i = 0; i < batch; i++) M[at + i] = labels[i];
    for (const [role, at] of p.scalars) M[at] = role === 'lr' ? sgd.lr : role === 'momentum' ? sgd.momentum : role === 'weightDecay' ? sgd.weightDecay : samplesSeen;
    for (const [at, n, rate] of p.randoms) for (let i = 0; i < n; i++) M[at + i] = rng.float() >= rate ? 1 : 0;
    run(p);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < batch; i++) {
      loss += M[p.stats + 2 * i];
      correct += M[p.stats + 2 * i + 1];
    }
    loss /= batch;
    correct = Math.round(correct);
    return Number.isFinite(loss) ? { loss, correct } : { loss, correct, nonFinite: 'the loss' };
  };

  /** End of an epoch: every k-winners layer's boost strength times its strengthFactor. */
  const endEpoch = (): void => {
    if (!epochEnd) throw new Error('endEpoch: this module was built with --inference-only');
    run(epochEnd);
  };

  /** A copy of the state: tensors (weights, biases, duty cycles, boost strengths, ...), momentum buffers and masks. */
  const state = (): StateCopy => {
    const out = { tensors: {} as StateCopy['tensors'], momentum: {} as Record<string, Float32Array>, masks: {} as Record<string, Uint8Array> };
    for (const e of spec.arena) {
      const data = M.slice(e.offset, e.offset + e.length);
      if (e.map === 'tensors') (out.tensors as Record<string, unknown>)[e.name] = { shape: [...e.shape], data };
      else if (e.map === 'momentum') out.momentum[e.name] = data;
      else if (e.map === 'masks') out.masks[e.name] = Uint8Array.from(data);
    }
    return out;
  };

  return {
    predict,
    trainStep,
    endEpoch,
    state,
    /** The training stream's state (four uint32 words), e.g. to save with the weights. */
    rngState: () => stream.state(),
  };
};
