/**
 * Sparse weights as per-unit index lists on the cpu backend (pass `sparseForms`'s `indexed`
 * layers, compiler/codegen/js/sparse-weights.ts) against the float64 reference: a first layer on
 * the MNIST input, hidden layers on ReLU outputs (the input gradient through the index lists too)
 * and a layer feeding a compact k-winners layer (its gradients stay compact), with the forms forced
 * (`mode: 'always'`) and as the cost model chooses; training steps, an inference at another batch
 * (a part-filled SIMD vector of samples) and the updated state, momentum included, within 1e-4.
 * Two threads give the bytes of one; the cost model's choice; a mask keeping the wrong count per
 * unit is refused by name.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compile, lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { boost, dense, input, kwta, pipe, relu, softmaxCrossEntropy, sparse } from '../../dsl/index.ts';
import { createModel, type Model } from '../../runtime/backends.ts';
import { createCpuModel, type CpuModel } from '../../runtime/cpu/model.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { convert, stepsThenInference, expectTwoThreadsBytesOfOne, expectNearOracle } from './helpers.ts';

const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };
const mnist = (batch: number) => {
  const set = loadMnist('train', { limit: batch });
  return { x: normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784)), labels: Uint8Array.from(set.labels.slice(0, batch)) };
};
const random = (batch: number, n: number, classes: number) => {
  const rng = Rng.fromSeed(9, 1);
  return { x: Float32Array.from({ length: batch * n }, () => (rng.float() < 0.3 ? rng.float() * 2 - 0.5 : -0.5)), labels: Uint8Array.from({ length: batch }, (_, i) => i % classes) };
};

interface Case {
  readonly name: string;
  readonly lowered: Lowered;
  readonly batch: number;
  readonly data: { readonly x: Float32Array; readonly labels: Uint8Array };
}

const hidden = lower(trace(pipe(input([20]), dense(16), sparse(0.3), relu, dense(14), sparse(0.5), relu, dense(12), sparse(0.25), kwta({ k: 3 }), boost({}), dense(5), softmaxCrossEntropy)));
const cases: ReadonlyArray<Case> = [
  { name: 'sparse layers on the input, on ReLU outputs and before a k-winners layer', lowered: hidden, batch: 8, data: random(8, 20, 5) },
  { name: 'the same at batch 70 (a full block of 64 samples, then 6)', lowered: hidden, batch: 70, data: random(70, 20, 5) },
  { name: 'a 30%-sparse first layer on MNIST', lowered: lower(trace(pipe(input([784]), dense(24), sparse(0.3), relu, dense(10), softmaxCrossEntropy))), batch: 8, data: mnist(8) },
];

const run = (model: Model, c: Case) => stepsThenInference(model, c.data.x, c.data.labels, c.batch, sgd);

const opened: CpuModel[] = [];
afterAll(() => opened.forEach((m) => m.dispose()));

describe('sparse weights as index lists on the cpu backend against the float64 reference', () => {
  for (const c of cases) {
    const init = initModelState(c.lowered, { seed: 3, dtype: 'float64' });
    const oracle = createModel('reference', c.lowered, convert(init, 'float64')).then((m) => run(m, c));
    for (const mode of ['always', 'auto'] as const) {
      it(`${c.name} (${mode})`, async () => {
        const forms = compile(c.lowered, { program: 'train', batch: c.batch, sparse: { mode } }).forms!;
        expect(forms.some((f) => f.subject === 'weights' && f.form === 'compact')).toBe(true);
        const tested = await run(await createCpuModel(c.lowered, convert(init, 'float32'), { threads: 1, sparse: { mode } }), c);
        const want = await oracle;
        expectNearOracle(tested, want);
        // masked momentum: exactly 0 off the mask, as the reference stores it
        for (const [name, mask] of want.state.masks) expect(tested.state.momentum.get(name)!.every((v, i) => mask[i] || v === 0), `${name} momentum off the mask`).toBe(true);
      });
    }
  }

  it('the forced forms reach every index-list kernel', () => {
    const ops = new Set(compile(hidden, { program: 'train', batch: 8, sparse: { mode: 'always' } }).schedule.ir.ops.map((o) => o.op));
    for (const op of ['maskIndex', 'transposeBatch', 'linearIdx', 'linearIdxGradX', 'linearIdxGradW', 'linearGradWOuter']) expect(ops, op).toContain(op);
  });

  it('two threads, every kernel split, give the bytes of one', async () => {
    for (const c of [cases[1], cases[2]]) {
      await expectTwoThreadsBytesOfOne(async (threads) => {
        const m = await createCpuModel(c.lowered, initModelState(c.lowered, { seed: 4, dtype: 'float32' }), { threads, minSplitWork: 0, sparse: { mode: 'always' } });
        opened.push(m);
        return run(m, c);
      });
    }
  });
});

describe('the cost model for sparse weights', () => {
  const first = (density: number) => lower(trace(pipe(input([784]), dense(1000), sparse(density), relu, dense(10), softmaxCrossEntropy)));
  const second = (density: number) => lower(trace(pipe(input([784]), dense(100), relu, dense(1000), sparse(density), relu, dense(10), softmaxCrossEntropy)));
  const choice = (l: Lowered, layer: number) => compile(l, { program: 'train', batch: 64, sparse: {} }).forms!.find((f) => f.layer === layer)!;

  it('a 30%-weight layer on a dense input goes to index lists; a 90% one does not', () => {
    const a = choice(first(0.3), 0);
    expect([a.subject, a.form]).toEqual(['weights', 'compact']);
    expect(a.compactCost).toBeLessThan(a.denseCost);
    expect(a.why).toMatch(/^dense layer 0 on the input \(784 values, assumed 25% off the background\) with sparse weights \(30% = 235 of 784 kept per unit\): compact: index lists \d+k vs \d+k dense, \d+k background-skipping gather/);
    // at 90% the background-skipping gather is cheaper than both
    expect(choice(first(0.9), 0).subject).toBe('input');
    const b = choice(second(0.3), 2);
    expect([b.subject, b.form]).toEqual(['weights', 'compact']);
    expect(b.why).toMatch(/^dense layer 2 with sparse weights \(30% = 30 of 100 kept per unit\): compact: index lists/);
    const c = choice(second(0.9), 2);
    expect([c.subject, c.form]).toEqual(['weights', 'dense']);
    expect(c.compactCost).toBeGreaterThan(c.denseCost);
    expect(kernelsOf(second(0.9))).not.toContain('linearIdx');
  });
});

const kernelsOf = (l: Lowered) => compile(l, { program: 'train', batch: 64, sparse: {} }).schedule.ir.ops.map((o) => o.op);

describe('index lists from a mask', () => {
  it('a mask whose unit keeps the wrong number of inputs (a hand-edited checkpoint) is refused, naming the tensor', async () => {
    const l = cases[2].lowered;
    const state = initModelState(l, { seed: 1, dtype: 'float32' });
    const mask = state.masks.get('l0.weight')!;
    mask[mask.indexOf(0)] = 1; // unit 0 keeps one more input
    await expect(createCpuModel(l, state, { threads: 1 })).rejects.toThrow(/^mask l0\.weight: unit 0 keeps 236 of its 784 inputs, but the layer keeps 235 per unit \(weightDensity\)$/);
  });
});
