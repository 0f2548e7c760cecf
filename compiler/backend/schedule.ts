/**
 * A scheduled program: the primitive IR split into kernels (each a root op plus the elementwise
 * ops fused after it, in order) and, after buffer planning, where every materialised value lives.
 *
 * @example
 * import { compile } from 'winnow/compiler';
 * // const c = compile(lowered, { program: 'train', batch: 64 });
 * // c.schedule.kernels.length; // the number of kernels one training step launches
 */
import type { IR } from '../ir.ts';

/** One kernel: `ops[0]` is the root, the rest are fused elementwise ops; the kernel writes the last op's value. */
export interface Kernel {
  readonly index: number;
  /** A compiler-made name: `k<index>_<op>_<op>...`. */
  readonly name: string;
  readonly ops: ReadonlyArray<number>;
  readonly output: number;
}

/** Where a value lives. */
export type BufferKind = 'state' | 'host' | 'temp';

/** One buffer of the plan: a region of `length` floats at `offset` (in elements) of its kind's space. */
export interface Buffer {
  readonly id: number;
  readonly kind: BufferKind;
  readonly offset: number;
  readonly length: number;
  /** The values stored in it, in order (temps are reused by values whose lifetimes do not overlap). */
  readonly values: ReadonlyArray<number>;
}

/** The buffer plan for a batch size. */
export interface BufferPlan {
  readonly batch: number;
  readonly buffers: ReadonlyArray<Buffer>;
  /** Buffer id of every materialised value. */
  readonly bufferOf: ReadonlyMap<number, number>;
  /** Updates computed in place into their source's buffer. */
  readonly inPlace: ReadonlySet<number>;
  /** Floats of temporary storage (with reuse), and without reuse, for comparison. */
  readonly tempFloats: number;
  readonly tempFloatsUnshared: number;
}

/** A program after fusion (and, once planned, with its buffers). */
export interface Schedule {
  readonly ir: IR;
  readonly kernels: ReadonlyArray<Kernel>;
  readonly plan?: BufferPlan;
}
