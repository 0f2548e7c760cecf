import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipe } from 'fp-ts/lib/function.js';
import { describe, expect, it } from 'vitest';
import { boost, dense, dropconnect, dropout, input, kwta, relu, softmaxCrossEntropy, sparse, WinnowError } from '../../dsl/index.ts';
import { loadCheckpoint, type Hyperparameters } from '../../runtime/checkpoint/checkpoint.ts';
import { loadMnist } from '../../runtime/mnist.ts';
import type { ModelState } from '../../runtime/model-state.ts';
import { train } from '../../runtime/train.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'winnow-train-'));

// Small but complete: sparse weights, k-winners with boosting, DropConnect, dropout.
const net = pipe(
  input([784]),
  dense(48), sparse(0.4), kwta({ percentOn: 0.25 }), boost({ strength: 1.5, strengthFactor: 0.8 }),
  dense(32), dropconnect(0.1), relu, dropout(0.2),
  dense(10), softmaxCrossEntropy,
);
const hyper: Hyperparameters = { epochs: 3, batchSize: 32, firstEpochBatchSize: 8, lr: 0.01, lrGamma: 0.8, momentum: 0.9, weightDecay: 1e-4, trainLimit: 320 };
const trainSet = loadMnist('train', { limit: 320 });
const testSet = loadMnist('test', { limit: 200 });
const base = { network: net, hyper, seed: 7, backend: 'reference', trainSet, testSet } as const;

const bits = (s: ModelState) => {
  const out: Record<string, string> = {};
  for (const [name, t] of s.tensors) out[name] = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64');
  for (const [name, m] of s.momentum) out[`${name}.momentum`] = Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('base64');
  return out;
};

