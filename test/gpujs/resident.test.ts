/**
 * gpujs:webgpu keeps the model state on the device between calls (runtime/gpujs/webgpu-resident.ts):
 * the same results, bit for bit, as uploading the state on every call; `predict` after a step sees
 * its weights; `state` lags until `sync`; `invalidate` makes host edits count; a non-finite step
 * leaves the state alone; a step whose program is evicted is not lost; checkpoints written by the
 * train loop (at epoch ends and on interruption) hold the device's state and resume bit-identically.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { boost, dense, dropout, input, kwta, pipe, softmaxCrossEntropy, sparse } from '../../dsl/index.ts';
import { loadCheckpoint, type Hyperparameters } from '../../runtime/checkpoint/checkpoint.ts';
import { createGpujsModel, type GpujsModel } from '../../runtime/gpujs/model.ts';
import { loadMnist } from '../../runtime/mnist.ts';
import { initModelState, type ModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { train } from '../../runtime/train.ts';
import { requireWebGPU, skipWebGPU, values } from '../gpu/helpers.ts';
import { convert } from '../parity/helpers.ts';

const n = 24;
const lowered = lower(trace(pipe(input([n]), dense(32), sparse(0.5), kwta({ k: 6 }), boost({ strength: 1.5 }), dropout(0.25), dense(10), softmaxCrossEntropy)));
const sgd = { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 };
const batchOf = (batch: number, seed: number) => ({ x: values(batch * n, seed), labels: Uint8Array.from({ length: batch }, (_, i) => (i * 7 + seed) % 10) });

const open = async (state: ModelState, resident: boolean): Promise<GpujsModel> => {
  await requireWebGPU();
  return createGpujsModel('webgpu', 'gpujs:webgpu', lowered, state, { softwareLoopLimit: true, resident });
};

/** Every float of a state, in a fixed order. */
const bits = (s: ModelState): number[] => [
  ...[...s.tensors.values()].flatMap((t) => Array.from(t.data)),
  ...[...s.momentum.values()].flatMap((m) => Array.from(m)),
];

/** Training steps at the given batch sizes, a predict after each, an epoch end in the middle. */
const script = async (model: GpujsModel, batches: ReadonlyArray<number>) => {
  const rng = Rng.fromSeed(7, 2);
  const seen: number[] = [];
  let samples = 0;
  for (const [i, b] of batches.entries()) {
    const { x, labels } = batchOf(b, i + 1);
    samples += b;
    const r = await model.trainStep(x, labels, b, sgd, samples, rng);
    seen.push(r.loss, r.correct, ...(await model.predict(x, b)));
    if (i === Math.floor(batches.length / 2)) await model.endEpoch();
  }
  await model.sync?.();
  return { seen, state: bits(model.state) };
};

describe('gpujs models whose state is current after every call', () => {
  it('have neither sync nor invalidate (webasm, cpu, and webgpu with resident: false)', async () => {
    const state = initModelState(lowered, { seed: 3, dtype: 'float32' });
    const models = [await createGpujsModel('webasm', 'gpujs:webasm', lowered, state), await createGpujsModel('cpu', 'gpujs:cpu', lowered, state)];
    if (!skipWebGPU) models.push(await open(state, false));
    for (const m of models) {
      expect([m.backend, m.sync, m.invalidate]).toEqual([m.backend, undefined, undefined]);
      m.dispose();
    }
  });
});

