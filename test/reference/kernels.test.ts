import { describe, expect, it } from 'vitest';
import { denseKernel } from '../../runtime/reference/kernels/dense.ts';
import { dropoutKernel, identityKernel, reluKernel, softmaxCrossEntropyLoss } from '../../runtime/reference/kernels/elementwise.ts';
import { kwtaKernel } from '../../runtime/reference/kernels/kwta.ts';
import { Rng } from '../../runtime/rng.ts';
import { gradCheck, runForward, testOp } from './gradcheck.ts';

const f64 = (xs: number[]) => Float64Array.from(xs);
const random = (n: number, seed: number) => {
  const r = Rng.fromSeed(seed);
  return Float64Array.from({ length: n }, () => r.normal());
};
const kwtaAttrs = (o: Partial<Record<string, number | boolean>> = {}) => ({
  k: 2, kInference: 3, n: 6, groups: 1, kInferenceFactor: 1.5, local: false, breakTies: false, relu: false, strengthFactor: 0.85, dutyCyclePeriod: 1000, ...o,
});

describe('dense', () => {
  it('computes x W^T + b', () => {
    const { result } = runForward(denseKernel, {
      op: testOp('dense', { units: 2, bias: true, dropconnect: 0 }, [2]),
      inputs: [f64([1, 2, 3, -1, 0, 1]), f64([1, 0, -1, 2, 1, 0]), f64([0.5, -0.5])],
      inShapes: [[3], [2, 3], [2]],
      batch: 2,
    });
    expect([...result.out]).toEqual([1 - 3 + 0.5, 2 + 2 - 0.5, -1 - 1 + 0.5, -2 + 0 - 0.5]);
  });

  it('gradients match finite differences (x, W, b), with and without DropConnect', () => {
    for (const dropconnect of [0, 0.4]) {
      for (const training of [true, false]) {
        const checks = gradCheck(denseKernel, {
          op: testOp('dense', { units: 5, bias: true, dropconnect }, [5]),
          inputs: [random(3 * 7, 1), random(5 * 7, 2), random(5, 3)],
          inShapes: [[7], [5, 7], [5]],
          batch: 3,
          training,
        }, [0, 1, 2]);
        for (const c of checks) expect(c.relError, `dropconnect ${dropconnect} training ${training} input ${c.input}`).toBeLessThan(1e-7);
      }
    }
  });

  it('DropConnect keeps each weight with probability 1 - rate at training and uses W x (1 - rate) at inference', () => {
    const call = { op: testOp('dense', { units: 200, bias: false, dropconnect: 0.3 }, [200]), inputs: [f64(Array(100).fill(1)), f64(Array(200 * 100).fill(1))], inShapes: [[100], [200, 100]], batch: 1 };
    const train = runForward(denseKernel, { ...call, training: true }).result.out;
    const mean = Array.from(train).reduce((a, b) => a + b, 0) / train.length;
    expect(mean).toBeGreaterThan(68);
    expect(mean).toBeLessThan(72); // 100 x 0.7 = 70 expected
    const infer = runForward(denseKernel, { ...call, training: false }).result.out;
    expect(infer.every((v) => Math.abs(v - 70) < 1e-9)).toBe(true);
  });
});

describe('relu, flatten, dropout', () => {
  it('relu forward and gradient', () => {
    const { result } = runForward(reluKernel, { op: testOp('relu', {}, [4]), inputs: [f64([-1, 0, 2, -3])], inShapes: [[4]], batch: 1 });
    expect([...result.out]).toEqual([0, 0, 2, 0]);
    for (const c of gradCheck(reluKernel, { op: testOp('relu', {}, [8]), inputs: [random(16, 4)], inShapes: [[8]], batch: 2 }, [0])) expect(c.relError).toBeLessThan(1e-7);
  });

  it('flatten is the identity on memory', () => {
    const x = random(12, 5);
    expect(runForward(identityKernel, { op: testOp('flatten', {}, [12]), inputs: [x], inShapes: [[3, 2, 2]], batch: 1 }).result.out).toEqual(x);
  });

  it('dropout: inverted at training (survivors x 1/(1-rate)), identity at inference, gradient through survivors', () => {
    const x = f64(Array(10_000).fill(1));
    const op = testOp('dropout', { rate: 0.25 }, [10_000]);
    const { result } = runForward(dropoutKernel, { op, inputs: [x], inShapes: [[10_000]], batch: 1, training: true });
    const kept = result.out.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 4 / 3) < 1e-12)).toBe(true);
    expect(kept.length / 10_000).toBeGreaterThan(0.73);
    expect(kept.length / 10_000).toBeLessThan(0.77);
    expect(runForward(dropoutKernel, { op, inputs: [x], inShapes: [[10_000]], batch: 1, training: false }).result.out).toEqual(x);
    for (const c of gradCheck(dropoutKernel, { op: testOp('dropout', { rate: 0.5 }, [9]), inputs: [random(27, 6)], inShapes: [[9]], batch: 3 }, [0])) expect(c.relError).toBeLessThan(1e-7);
  });
});

