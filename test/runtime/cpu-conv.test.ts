/**
 * The cpu backend's convolution and pooling kernels (compiler/codegen/js/conv.ts) on geometries
 * the example networks do not have: padding (including padding = kernel - 1), even and 1x1
 * kernels, non-square inputs, channel and filter counts that are not multiples of 4, output rows
 * whose width leaves 8-, 4- and 1-column remainders, 3x3 pooling that drops edge rows, and an odd
 * batch. The models compile without sparse forms (`sparse: false`: test/parity/sparse-conv-forms.test.ts
 * covers those), so every convolution runs on these kernels. Each network's training step and
 * prediction must match the float64 reference within 1e-4 (as in the parity suite), the
 * convolutions must run on the SIMD path (not the generic scalar loops), and 2 threads splitting
 * every kernel must give the same bytes as 1 thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { boost, conv2d, dense, flatten, input, kwta, maxPool2d, pipe, relu, softmaxCrossEntropy } from '../../dsl/index.ts';
import { createModel } from '../../runtime/backends.ts';
import { createCpuModel, type CpuModel } from '../../runtime/cpu/model.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, relError } from '../parity/helpers.ts';

const networks: Record<string, () => Lowered> = {
  // 3 x 11 x 13: padding 1 (3x3) then padding 2 (5x5); 13 columns = 8 + 4 + 1; 6 and 5 filters.
  padded: () =>
    lower(trace(pipe(input([3, 11, 13]), conv2d({ filters: 6, kernel: 3, padding: 1 }), relu, conv2d({ filters: 5, kernel: 5, padding: 2 }), maxPool2d(2), relu, flatten, dense(10), softmaxCrossEntropy))),
  // 2 x 14 x 21: an even 4x4 kernel (18 columns = 16 + 2), 3x3 pooling dropping a row, k-winners, a 1x1 convolution.
  'even kernel, 1x1': () =>
    lower(trace(pipe(input([2, 14, 21]), conv2d({ filters: 9, kernel: 4 }), maxPool2d(3), kwta({ k: 20 }), boost({}), conv2d({ filters: 4, kernel: 1 }), flatten, dense(10), softmaxCrossEntropy))),
  // 2 x 6 x 13, then a 7x7 kernel with padding 6 (= kernel - 1: its input gradient needs no padding), 19 columns.
  'padding = kernel - 1': () =>
    lower(trace(pipe(input([2, 6, 13]), conv2d({ filters: 4, kernel: 3, padding: 1 }), relu, conv2d({ filters: 3, kernel: 7, padding: 6 }), relu, flatten, dense(10), softmaxCrossEntropy))),
};

const batch = 3;
const rng = Rng.fromSeed(7, 1);
const inputOf = (lowered: Lowered, n: number): Float32Array => {
  const x = lowered.ir.ops.find((o) => o.op === 'input')!;
  const per = x.shape!.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n * per }, () => rng.float() * 2 - 1);
};
const labels = Uint8Array.of(3, 7, 1);
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };

/** Two training steps and a prediction; the state after them. */
const steps = async (model: Awaited<ReturnType<typeof createModel>>, x: Float32Array) => {
  const r = Rng.fromSeed(3, 2);
  await model.trainStep(x, labels, batch, sgd, batch, r);
  const second = await model.trainStep(x, labels, batch, sgd, 2 * batch, r);
  const logits = Float64Array.from(await model.predict(x, batch));
  await model.sync?.();
  return { loss: second.loss, logits, state: model.state };
};

const models: CpuModel[] = [];
afterEach(() => {
  for (const m of models.splice(0)) m.dispose();
});

describe('cpu convolution kernels vs the float64 reference', () => {
  for (const [name, make] of Object.entries(networks)) {
    it(`${name}: a training step, a prediction and the state within 1e-4; the convolutions run as WebAssembly`, async () => {
      const lowered = make();
      const x = inputOf(lowered, batch);
      const init = initModelState(lowered, { seed: 4, dtype: 'float64' });
      const oracle = await steps(await createModel('reference', lowered, convert(init, 'float64')), x);
      const cpu = await createCpuModel(lowered, convert(init, 'float32'), { threads: 1, sparse: false });
      models.push(cpu);
      const got = await steps(cpu, x);
      expect(Math.abs(got.loss - oracle.loss) / oracle.loss, 'loss').toBeLessThan(1e-4);
      expect(relError(got.logits, oracle.logits), 'logits').toBeLessThan(1e-4);
      for (const [tensor, t] of oracle.state.tensors) expect(relError(got.state.tensors.get(tensor)!.data, t.data), tensor).toBeLessThan(1e-4);
      // Every conv, convGradX and convGradW kernel calls its WebAssembly function.
      const js = await cpu.programSource('train', batch);
      const convKernels = js.kernels.filter((k) => /^k\d+_conv/.test(k));
      expect(new Set(convKernels.map((k) => k.split('_')[1]))).toEqual(new Set(['conv', 'convGradX', 'convGradW']));
      for (const k of convKernels) expect(js.source, k).toMatch(new RegExp(`function ${k}\\(M, lo = 0, hi = \\d+\\) \\{\\n\\s+W\\.s\\d+\\(lo, hi\\);`));
    });
  }
});

describe('cpu convolution kernels on threads', () => {
  it('every network: 2 threads splitting every kernel (chunks on the worker) give the same bytes as 1 thread', async () => {
    for (const make of Object.values(networks)) {
      const lowered = make();
      const x = inputOf(lowered, batch);
      const init = initModelState(lowered, { seed: 4, dtype: 'float32' });
      const one = await createCpuModel(lowered, convert(init, 'float32'), { threads: 1, sparse: false });
      const two = await createCpuModel(lowered, convert(init, 'float32'), { threads: 2, minSplitWork: 0, pool: { workersOnly: true }, sparse: false });
      models.push(one, two);
      const a = await steps(one, x);
      const b = await steps(two, x);
      expect(b.loss).toBe(a.loss);
      expect(Buffer.from(Float64Array.from(b.logits).buffer)).toEqual(Buffer.from(Float64Array.from(a.logits).buffer));
      for (const [tensor, t] of a.state.tensors) expect(Buffer.from(b.state.tensors.get(tensor)!.data.slice().buffer), tensor).toEqual(Buffer.from(t.data.slice().buffer));
      expect(two.threadStats().workerChunks).toBeGreaterThan(0);
    }
  });
});
