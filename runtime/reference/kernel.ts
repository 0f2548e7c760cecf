/**
 * The reference backend's per-op kernels: plain, obviously correct TypeScript over typed arrays,
 * interpreted op by op. The reference backend is the oracle every other backend is tested
 * against, so clarity beats speed here (within reason: it must still train an MLP in minutes).
 *
 * Layout: activations are row-major `[batch, ...shape]`; dense weights `[units, fanIn]`; conv
 * weights `[filters, channels, kernel, kernel]`.
 */
import type { Shape } from '../../dsl/shape.ts';
import type { Op } from '../../compiler/ir.ts';
import type { Rng } from '../rng.ts';

/** The float arrays a reference model computes in (float32 for training, float64 for gradient checks). */
export type Arr = Float32Array | Float64Array;

/** What a kernel sees when it runs. */
export interface KernelContext {
  /** The IR op (attributes and its output shape). */
  readonly op: Op;
  /** Values of the op's inputs: `batch x size` for activations, whole tensors for parameters and state. */
  readonly inputs: ReadonlyArray<Arr>;
  /** Shapes of the inputs: per sample for activations, absolute for parameters and state. */
  readonly inShapes: ReadonlyArray<Shape>;
  readonly batch: number;
  /** Training (dropout active, duty cycles and running statistics updated) or inference. */
  readonly training: boolean;
  /** Samples seen in training so far, including this batch (the duty-cycle period). */
  readonly samplesSeen: number;
  /** The stream for dropout and DropConnect masks. */
  readonly rng: Rng;
  /** A zeroed array of the model's float type. */
  readonly alloc: (length: number) => Arr;
}

/** A kernel's forward result: its output and whatever its backward needs. */
export interface ForwardResult {
  readonly out: Arr;
  readonly cache?: unknown;
}

/** An op's reference implementation. */
export interface Kernel {
  readonly forward: (ctx: KernelContext) => ForwardResult;
  /** Gradients with respect to each input (undefined where none flows: state, indices). */
  readonly backward?: (ctx: KernelContext, cache: unknown, dOut: Arr) => ReadonlyArray<Arr | undefined>;
}