describe('softmax cross-entropy', () => {
  it('is stable for huge logits and matches the hand-computed value', () => {
    const logits = f64([1000, 1000, 1000 - Math.log(2)]);
    const r = softmaxCrossEntropyLoss(logits, [2], 1, 3, (n) => new Float64Array(n));
    // softmax = [0.4, 0.4, 0.2] -> loss = -log 0.2
    expect(r.loss).toBeCloseTo(-Math.log(0.2), 12);
    expect([...r.dLogits].map((v) => +v.toFixed(12))).toEqual([0.4, 0.4, -0.8]);
    expect(r.correct).toBe(0);
  });

  it('gradient matches finite differences', () => {
    const logits = random(4 * 5, 8);
    const labels = [0, 3, 4, 1];
    const { dLogits } = softmaxCrossEntropyLoss(logits, labels, 4, 5, (n) => new Float64Array(n));
    const dir = random(20, 9);
    const eps = 1e-6;
    const at = (s: number) => softmaxCrossEntropyLoss(logits.map((v, i) => v + s * eps * dir[i]), labels, 4, 5, (n) => new Float64Array(n)).loss;
    const numeric = (at(1) - at(-1)) / (2 * eps);
    const analytic = Array.from(dLogits).reduce((a, g, i) => a + g * dir[i], 0);
    expect(Math.abs(numeric - analytic) / Math.abs(analytic)).toBeLessThan(1e-7);
  });
});

