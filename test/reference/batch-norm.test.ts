import { describe, expect, it } from 'vitest';
import type { Shape } from '../../dsl/shape.ts';
import { batchNormKernel } from '../../runtime/reference/kernels/batch-norm.ts';
import { Rng } from '../../runtime/rng.ts';
import { gradCheck, runForward, testOp, type KernelCall } from './gradcheck.ts';

interface BnSpec {
  readonly shape: Shape;
  readonly batch: number;
  readonly x: Float64Array;
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  readonly gamma?: Float64Array;
  readonly beta?: Float64Array;
  readonly momentum?: number;
  readonly epsilon?: number;
  readonly training?: boolean;
}

const bnCall = (s: BnSpec): KernelCall => {
  const c = s.shape[0];
  const affine = s.gamma !== undefined && s.beta !== undefined;
  return {
    op: testOp('batchNorm', { affine, momentum: s.momentum ?? 0.1, epsilon: s.epsilon ?? 1e-5 }, s.shape),
    inputs: affine ? [s.x, s.mean, s.variance, s.gamma!, s.beta!] : [s.x, s.mean, s.variance],
    inShapes: affine ? [s.shape, [c], [c], [c], [c]] : [s.shape, [c], [c]],
    batch: s.batch,
    training: s.training ?? true,
  };
};

const f64 = (...v: number[]) => Float64Array.from(v);
const expectClose = (actual: ArrayLike<number>, expected: ReadonlyArray<number>) => {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 12);
};
const random = (rng: Rng, n: number, scale = 1, shift = 0) => Float64Array.from({ length: n }, () => shift + scale * rng.normal());

describe('batchNorm forward', () => {
  it('normalises vectors per feature with the batch statistics and updates the running ones (training)', () => {
    // 4 samples x 2 features. Feature 0: 1,2,3,4 (mean 2.5, biased var 1.25, unbiased 5/3).
    // Feature 1: 0,0,4,4 (mean 2, biased var 4, unbiased 16/3).
    const { ctx, result } = runForward(batchNormKernel, bnCall({
      shape: [2], batch: 4,
      x: f64(1, 0, 2, 0, 3, 4, 4, 4),
      mean: f64(0, 0), variance: f64(1, 1),
      gamma: f64(2, 0.5), beta: f64(1, -1),
      momentum: 0.1, epsilon: 0,
    }));
    const h = [-1.5, -0.5, 0.5, 1.5].map((v) => v / Math.sqrt(1.25));
    expectClose(result.out, [
      2 * h[0] + 1, -1.5,
      2 * h[1] + 1, -1.5,
      2 * h[2] + 1, -0.5,
      2 * h[3] + 1, -0.5,
    ]);
    // running = 0.9 * running + 0.1 * batch statistic (unbiased variance).
    expectClose(ctx.inputs[1], [0.25, 0.2]);
    expectClose(ctx.inputs[2], [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * (16 / 3)]);
  });

  it('normalises images per channel over batch, H and W (training, no affine)', () => {
    // 2 samples of [2, 1, 2]. Channel 0: 1,3,5,7 (mean 4, var 5, unbiased 20/3).
    // Channel 1: 2,2,2,6 (mean 3, var 3, unbiased 4).
    const { ctx, result } = runForward(batchNormKernel, bnCall({
      shape: [2, 1, 2], batch: 2,
      x: f64(1, 3, 2, 2, 5, 7, 2, 6),
      mean: f64(0, 0), variance: f64(1, 1),
      momentum: 0.5, epsilon: 0,
    }));
    const s5 = Math.sqrt(5), s3 = Math.sqrt(3);
    expectClose(result.out, [-3 / s5, -1 / s5, -1 / s3, -1 / s3, 1 / s5, 3 / s5, -1 / s3, 3 / s3]);
    expectClose(ctx.inputs[1], [2, 1.5]);
    expectClose(ctx.inputs[2], [0.5 + 0.5 * (20 / 3), 0.5 + 0.5 * 4]);
  });

  it('uses the running statistics at inference and leaves them alone', () => {
    const { ctx, result } = runForward(batchNormKernel, bnCall({
      shape: [2], batch: 2,
      x: f64(3, 5, 1, -1),
      mean: f64(1, 2), variance: f64(4, 9),
      gamma: f64(2, 3), beta: f64(0, 1),
      epsilon: 0, training: false,
    }));
    expectClose(result.out, [2, 4, 0, -2]);
    expectClose(ctx.inputs[1], [1, 2]);
    expectClose(ctx.inputs[2], [4, 9]);
  });

  it('adds epsilon to the variance', () => {
    const { result } = runForward(batchNormKernel, bnCall({
      shape: [1], batch: 2, x: f64(-1, 1), mean: f64(0), variance: f64(1), epsilon: 1,
    }));
    expectClose(result.out, [-1 / Math.sqrt(2), 1 / Math.sqrt(2)]);
  });
});

describe('batchNorm gradients', () => {
  const rng = Rng.fromSeed(3);

  it('checks x, gamma and beta for vectors (training)', () => {
    const call = bnCall({
      shape: [5], batch: 6, x: random(rng, 30, 2, 1),
      mean: random(rng, 5), variance: f64(1, 2, 3, 4, 5),
      gamma: random(rng, 5, 1, 1), beta: random(rng, 5),
    });
    for (const g of gradCheck(batchNormKernel, call, [0, 3, 4])) expect(g.relError).toBeLessThan(1e-6);
  });

  it('checks x, gamma and beta for images (training)', () => {
    const call = bnCall({
      shape: [3, 4, 5], batch: 3, x: random(rng, 3 * 60, 1.5, -0.5),
      mean: f64(0, 0, 0), variance: f64(1, 1, 1),
      gamma: random(rng, 3, 1, 1), beta: random(rng, 3),
    });
    for (const g of gradCheck(batchNormKernel, call, [0, 3, 4])) expect(g.relError).toBeLessThan(1e-6);
  });

  it('checks x without affine parameters and gives no gradient to the running statistics', () => {
    const call = bnCall({ shape: [2, 3, 3], batch: 2, x: random(rng, 36), mean: f64(0, 0), variance: f64(1, 1) });
    for (const g of gradCheck(batchNormKernel, call, [0])) expect(g.relError).toBeLessThan(1e-6);
    const { ctx, result } = runForward(batchNormKernel, call);
    const grads = batchNormKernel.backward!(ctx, result.cache, result.out);
    expect(grads[1]).toBeUndefined();
    expect(grads[2]).toBeUndefined();
  });

  it('checks x, gamma and beta at inference (vectors and images)', () => {
    const vec = bnCall({
      shape: [4], batch: 3, x: random(rng, 12), mean: random(rng, 4), variance: f64(0.5, 1, 2, 3),
      gamma: random(rng, 4, 1, 1), beta: random(rng, 4), training: false,
    });
    for (const g of gradCheck(batchNormKernel, vec, [0, 3, 4])) expect(g.relError).toBeLessThan(1e-6);
    const img = bnCall({
      shape: [2, 3, 2], batch: 2, x: random(rng, 24), mean: random(rng, 2), variance: f64(0.7, 1.3),
      gamma: random(rng, 2, 1, 1), beta: random(rng, 2), training: false,
    });
    for (const g of gradCheck(batchNormKernel, img, [0, 3, 4])) expect(g.relError).toBeLessThan(1e-6);
  });
});
