import { describe, expect, it } from 'vitest';
import { conv2dKernel } from '../../runtime/reference/kernels/conv2d.ts';
import { Rng } from '../../runtime/rng.ts';
import { gradCheck, runForward, testOp, type KernelCall } from './gradcheck.ts';

interface ConvSpec {
  readonly batch: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly f: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
  readonly dropconnect?: number;
}

const outSize = (n: number, k: number, stride: number, padding: number) => Math.floor((n + 2 * padding - k) / stride) + 1;

const convCall = (s: ConvSpec, x: Float64Array, w: Float64Array, b?: Float64Array, extra: Partial<KernelCall> = {}): KernelCall => {
  const oh = outSize(s.h, s.k, s.stride, s.padding);
  const ow = outSize(s.w, s.k, s.stride, s.padding);
  const attrs = {
    filters: s.f, kernel: s.k, stride: s.stride, padding: s.padding, bias: b !== undefined,
    weightDensity: 1, dropconnect: s.dropconnect ?? 0, keptPerUnit: s.c * s.k * s.k, fanIn: s.c * s.k * s.k,
  };
  return {
    op: testOp('conv2d', attrs, [s.f, oh, ow]),
    inputs: b ? [x, w, b] : [x, w],
    inShapes: b ? [[s.c, s.h, s.w], [s.f, s.c, s.k, s.k], [s.f]] : [[s.c, s.h, s.w], [s.f, s.c, s.k, s.k]],
    batch: s.batch,
    ...extra,
  };
};

/** The convolution straight from its definition. */
const naiveConv = (s: ConvSpec, x: Float64Array, w: Float64Array, b?: Float64Array): Float64Array => {
  const oh = outSize(s.h, s.k, s.stride, s.padding);
  const ow = outSize(s.w, s.k, s.stride, s.padding);
  const out = new Float64Array(s.batch * s.f * oh * ow);
  for (let n = 0; n < s.batch; n++)
    for (let f = 0; f < s.f; f++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = b ? b[f] : 0;
          for (let c = 0; c < s.c; c++)
            for (let ky = 0; ky < s.k; ky++)
              for (let kx = 0; kx < s.k; kx++) {
                const y = oy * s.stride - s.padding + ky;
                const xx = ox * s.stride - s.padding + kx;
                if (y < 0 || y >= s.h || xx < 0 || xx >= s.w) continue;
                acc += x[((n * s.c + c) * s.h + y) * s.w + xx] * w[((f * s.c + c) * s.k + ky) * s.k + kx];
              }
          out[((n * s.f + f) * oh + oy) * ow + ox] = acc;
        }
  return out;
};

const random = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
const randomSetup = (s: ConvSpec, seed: number) => {
  const rng = Rng.fromSeed(seed);
  return {
    x: random(rng, s.batch * s.c * s.h * s.w),
    w: random(rng, s.f * s.c * s.k * s.k),
    b: random(rng, s.f),
  };
};

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12) => {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(tol);
};

// x = [[1,2,3],[4,5,6],[7,8,9]], W = [[1,2],[3,4]]
const x9 = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
const w4 = Float64Array.from([1, 2, 3, 4]);
const tiny = (stride: number, padding: number): ConvSpec => ({ batch: 1, c: 1, h: 3, w: 3, f: 1, k: 2, stride, padding });

describe('conv2d forward', () => {
  it('matches a hand-computed 3x3 * 2x2, stride 1, no padding', () => {
    const { result } = runForward(conv2dKernel, convCall(tiny(1, 0), x9, w4));
    expect(Array.from(result.out)).toEqual([37, 47, 67, 77]);
  });

  it('adds the bias', () => {
    const { result } = runForward(conv2dKernel, convCall(tiny(1, 0), x9, w4, Float64Array.from([0.5])));
    expect(Array.from(result.out)).toEqual([37.5, 47.5, 67.5, 77.5]);
  });

  it('matches a hand-computed example with padding 1', () => {
    const { result } = runForward(conv2dKernel, convCall(tiny(1, 1), x9, w4));
    expect(Array.from(result.out)).toEqual([
      4, 11, 18, 9,
      18, 37, 47, 21,
      36, 67, 77, 33,
      14, 23, 26, 9,
    ]);
  });

  it('matches a hand-computed example with padding 1 and stride 2', () => {
    const { result } = runForward(conv2dKernel, convCall(tiny(2, 1), x9, w4));
    expect(Array.from(result.out)).toEqual([4, 18, 36, 77]);
  });

  it('matches a direct convolution on random data (multi-channel, multi-filter, stride 2, padding 1)', () => {
    const s: ConvSpec = { batch: 3, c: 3, h: 7, w: 6, f: 4, k: 3, stride: 2, padding: 1 };
    const { x, w, b } = randomSetup(s, 1);
    const { result } = runForward(conv2dKernel, convCall(s, x, w, b));
    expectClose(result.out, naiveConv(s, x, w, b));
  });

  it('matches a direct convolution with a 5x5 kernel and no bias', () => {
    const s: ConvSpec = { batch: 2, c: 2, h: 9, w: 9, f: 3, k: 5, stride: 1, padding: 0 };
    const { x, w } = randomSetup(s, 2);
    const { result } = runForward(conv2dKernel, convCall(s, x, w));
    expectClose(result.out, naiveConv(s, x, w));
  });
});

