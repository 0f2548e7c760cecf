// The benchmark's TensorFlow.js contenders: both variants compute the same gradients, and the TF.js
// networks train like winnow's reference backend from the same weights (so the bench compares like
// with like).
import { beforeAll, describe, expect, it } from 'vitest';
import { createTfjsMlp, tfjsMlpSpec, type TfjsMlpSpec } from '../../bench/tfjs/mlp.ts';
import { useTfjsWasm } from '../../bench/tfjs/setup.ts';
import { lower, trace } from '../../compiler/index.ts';
import { createModel } from '../../runtime/backends.ts';
import { loadNetwork } from '../../runtime/load-model.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';

const batch = 16;
const train = loadMnist('train', { limit: 4 * batch });
const batches = [0, 1, 2, 3].map((b) => {
  const idx = Array.from({ length: batch }, (_, i) => b * batch + i);
  return { x: normalizeInto(train.pixels, idx, new Float32Array(batch * 784)), labels: Uint8Array.from(idx, (i) => train.labels[i]) };
});

/** max |a - b| / (max |b| + tiny) */
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 1e-12;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
};

const specs = new Map<string, TfjsMlpSpec>();
beforeAll(async () => {
  const info = await useTfjsWasm();
  expect(info.version).toBe('4.22.0');
  expect(info.threads).toBeGreaterThanOrEqual(1);
  for (const [id, file] of [
    ['dense', 'examples/models/dense-mlp.json'],
    ['dropout', 'examples/models/dropout-mlp.json'],
    ['sparse', 'bench/models/sparse-mlp-30.json'],
  ]) specs.set(id, tfjsMlpSpec(await loadNetwork(file)));
});

describe('TF.js benchmark networks', () => {
  it('read the model files: sparse layers keep 30% of weights, k-winners 100 of 1000 (150 at inference)', () => {
    const sparse = specs.get('sparse')!;
    expect(sparse.stages.map((s) => s.kind)).toEqual(['dense', 'kwta', 'dense', 'kwta', 'dense']);
    expect(sparse.stages[0]).toMatchObject({ inputs: 784, units: 1000, keep: 235 });
    expect(sparse.stages[2]).toMatchObject({ inputs: 1000, units: 1000, keep: 300 });
    expect(sparse.stages[1]).toMatchObject({ k: 100, kInference: 150, strength: 1.5, dutyCyclePeriod: 1000 });
    expect(specs.get('dropout')!.stages.filter((s) => s.kind === 'dropout')).toEqual([{ kind: 'dropout', rate: 0.5 }, { kind: 'dropout', rate: 0.5 }]);
  });

  it.each(['dense', 'dropout', 'sparse'])('%s: stock autodiff and the hand-written backward pass give the same gradients', (id) => {
    const spec = specs.get(id)!;
    const stock = createTfjsMlp(spec, 'stock', { seed: 3 });
    const best = createTfjsMlp(spec, 'best', { seed: 3 });
    try {
      // One step first, so that the duty cycles (and so the boosted winners) are not all zero.
      stock.trainStep(batches[0].x, batches[0].labels, batch);
      best.trainStep(batches[0].x, batches[0].labels, batch);
      const a = stock.gradients(batches[1].x, batches[1].labels, batch, 11);
      const b = best.gradients(batches[1].x, batches[1].labels, batch, 11);
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      expect(a.size).toBe(6);
      for (const [name, g] of a) {
        expect(relErr(b.get(name)!, g), name).toBeLessThan(1e-5);
        expect(g.some((v) => v !== 0), name).toBe(true);
      }
    } finally {
      stock.dispose();
      best.dispose();
    }
  });

  it('train without leaking tensors, and a predict is deterministic', () => {
    const net = createTfjsMlp(specs.get('sparse')!, 'best', { seed: 1 });
    try {
      net.trainStep(batches[0].x, batches[0].labels, batch);
      const n = net.numTensors();
      for (const b of batches) expect(Number.isFinite(net.trainStep(b.x, b.labels, batch))).toBe(true);
      expect(net.numTensors()).toBe(n);
      expect(net.predict(batches[0].x, batch)).toEqual(net.predict(batches[0].x, batch));
      expect(net.numTensors()).toBe(n);
    } finally {
      net.dispose();
    }
  });

  // Same weights and masks, same batches, same SGD: the TF.js network is winnow's network.
  it.each([
    ['dense', 'examples/models/dense-mlp.json'],
    ['sparse', 'bench/models/sparse-mlp-30.json'],
  ])('%s: trains like winnow reference backend from the same state (losses and logits)', async (id, file) => {
    const network = await loadNetwork(file);
    const lowered = lower(trace(network));
    const state = initModelState(lowered, { seed: 5, dtype: 'float32' });
    const sgd = { lr: network.training!.lr!, momentum: network.training!.momentum!, weightDecay: 0 };
    // Two steps: the second one picks winners with boosted values (duty cycles set by the first).
    const steps = 2;
    const ref = await createModel('reference', lowered, initModelState(lowered, { seed: 5, dtype: 'float32' }));
    const rng = Rng.fromSeed(1, 2);
    const wantLoss: number[] = [];
    for (let s = 0; s < steps; s++) wantLoss.push((await ref.trainStep(batches[s].x, batches[s].labels, batch, sgd, (s + 1) * batch, rng)).loss);
    const wantLogits = await ref.predict(batches[3].x, batch);
    ref.dispose?.();
    for (const variant of ['stock', 'best'] as const) {
      const tfNet = createTfjsMlp(specs.get(id)!, variant, { initial: state });
      try {
        for (let s = 0; s < steps; s++) expect(tfNet.trainStep(batches[s].x, batches[s].labels, batch), `${variant} step ${s}`).toBeCloseTo(wantLoss[s], 4);
        expect(relErr(tfNet.predict(batches[3].x, batch), wantLogits), variant).toBeLessThan(1e-4);
      } finally {
        tfNet.dispose();
      }
    }
  });

  it('refuses layers it does not implement, naming the layer', async () => {
    const cnn = await loadNetwork('examples/models/sparse-cnn1.json').catch(() => undefined);
    if (cnn) expect(() => tfjsMlpSpec(cnn)).toThrow(/TF\.js benchmark/);
    const odd = await loadNetwork('examples/models/sparse-mlp.json');
    expect(() => tfjsMlpSpec({ ...odd, layers: odd.layers.map((l) => (l.kind === 'kwta' ? { ...l, local: true } : l)) })).toThrow(/^layer 1 \(kwta\): only plain vector k-winners/);
  });
});
