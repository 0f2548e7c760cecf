/**
 * Gradient checks by finite differences along a random direction, in float64 (JAX's
 * `check_grads` idea): with a fixed random cotangent R and f(inputs) = <forward(inputs), R>, the
 * central difference (f(x + eps d) - f(x - eps d)) / 2 eps must match <backward(R), d> for a
 * random direction d, input by input.
 */
import type { Op } from '../../compiler/ir.ts';
import type { Shape } from '../../dsl/shape.ts';
import type { Kernel, KernelContext } from '../../runtime/reference/kernel.ts';
import { Rng } from '../../runtime/rng.ts';

/** The setup of one kernel call. */
export interface KernelCall {
  readonly op: Op;
  readonly inputs: ReadonlyArray<Float64Array>;
  readonly inShapes: ReadonlyArray<Shape>;
  readonly batch: number;
  readonly training?: boolean;
  readonly samplesSeen?: number;
  /** Seed of the kernel's rng (dropout): every evaluation gets the same stream. */
  readonly seed?: number;
}

/** Runs a kernel's forward on copies of the inputs (state updates do not leak between calls). */
export const runForward = (kernel: Kernel, call: KernelCall) => {
  const ctx: KernelContext = {
    op: call.op,
    inputs: call.inputs.map((a) => Float64Array.from(a)),
    inShapes: call.inShapes,
    batch: call.batch,
    training: call.training ?? true,
    samplesSeen: call.samplesSeen ?? call.batch,
    rng: Rng.fromSeed(call.seed ?? 7),
    alloc: (n) => new Float64Array(n),
  };
  return { ctx, result: kernel.forward(ctx) };
};

const randomArray = (rng: Rng, n: number): Float64Array => Float64Array.from({ length: n }, () => rng.normal());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** Result per checked input: analytic and numeric directional derivatives and their relative error. */
export interface GradCheck {
  readonly input: number;
  readonly analytic: number;
  readonly numeric: number;
  readonly relError: number;
}

/**
 * Checks the gradients of `inputs` (indices) of a kernel. `eps` is the step along the unit-norm
 * direction.
 */
export const gradCheck = (kernel: Kernel, call: KernelCall, inputs: ReadonlyArray<number>, options: { readonly eps?: number; readonly seed?: number } = {}): GradCheck[] => {
  const rng = Rng.fromSeed(options.seed ?? 12345);
  const eps = options.eps ?? 1e-6;
  const { ctx, result } = runForward(kernel, call);
  const cot = randomArray(rng, result.out.length);
  const grads = kernel.backward!(ctx, result.cache, cot);
  return inputs.map((i) => {
    const dir = randomArray(rng, call.inputs[i].length);
    const norm = Math.sqrt(dot(dir, dir));
    for (let j = 0; j < dir.length; j++) dir[j] /= norm;
    const shifted = (sign: number) => {
      const moved = call.inputs.map((a, j) => (j === i ? Float64Array.from(a, (v, t) => v + sign * eps * dir[t]) : a));
      return dot(runForward(kernel, { ...call, inputs: moved }).result.out, cot);
    };
    const numeric = (shifted(1) - shifted(-1)) / (2 * eps);
    const g = grads[i];
    if (!g) throw new Error(`kernel ${call.op.op} gives no gradient for input ${i}`);
    const analytic = dot(g, dir);
    return { input: i, analytic, numeric, relError: Math.abs(analytic - numeric) / Math.max(1e-8, Math.abs(analytic) + Math.abs(numeric)) };
  });
};

/** An IR op for a kernel test (only what kernels read: op kind, attrs, shape). */
export const testOp = (op: Op['op'], attrs: Op['attrs'], shape: Shape): Op => ({ id: 0, op, inputs: [], attrs, shape, dtype: 'f32', batched: true });