describe('conv2d gradients', () => {
  const specs: ReadonlyArray<[string, ConvSpec]> = [
    ['stride 1, no padding', { batch: 2, c: 2, h: 5, w: 5, f: 3, k: 3, stride: 1, padding: 0 }],
    ['stride 2, padding 1', { batch: 2, c: 3, h: 6, w: 7, f: 2, k: 3, stride: 2, padding: 1 }],
    ['stride 3, padding 2 (uneven cover)', { batch: 1, c: 2, h: 8, w: 5, f: 2, k: 2, stride: 3, padding: 2 }],
  ];
  for (const [name, s] of specs) {
    it(`checks x, W and b (${name})`, () => {
      const { x, w, b } = randomSetup(s, 3);
      for (const g of gradCheck(conv2dKernel, convCall(s, x, w, b), [0, 1, 2])) expect(g.relError).toBeLessThan(1e-6);
    });
  }

  it('checks x and W without a bias', () => {
    const s: ConvSpec = { batch: 2, c: 2, h: 4, w: 4, f: 2, k: 2, stride: 1, padding: 1 };
    const { x, w } = randomSetup(s, 4);
    const call = convCall(s, x, w);
    for (const g of gradCheck(conv2dKernel, call, [0, 1])) expect(g.relError).toBeLessThan(1e-6);
    const { ctx, result } = runForward(conv2dKernel, call);
    const grads = conv2dKernel.backward!(ctx, result.cache, result.out);
    expect(grads[2]).toBeUndefined();
  });
});

describe('conv2d DropConnect', () => {
  const s: ConvSpec = { batch: 2, c: 2, h: 5, w: 5, f: 3, k: 3, stride: 1, padding: 1, dropconnect: 0.3 };
  const { x, w, b } = randomSetup(s, 5);

  it('draws one keep-mask per weight from the rng (same seed, same mask)', () => {
    const a = runForward(conv2dKernel, convCall(s, x, w, b, { seed: 11 })).result.out;
    const again = runForward(conv2dKernel, convCall(s, x, w, b, { seed: 11 })).result.out;
    const other = runForward(conv2dKernel, convCall(s, x, w, b, { seed: 12 })).result.out;
    expect(Array.from(again)).toEqual(Array.from(a));
    expect(Array.from(other)).not.toEqual(Array.from(a));
    // The mask is rng.float() >= rate, in W's row-major order, with no rescaling.
    const rng = Rng.fromSeed(11);
    const masked = Float64Array.from(w, (v) => (rng.float() >= 0.3 ? v : 0));
    expect(masked.some((v) => v === 0)).toBe(true);
    expectClose(a, naiveConv(s, x, masked, b));
  });

  it('uses W * (1 - rate) at inference, drawing nothing', () => {
    const { ctx, result } = runForward(conv2dKernel, convCall(s, x, w, b, { training: false, seed: 11 }));
    expectClose(result.out, naiveConv(s, x, Float64Array.from(w, (v) => v * 0.7), b));
    expect(ctx.rng.state()).toEqual(Rng.fromSeed(11).state());
  });

  it('draws nothing with rate 0', () => {
    const { ctx } = runForward(conv2dKernel, convCall({ ...s, dropconnect: 0 }, x, w, b, { seed: 11 }));
    expect(ctx.rng.state()).toEqual(Rng.fromSeed(11).state());
  });

  it('masks dW at training', () => {
    const call = convCall(s, x, w, b, { seed: 11 });
    const { ctx, result } = runForward(conv2dKernel, call);
    const dw = conv2dKernel.backward!(ctx, result.cache, result.out)[1]!;
    const rng = Rng.fromSeed(11);
    for (let i = 0; i < w.length; i++) if (rng.float() < 0.3) expect(dw[i]).toBe(0);
  });

  it('passes gradient checks at training (fixed mask per seed) and at inference', () => {
    for (const g of gradCheck(conv2dKernel, convCall(s, x, w, b, { seed: 11 }), [0, 1, 2])) expect(g.relError).toBeLessThan(1e-6);
    for (const g of gradCheck(conv2dKernel, convCall(s, x, w, b, { training: false }), [0, 1, 2])) expect(g.relError).toBeLessThan(1e-6);
  });
});