describe('training on the reference backend', () => {
  it('the same seed gives bit-identical weights; another seed does not', async () => {
    const a = await train(base);
    const b = await train(base);
    const c = await train({ ...base, seed: 8 });
    expect(bits(a.model.state)).toEqual(bits(b.model.state));
    expect(bits(a.model.state)).not.toEqual(bits(c.model.state));
    expect(a.metrics.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(a.metrics.map((m) => m.lr)).toEqual([0.01, 0.01 * 0.8 ** 1, 0.01 * 0.8 ** 2]);
  });

  it('learns: test accuracy well above chance after a few epochs on a small set', async () => {
    const r = await train({ ...base, hyper: { ...hyper, epochs: 4, trainLimit: null }, trainSet: loadMnist('train', { limit: 2000 }) });
    expect(r.metrics[3].testAccuracy!).toBeGreaterThan(0.8);
    expect(r.metrics[3].loss).toBeLessThan(r.metrics[0].loss);
  });

  it('keeps masked weights at zero and each unit keeps exactly round(density x fan_in) inputs', async () => {
    const r = await train(base);
    const w = r.model.state.tensors.get('l0.weight')!.data;
    const mask = r.model.state.masks.get('l0.weight')!;
    for (let u = 0; u < 48; u++) {
      let kept = 0;
      for (let i = 0; i < 784; i++) {
        if (mask[u * 784 + i]) kept++;
        else expect(w[u * 784 + i]).toBe(0);
      }
      expect(kept).toBe(314); // round(0.4 x 784) = round(313.6)
    }
  });

  it('decays boost strength once per epoch and tracks duty cycles', async () => {
    const r = await train(base);
    expect(r.model.state.tensors.get('l1.boostStrength')!.data[0]).toBeCloseTo(1.5 * 0.8 ** 3, 6);
    const dc = r.model.state.tensors.get('l1.dutyCycle')!.data;
    const mean = Array.from(dc).reduce((a, b) => a + b, 0) / dc.length;
    expect(mean).toBeGreaterThan(0.15); // k-winners keeps 25% on; positive winners count
    expect(mean).toBeLessThanOrEqual(0.25 + 1e-6);
  });

  it('resuming from epoch N to M is bit-identical to training to M in one go', async () => {
    const dir = tmp();
    const full = await train(base);
    await train({ ...base, hyper: { ...hyper, epochs: 1 }, out: dir });
    const r1 = loadCheckpoint(dir);
    expect(r1.meta.progress.epochsDone).toBe(1);
    const mid = await train({ ...base, hyper: { ...hyper, epochs: 2 }, out: dir, resume: r1 });
    expect(mid.metrics.map((m) => m.epoch)).toEqual([1, 2]);
    const resumed = await train({ ...base, out: dir, resume: loadCheckpoint(dir) });
    expect(bits(resumed.model.state)).toEqual(bits(full.model.state));
    expect(bits(loadCheckpoint(dir).state)).toEqual(bits(full.model.state));
  });

  it('an interruption mid-epoch saves a checkpoint that resumes bit-identically', async () => {
    const dir = tmp();
    const full = await train(base);
    const controller = new AbortController();
    // progress is first reported after the first batch: interrupt there
    const first = await train({ ...base, out: dir, signal: controller.signal, onProgress: () => controller.abort() });
    expect(first.interrupted).toBe(true);
    const saved = loadCheckpoint(dir);
    expect(saved.meta.interrupted).toBe(true);
    expect(saved.meta.progress.batchInEpoch).toBeGreaterThan(0);
    const rest = await train({ ...base, out: dir, resume: saved });
    expect(rest.interrupted).toBe(false);
    expect(bits(rest.model.state)).toEqual(bits(full.model.state));
    // the interrupted epoch's loss and accuracy continue from the sums saved with it
    const summary = (ms: ReadonlyArray<{ loss: number; trainAccuracy: number; testAccuracy: number | null }>) => ms.map((m) => [m.loss, m.trainAccuracy, m.testAccuracy]);
    expect(summary(rest.metrics)).toEqual(summary(full.metrics));
  });

  it('a NaN loss stops training naming the step and the first non-finite layer; the last good checkpoint is kept', async () => {
    const dir = tmp();
    await train({ ...base, hyper: { ...hyper, epochs: 1 }, out: dir });
    const good = bits(loadCheckpoint(dir).state);
    const error = await train({ ...base, hyper: { ...hyper, lr: 1e30 }, out: dir, resume: loadCheckpoint(dir) }).catch((e) => e);
    expect(error).toBeInstanceOf(WinnowError);
    expect(error.message).toMatch(/^step \d+ \(epoch 2, batch \d+\): the loss is (NaN|Infinity); first non-finite output: layer \d+ \(\w+\)\. Training stopped; the last good checkpoint in .* is kept\.$/);
    const after = loadCheckpoint(dir);
    expect(after.meta.progress.epochsDone).toBe(1);
    expect(bits(after.state)).toEqual(good);
  });
});

describe('checkpoints', () => {
  it('hold the model, hyperparameters, seed, RNG state, metrics and checksummed tensors', async () => {
    const dir = tmp();
    await train({ ...base, hyper: { ...hyper, epochs: 1 }, out: dir });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.meta).toMatchObject({ format: 'winnow.run/1', seed: 7, backend: 'reference', dtype: 'float32', hyperparameters: { ...hyper, epochs: 1 } });
    expect(manifest.meta.rng.dropout).toHaveLength(4);
    expect(manifest.meta.metrics).toHaveLength(1);
    expect(manifest.meta.model.layers[0]).toEqual({ dense: { units: 48, weightDensity: 0.4, dropconnect: 0, bias: true } });
    const names = manifest.tensors.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(['l0.weight', 'l0.weight.mask', 'l0.weight.momentum', 'l1.dutyCycle', 'l1.boostStrength']));
    expect(manifest.tensors.every((t: { sha256: string }) => /^[0-9a-f]{64}$/.test(t.sha256))).toBe(true);
  });

  it('corrupt or mismatched checkpoints are refused with clear messages', async () => {
    const dir = tmp();
    await train({ ...base, hyper: { ...hyper, epochs: 1 }, out: dir });
    const manifestPath = join(dir, 'manifest.json');
    const manifest = readFileSync(manifestPath, 'utf8');
    const bin = join(dir, readdirSync(dir).find((f) => f.endsWith('.bin'))!);
    const data = readFileSync(bin);

    const flipped = Buffer.from(data);
    flipped[100] ^= 0xff;
    writeFileSync(bin, flipped);
    expect(() => loadCheckpoint(dir)).toThrow(/checksum mismatch/);
    writeFileSync(bin, data);

    const m = JSON.parse(manifest);
    m.meta.model.layers[0].dense.units = 49;
    writeFileSync(manifestPath, JSON.stringify(m));
    expect(() => loadCheckpoint(dir)).toThrow(/tensor 'l0\.weight' has shape \[48, 784\], but the model needs \[49, 784\]/);

    const m2 = JSON.parse(manifest);
    m2.meta.progress.epochsDone = -1;
    writeFileSync(manifestPath, JSON.stringify(m2));
    expect(() => loadCheckpoint(dir)).toThrow(/manifest field meta\.progress\.epochsDone is invalid \(got -1\)/);

    const m3 = JSON.parse(manifest);
    m3.meta.model.layers[1].kwta.percentOn = 2;
    writeFileSync(manifestPath, JSON.stringify(m3));
    expect(() => loadCheckpoint(dir)).toThrow(/its model is invalid: layers\[1\]\.kwta\.percentOn: must be in \(0, 1\), got 2/);

    writeFileSync(manifestPath, manifest);
    expect(loadCheckpoint(dir).meta.progress.epochsDone).toBe(1);
    expect(() => loadCheckpoint(join(dir, 'nope'))).toThrow(WinnowError);
  });
});