describe('k-winners', () => {
  const vec = (x: number[], attrs = kwtaAttrs(), dc = Array(x.length).fill(0), strength = 0, training = true, samplesSeen = 1) =>
    runForward(kwtaKernel, {
      op: testOp('kwta', attrs, [x.length]),
      inputs: [f64(x), f64(dc), f64([strength])],
      inShapes: [[x.length], [x.length], [1]],
      batch: 1,
      training,
      samplesSeen,
    });

  it('keeps the k largest, outputs the original x there and 0 elsewhere', () => {
    expect([...vec([0.5, -1, 3, 2, 0.1, -0.2]).result.out]).toEqual([0, 0, 3, 2, 0, 0]);
  });

  it('chooses winners on boosted values but outputs the original x', () => {
    // strength 1: factors exp(-dc) = [1, e^-2, 1, 1, 1, 1] -> unit 2 (x=3) boosted to 0.406; winners 3 (2) and 0 (0.5)
    const { result } = vec([0.5, -1, 3, 2, 0.1, -0.2], kwtaAttrs(), [0, 0, 2, 0, 0, 0], 1);
    expect([...result.out]).toEqual([0.5, 0, 0, 2, 0, 0]);
  });

  it('ties: every unit >= the k-th value wins without breakTies; exactly k (lowest index first) with it', () => {
    expect([...vec([1, 2, 2, 2, 0, 0]).result.out]).toEqual([0, 2, 2, 2, 0, 0]);
    expect([...vec([1, 2, 2, 2, 0, 0], kwtaAttrs({ breakTies: true })).result.out]).toEqual([0, 2, 2, 0, 0, 0]);
  });

  it('relu: negative winners are zeroed too', () => {
    expect([...vec([-3, -1, -2, -5, -4, -6], kwtaAttrs({ relu: true })).result.out]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...vec([-3, -1, -2, -5, -4, -6]).result.out]).toEqual([0, -1, -2, 0, 0, 0]);
  });

  it('uses kInference at inference and leaves duty cycles alone', () => {
    const r = vec([0.5, -1, 3, 2, 0.1, -0.2], kwtaAttrs(), [0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 0, false);
    expect([...r.result.out]).toEqual([0.5, 0, 3, 2, 0, 0]);
    expect([...r.ctx.inputs[1]]).toEqual([0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
  });

  it('updates duty cycles: period = min(dutyCyclePeriod, samples seen); dc = (dc (period - batch) + count) / period', () => {
    // batch of 2, 4 samples seen so far including this batch: period 4
    const x = f64([5, 4, 0, 0, 0, 0, /* sample 2 */ 0, 5, 4, 0, 0, 0]);
    const dc = f64([0.5, 0.5, 0, 0, 0, 0.25]);
    const op = testOp('kwta', kwtaAttrs(), [6]);
    const { ctx } = runForward(kwtaKernel, { op, inputs: [x, dc, f64([0])], inShapes: [[6], [6], [1]], batch: 2, training: true, samplesSeen: 4 });
    // counts of out > 0: unit0 1, unit1 2, unit2 1 -> dc = (dc * 2 + count) / 4
    expect([...ctx.inputs[1]]).toEqual([(0.5 * 2 + 1) / 4, (0.5 * 2 + 2) / 4, (0 + 1) / 4, 0, 0, (0.25 * 2) / 4]);
    // past the period the average is over dutyCyclePeriod samples
    const op2 = testOp('kwta', kwtaAttrs({ dutyCyclePeriod: 10 }), [6]);
    const r2 = runForward(kwtaKernel, { op: op2, inputs: [x, dc, f64([0])], inShapes: [[6], [6], [1]], batch: 2, training: true, samplesSeen: 100 });
    expect(r2.ctx.inputs[1][1]).toBeCloseTo((0.5 * 8 + 2) / 10, 15);
  });

  it('feature maps: global over C x H x W, duty cycles per channel (counts / (H x W))', () => {
    // C=2, H=1, W=2; k=2 of 4
    const op = testOp('kwta', kwtaAttrs({ k: 2, kInference: 3, n: 4 }), [2, 1, 2]);
    const { result, ctx } = runForward(kwtaKernel, { op, inputs: [f64([1, 4, 3, 2]), f64([0, 0]), f64([0])], inShapes: [[2, 1, 2], [2], [1]], batch: 1, training: true, samplesSeen: 1 });
    expect([...result.out]).toEqual([0, 4, 3, 0]);
    expect([...ctx.inputs[1]]).toEqual([0.5, 0.5]);
  });

  it('feature maps, local: k winners per position over channels', () => {
    // C=3, H=1, W=2: position 0 values [1, 5, 3], position 1 values [6, 2, 4]; k=1 per position
    const op = testOp('kwta', kwtaAttrs({ k: 1, kInference: 1, n: 3, groups: 2, local: true }), [3, 1, 2]);
    const { result, ctx } = runForward(kwtaKernel, { op, inputs: [f64([1, 6, 5, 2, 3, 4]), f64([0, 0, 0]), f64([0])], inShapes: [[3, 1, 2], [3], [1]], batch: 1, training: true, samplesSeen: 1 });
    expect([...result.out]).toEqual([0, 6, 5, 0, 0, 0]);
    expect([...ctx.inputs[1]]).toEqual([0.5, 0.5, 0]);
  });

  it('gradient flows only through winners (finite differences, distinct values)', () => {
    for (const attrs of [kwtaAttrs({ k: 3, kInference: 4, n: 8 }), kwtaAttrs({ k: 3, kInference: 4, n: 8, relu: true })]) {
      const checks = gradCheck(kwtaKernel, {
        op: testOp('kwta', attrs, [8]),
        inputs: [random(4 * 8, 10), f64([0.1, 0.2, 0, 0.3, 0.05, 0, 0.2, 0.1]), f64([1.5])],
        inShapes: [[8], [8], [1]],
        batch: 4,
      }, [0], { eps: 1e-7 });
      expect(checks[0].relError).toBeLessThan(1e-7);
    }
  });
});

describe('flatten gradient', () => {
  it('passes the gradient through unchanged (finite differences)', () => {
    for (const c of gradCheck(identityKernel, { op: testOp('flatten', {}, [12]), inputs: [random(24, 11)], inShapes: [[3, 2, 2]], batch: 2 }, [0])) expect(c.relError).toBeLessThan(1e-7);
  });
});
