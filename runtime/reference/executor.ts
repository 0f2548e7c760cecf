/**
 * The reference backend's interpreter: runs a lowered IR op by op with the reference kernels,
 * keeping every op's output and cache for the backward pass (reverse-mode, op by op).
 */
import type { Op, OpName } from '../../compiler/ir.ts';
import type { Lowered } from '../../compiler/stages.ts';
import type { Shape } from '../../dsl/shape.ts';
import { allocFloat, sourceName, type ModelState } from '../model-state.ts';
import type { Rng } from '../rng.ts';
import type { Arr, Kernel, KernelContext } from './kernel.ts';
import { batchNormKernel } from './kernels/batch-norm.ts';
import { conv2dKernel } from './kernels/conv2d.ts';
import { denseKernel } from './kernels/dense.ts';
import { dropoutKernel, identityKernel, reluKernel } from './kernels/elementwise.ts';
import { kwtaKernel } from './kernels/kwta.ts';
import { maxPool2dKernel } from './kernels/max-pool2d.ts';

/** The kernel of every compute op. */
export const referenceKernels: Readonly<Partial<Record<OpName, Kernel>>> = {
  dense: denseKernel,
  conv2d: conv2dKernel,
  maxPool2d: maxPool2dKernel,
  flatten: identityKernel,
  relu: reluKernel,
  batchNorm: batchNormKernel,
  kwta: kwtaKernel,
  dropout: dropoutKernel,
  softmaxCrossEntropy: identityKernel,
};

/** What a forward pass leaves for the backward pass. */
export interface ForwardPass {
  readonly batch: number;
  /** Output of every op, by id (sources: the state tensor itself). */
  readonly values: ReadonlyArray<Arr>;
  readonly contexts: ReadonlyArray<KernelContext | undefined>;
  readonly caches: ReadonlyArray<unknown>;
  /** The network's output (logits). */
  readonly output: Arr;
}

/** Options of one forward pass. */
export interface ForwardOptions {
  readonly training: boolean;
  readonly rng: Rng;
  /** Samples seen in training so far, including this batch. */
  readonly samplesSeen: number;
}

/** Runs the network on a batch (`batch x inputSize` values). */
export const forward = (lowered: Lowered, state: ModelState, x: Arr, batch: number, options: ForwardOptions): ForwardPass => {
  const ops = lowered.ir.ops;
  const values: Arr[] = [];
  const contexts: Array<KernelContext | undefined> = [];
  const caches: unknown[] = [];
  const alloc = (n: number) => allocFloat(state.dtype, n);
  for (const op of ops) {
    if (op.op === 'input') {
      values.push(x);
      contexts.push(undefined);
      caches.push(undefined);
      continue;
    }
    if (op.op === 'param' || op.op === 'state') {
      values.push(state.tensors.get(sourceName(op))!.data);
      contexts.push(undefined);
      caches.push(undefined);
      continue;
    }
    const ctx: KernelContext = {
      op,
      inputs: op.inputs.map((i) => values[i]),
      inShapes: op.inputs.map((i) => ops[i].shape as Shape),
      batch,
      training: options.training,
      samplesSeen: options.samplesSeen,
      rng: options.rng,
      alloc,
    };
    const r = kernelOf(op).forward(ctx);
    values.push(r.out);
    contexts.push(ctx);
    caches.push(r.cache);
  }
  return { batch, values, contexts, caches, output: values[lowered.ir.output] };
};

const kernelOf = (op: Op): Kernel => {
  const k = referenceKernels[op.op];
  if (!k) throw new Error(`reference backend: no kernel for ${op.op}`);
  return k;
};

/**
 * Back-propagates `dOutput` (d loss / d network output) through a forward pass; returns the
 * gradient of every parameter by name.
 */
export const backward = (lowered: Lowered, state: ModelState, pass: ForwardPass, dOutput: Arr): Map<string, Arr> => {
  const ops = lowered.ir.ops;
  const grads: Array<Arr | undefined> = new Array(ops.length);
  grads[lowered.ir.output] = dOutput;
  const add = (id: number, g: Arr) => {
    const prev = grads[id];
    if (!prev) grads[id] = g;
    else for (let i = 0; i < g.length; i++) prev[i] += g[i];
  };
  for (let id = ops.length - 1; id >= 0; id--) {
    const op = ops[id];
    const g = grads[id];
    const ctx = pass.contexts[id];
    if (!g || !ctx) continue;
    const kernel = kernelOf(op);
    if (!kernel.backward) continue;
    const inputGrads = kernel.backward(ctx, pass.caches[id], g);
    op.inputs.forEach((input, j) => {
      const gi = inputGrads[j];
      const src = ops[input];
      if (gi && src.op !== 'state' && src.op !== 'input') add(input, gi === g ? gi.slice() : gi); // no aliasing between ops' gradients
    });
  }
  const out = new Map<string, Arr>();
  for (const op of ops) if (op.op === 'param') out.set(sourceName(op), grads[op.id] ?? allocFloat(state.dtype, state.tensors.get(sourceName(op))!.data.length));
  return out;
};

/** The first layer op (in order) whose output holds a NaN or an infinity, if any. */
export const firstNonFinite = (lowered: Lowered, pass: ForwardPass): Op | undefined =>
  lowered.ir.ops.find((op) => op.batched && op.op !== 'input' && pass.values[op.id].some((v) => !Number.isFinite(v)));