describe.skipIf(skipWebGPU)('gpujs:webgpu: state on the device', () => {
  const init = initModelState(lowered, { seed: 3, dtype: 'float32' });

  it('trains, predicts and decays boost strengths exactly as when every call uploads the state', async () => {
    const batches = [8, 8, 8, 8];
    const resident = await open(convert(init, 'float32'), true);
    const uploaded = await open(convert(init, 'float32'), false);
    try {
      const a = await script(resident, batches);
      const b = await script(uploaded, batches);
      expect(a.seen).toEqual(b.seen);
      expect(a.state).toEqual(b.state);
      const train = resident.describe().programs.find((p) => p.program === 'train')!;
      expect(train.stateOnDevice).toBe(true);
      expect(uploaded.describe().programs.every((p) => !p.stateOnDevice)).toBe(true);
    } finally {
      resident.dispose();
      uploaded.dispose();
    }
  });

  it('a step is not lost when its program is evicted (four batch sizes, three kept per program)', async () => {
    const batches = [8, 8, 4, 4, 2, 2, 8, 8, 6, 6, 8];
    const resident = await open(convert(init, 'float32'), true);
    const uploaded = await open(convert(init, 'float32'), false);
    try {
      const a = await script(resident, batches);
      expect(a).toEqual(await script(uploaded, batches));
    } finally {
      resident.dispose();
      uploaded.dispose();
    }
  });

  it('state lags until sync; invalidate makes host edits count; a non-finite step changes nothing', async () => {
    const state = convert(init, 'float32');
    const model = await open(state, true);
    const rng = Rng.fromSeed(1, 2);
    try {
      const { x, labels } = batchOf(8, 1);
      const w = state.tensors.get('l0.weight')!.data;
      await model.trainStep(x, labels, 8, sgd, 8, rng); // first call: gpu.js compiles, state written back
      await model.sync?.();
      const afterFirst = Float32Array.from(w);
      await model.trainStep(x, labels, 8, sgd, 16, rng); // on the device
      expect(Array.from(w)).toEqual(Array.from(afterFirst));
      await model.sync?.();
      expect(Array.from(w)).not.toEqual(Array.from(afterFirst));
      const synced = bits(state);

      // a non-finite step: nothing changes, on the device or after sync
      const bad = x.slice();
      bad[5] = Number.POSITIVE_INFINITY;
      const r = await model.trainStep(bad, labels, 8, sgd, 24, rng);
      expect(r.nonFinite).toBeDefined();
      await model.sync?.();
      expect(bits(state)).toEqual(synced);
      const logits = await model.predict(x, 8);

      // host edits: ignored until invalidate, then used
      w.fill(0);
      expect(Array.from(await model.predict(x, 8))).toEqual(Array.from(logits));
      model.invalidate!();
      const zeroed = await model.predict(x, 8);
      const reference = await open(convert(state, 'float32'), false);
      try {
        expect(Array.from(zeroed)).toEqual(Array.from(await reference.predict(x, 8)));
      } finally {
        reference.dispose();
      }
      await model.sync?.();
      expect(w.every((v) => v === 0)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('checkpoints hold the device state: resuming after an epoch or an interruption is bit-identical', async () => {
    await requireWebGPU();
    const network = pipe(input([784]), dense(16), sparse(0.5), kwta({ k: 4 }), boost({ strength: 1.5, strengthFactor: 0.8 }), dropout(0.2), dense(10), softmaxCrossEntropy);
    const hyper: Hyperparameters = { epochs: 2, batchSize: 16, firstEpochBatchSize: 8, lr: 0.05, lrGamma: 0.8, momentum: 0.9, weightDecay: 1e-4, trainLimit: 48 };
    const base = { network, hyper, seed: 5, backend: 'gpujs:webgpu', trainSet: loadMnist('train', { limit: 48 }), testSet: loadMnist('test', { limit: 16 }) } as const;
    const dir = () => mkdtempSync(join(tmpdir(), 'winnow-resident-'));
    const full = await train(base);
    full.model.dispose?.();
    const want = bits(full.model.state);

    const a = dir();
    (await train({ ...base, hyper: { ...hyper, epochs: 1 }, out: a })).model.dispose?.();
    const resumed = await train({ ...base, out: a, resume: loadCheckpoint(a) });
    resumed.model.dispose?.();
    expect(bits(resumed.model.state)).toEqual(want);
    expect(bits(loadCheckpoint(a).state)).toEqual(want);

    // interrupted after the second step of the first epoch: its checkpoint is read back from the device mid-epoch
    const b = dir();
    const controller = new AbortController();
    let steps = 0;
    const first = await train({ ...base, out: b, signal: controller.signal, onProgress: () => ++steps === 2 && controller.abort() });
    first.model.dispose?.();
    expect(first.interrupted).toBe(true);
    const rest = await train({ ...base, out: b, resume: loadCheckpoint(b) });
    rest.model.dispose?.();
    expect(bits(rest.model.state)).toEqual(want);
  });
});
