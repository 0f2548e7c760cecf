/**
 * Shared by the gpu.js tests: the kernel settings generated code uses, a call that awaits webgpu's
 * Promises, result flattening, and the rule for WebGPU here: the tests FAIL when no adapter can be
 * had (CI installs Mesa for llvmpipe, see .ci/run), unless WINNOW_SKIP_WEBGPU=1 says to skip them.
 */
import * as gpujs from 'gpu.js';
import { installNodeWebGPU } from '../../runtime/gpu/node-webgpu.ts';

/** Set WINNOW_SKIP_WEBGPU=1 on a machine without EGL/Mesa (or Vulkan) to skip the webgpu tests. */
export const skipWebGPU = process.env.WINNOW_SKIP_WEBGPU === '1';

/** The three modes generated kernels must agree on; webgpu only when not skipped. */
export const modes = skipWebGPU ? (['cpu', 'webasm'] as const) : (['cpu', 'webasm', 'webgpu'] as const);
export type Mode = 'cpu' | 'webasm' | 'webgpu';

/** Installs Dawn at navigator.gpu, or throws the one-line reason: webgpu tests fail, never skip silently. */
export async function requireWebGPU(): Promise<void> {
  const status = await installNodeWebGPU();
  if (!status.ok) throw new Error(`WebGPU unavailable: ${status.reason} (set WINNOW_SKIP_WEBGPU=1 to skip the webgpu tests)`);
}

// gpu.js's typings declare `input` only as a type; the function is there at run time.
export const input = (gpujs as unknown as { input: (value: Float32Array, size: number[]) => unknown }).input;

/** The settings the kernel generator uses. */
export const settings = (output: number[], extra: Record<string, unknown> = {}) => ({
  output,
  loopMaxIterations: 1 << 30,
  precision: 'single' as const,
  tactic: 'precision' as const,
  ...extra,
});

/** A kernel as these tests call it: any arguments, a value or (webgpu) a Promise of one. */
export type AnyKernel = (...args: unknown[]) => unknown;

/** Calls a kernel and awaits its result when the mode returns a Promise (webgpu). */
export async function call(kernel: unknown, ...args: unknown[]): Promise<unknown> {
  const result = (kernel as AnyKernel)(...args);
  return result && typeof (result as { then?: unknown }).then === 'function' ? await result : result;
}

/** A kernel result (typed array, nested arrays of rows) as one flat list of numbers. */
export function flat(result: unknown): number[] {
  const out: number[] = [];
  const walk = (x: unknown): void => {
    if (typeof x === 'number') out.push(x);
    else for (const y of x as Iterable<unknown>) walk(y);
  };
  walk(result);
  return out;
}

/** Deterministic values in [-1, 1), already f32. */
export function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 8) / 16777216) * 2 - 1;
  }
  return a;
}

/** Largest |got - want| / max(1, |want|); Infinity when the lengths differ. */
export function maxError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (Number.isNaN(e)) return Infinity;
    worst = Math.max(worst, e);
  }
  return worst;
}
