/**
 * `winnow bench --profile`: where a cpu training step's time goes, kernel by kernel, so the next
 * bottleneck is visible. A fresh cpu model (seed 1, float32) on real MNIST batches of `batch`
 * (64), `warmup` steps (compiling the program, warming the JIT and the worker threads), then
 * `steps` steps timed kernel by kernel (the wall time of each kernel's call, its slices on every
 * thread included); per kernel the mean and the minimum milliseconds per step and its share of the
 * mean step, with the forms pass `sparseForms` chose. On a shared machine every number moves with
 * the load; the minimum is the least disturbed.
 *
 * @example
 * import { profileTraining } from 'winnow/runtime/profile';
 * // const p = await profileTraining({ model: 'examples/models/sparse-mlp.json' });
 * // p.kernels[0]; // { index: 0, name: 'k0_compactInput', ops: 'compactInput', meanMs: ..., minMs: ..., share: ... }
 */
import { compile } from '../compiler/backend/compile.ts';
import { lower, trace } from '../compiler/index.ts';
import { WinnowError } from '../dsl/errors.ts';
import { shapeSize } from '../dsl/shape.ts';
import { createCpuModel } from './cpu/model.ts';
import { cpuCompileOptions } from './cpu/layout.ts';
import { loadNetwork } from './load-model.ts';
import { loadMnist, normalizeInto } from './mnist.ts';
import { initModelState } from './model-state.ts';
import { Rng } from './rng.ts';

/** Options of `profileTraining`. */
export interface ProfileOptions {
  /** A model file or module (784 inputs, 10 classes: MNIST). */
  readonly model: string;
  readonly batch?: number;
  /** Profiled steps (default 20) after `warmup` steps (default 5). */
  readonly steps?: number;
  readonly warmup?: number;
  /** Threads of the cpu model (default: the cpu backend's default, WINNOW_THREADS or the cores). */
  readonly threads?: number;
}

/** One kernel's time. */
export interface KernelTime {
  /** Its position in the program. */
  readonly index: number;
  readonly name: string;
  /** Its ops, root first: `linearGradWOuter+momentum`. */
  readonly ops: string;
  /** Milliseconds per step: the mean and the minimum over the profiled steps. */
  readonly meanMs: number;
  readonly minMs: number;
  /** Mean milliseconds over the mean step's milliseconds. */
  readonly share: number;
}

/** What `profileTraining` returns. */
export interface ProfileResult {
  readonly model: string;
  readonly backend: 'cpu';
  readonly threads: number;
  readonly batch: number;
  readonly steps: number;
  readonly warmup: number;
  /** The sparse-forms choices of the training program, one line each. */
  readonly forms: ReadonlyArray<string>;
  /** In program order. */
  readonly kernels: ReadonlyArray<KernelTime>;
  /** Mean milliseconds per step writing the inputs (batch, labels, scalars, random masks) and copying updates back. */
  readonly hostMs: number;
  readonly copyMs: number;
  /** The mean step, and the samples per second it means. */
  readonly stepMs: number;
  readonly samplesPerSecond: number;
}

/** Profiles a cpu training step. Throws a one-line `WinnowError` for a model MNIST cannot train. */
export const profileTraining = async (options: ProfileOptions): Promise<ProfileResult> => {
  const network = await loadNetwork(options.model);
  if (shapeSize(network.input) !== 784) throw new WinnowError('usage', `${options.model}: MNIST images have 784 values; the model's input [${network.input.join(', ')}] does not`);
  if (network.shapes[network.shapes.length - 1][0] !== 10) throw new WinnowError('usage', `${options.model}: MNIST has 10 classes; the model must output 10 logits`);
  const lowered = lower(trace(network));
  const batch = options.batch ?? 64;
  const steps = options.steps ?? 20;
  const warmup = options.warmup ?? 5;
  const t = network.training ?? {};
  const sgd = { lr: t.lr ?? 0.01, momentum: t.momentum ?? 0, weightDecay: t.weightDecay ?? 0 };
  const train = loadMnist('train', { limit: batch * 8 });
  const batches = Array.from({ length: 8 }, (_, b) => {
    const idx = Array.from({ length: batch }, (_, i) => b * batch + i);
    return { x: normalizeInto(train.pixels, idx, new Float32Array(batch * 784)), labels: Uint8Array.from(idx, (i) => train.labels[i]) };
  });
  const compiled = compile(lowered, { program: 'train', batch, ...cpuCompileOptions });
  const { ir, kernels } = compiled.schedule;
  const model = await createCpuModel(lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }), options.threads !== undefined ? { threads: options.threads } : {});
  try {
    const rng = Rng.fromSeed(1, 2);
    let step = 0;
    const next = () => batches[step++ % batches.length];
    for (let i = 0; i < warmup; i++) {
      const b = next();
      await model.trainStep(b.x, b.labels, batch, sgd, step * batch, rng);
    }
    const sum = new Float64Array(kernels.length);
    const min = new Float64Array(kernels.length).fill(Infinity);
    let host = 0;
    let copy = 0;
    let total = 0;
    for (let i = 0; i < steps; i++) {
      const b = next();
      const p = await model.profileStep(b.x, b.labels, batch, sgd, step * batch, rng);
      if (p.kernels.length !== kernels.length) throw new Error('profile: the model ran another program than the one compiled here');
      p.kernels.forEach((k, j) => {
        sum[j] += k.ms;
        min[j] = Math.min(min[j], k.ms);
      });
      host += p.hostMs;
      copy += p.copyMs;
      total += p.totalMs;
    }
    const stepMs = total / steps;
    return {
      model: options.model,
      backend: 'cpu',
      threads: model.threads,
      batch,
      steps,
      warmup,
      forms: (compiled.forms ?? []).map((f) => f.why),
      kernels: kernels.map((k, j) => ({ index: j, name: k.name, ops: k.ops.map((o) => ir.ops[o].op).join('+'), meanMs: sum[j] / steps, minMs: min[j], share: sum[j] / steps / stepMs })),
      hostMs: host / steps,
      copyMs: copy / steps,
      stepMs,
      samplesPerSecond: (batch * 1000) / stepMs,
    };
  } finally {
    model.dispose();
  }
};
