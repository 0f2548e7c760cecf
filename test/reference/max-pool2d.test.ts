import { describe, expect, it } from 'vitest';
import { maxPool2dKernel } from '../../runtime/reference/kernels/max-pool2d.ts';
import { Rng } from '../../runtime/rng.ts';
import { gradCheck, runForward, testOp, type KernelCall } from './gradcheck.ts';

const poolCall = (batch: number, c: number, h: number, w: number, size: number, x: Float64Array): KernelCall => ({
  op: testOp('maxPool2d', { size }, [c, Math.floor(h / size), Math.floor(w / size)]),
  inputs: [x],
  inShapes: [[c, h, w]],
  batch,
});

/** Distinct values in random order (a stable argmax under small perturbations). */
const distinct = (n: number, seed: number): Float64Array => {
  const rng = Rng.fromSeed(seed);
  const v = Float64Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
};

describe('maxPool2d', () => {
  const x = Float64Array.from([
    1, 5, 2, 0,
    3, 4, 8, 7,
    0, 0, -1, -2,
    6, 2, -3, -4,
  ]);

  it('pools a 4x4 map to 2x2', () => {
    const { result } = runForward(maxPool2dKernel, poolCall(1, 1, 4, 4, 2, x));
    expect(Array.from(result.out)).toEqual([5, 8, 6, -1]);
  });

  it('routes the gradient to the argmax', () => {
    const { ctx, result } = runForward(maxPool2dKernel, poolCall(1, 1, 4, 4, 2, x));
    const [dx] = maxPool2dKernel.backward!(ctx, result.cache, Float64Array.from([10, 20, 30, 40]));
    expect(Array.from(dx!)).toEqual([
      0, 10, 0, 0,
      0, 0, 20, 0,
      0, 0, 40, 0,
      30, 0, 0, 0,
    ]);
  });

  it('takes the first maximum in row-major window order on ties', () => {
    const tied = Float64Array.from([
      2, 1, 7, 7,
      2, 2, 7, 7,
      0, 3, 1, 1,
      3, 3, 1, 1,
    ]);
    const { ctx, result } = runForward(maxPool2dKernel, poolCall(1, 1, 4, 4, 2, tied));
    expect(Array.from(result.out)).toEqual([2, 7, 3, 1]);
    const [dx] = maxPool2dKernel.backward!(ctx, result.cache, Float64Array.from([1, 2, 3, 4]));
    expect(Array.from(dx!)).toEqual([
      1, 0, 2, 0,
      0, 0, 0, 0,
      0, 3, 4, 0,
      0, 0, 0, 0,
    ]);
  });

  it('floors the output size, dropping incomplete windows, per channel and sample', () => {
    // batch 2, 2 channels of 3x5, size 2 -> 1x2 per channel.
    const v = Float64Array.from({ length: 2 * 2 * 15 }, (_, i) => i);
    const { result } = runForward(maxPool2dKernel, poolCall(2, 2, 3, 5, 2, v));
    // Window maxima are the bottom-right entries of rows 0-1, columns 0-1 and 2-3.
    const expected = [];
    for (let plane = 0; plane < 4; plane++) expected.push(plane * 15 + 6, plane * 15 + 8);
    expect(Array.from(result.out)).toEqual(expected);
  });

  it('passes gradient checks', () => {
    const call = poolCall(2, 3, 6, 7, 2, distinct(2 * 3 * 6 * 7, 1));
    for (const g of gradCheck(maxPool2dKernel, call, [0])) expect(g.relError).toBeLessThan(1e-6);
    const call3 = poolCall(2, 2, 6, 6, 3, distinct(2 * 2 * 6 * 6, 2));
    for (const g of gradCheck(maxPool2dKernel, call3, [0])) expect(g.relError).toBeLessThan(1e-6);
  });
});
