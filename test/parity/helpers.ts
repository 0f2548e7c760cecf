/**
 * Helpers shared by the tests that compare a backend with the float64 reference: the same initial
 * state in another float type, the norm-wise relative error, and the run the sparse-forms suites
 * compare.
 */
import { expect } from 'vitest';
import type { Model } from '../../runtime/backend.ts';
import { allocFloat, type FloatType, type ModelState } from '../../runtime/model-state.ts';
import type { SgdSettings } from '../../runtime/optimizer.ts';
import { Rng } from '../../runtime/rng.ts';

const copyAs = (dtype: FloatType, data: ArrayLike<number>) => {
  const out = allocFloat(dtype, data.length);
  out.set(data);
  return out;
};

/** The same state in another float type (masks shared). */
export const convert = (s: ModelState, dtype: FloatType): ModelState => ({
  dtype,
  tensors: new Map([...s.tensors].map(([k, t]) => [k, { ...t, data: copyAs(dtype, t.data) }])),
  masks: s.masks,
  momentum: new Map([...s.momentum].map(([k, m]) => [k, copyAs(dtype, m)])),
});

/** ||a - b|| / ||b||. */
export const relError = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
};

/**
 * Two training steps with a prediction between, an epoch end, then an inference of 3 samples (a
 * batch the model has not compiled yet); disposes of the model. `x` holds `batch` samples.
 */
export const stepsThenInference = async (model: Model, x: Float32Array, labels: Uint8Array, batch: number, sgd: SgdSettings) => {
  try {
    const rng = Rng.fromSeed(5, 2);
    await model.trainStep(x, labels, batch, sgd, batch, rng);
    const logits = Float64Array.from(await model.predict(x, batch));
    const r = await model.trainStep(x, labels, batch, sgd, 2 * batch, rng);
    await model.endEpoch();
    const later = Float64Array.from(await model.predict(x.subarray(0, (x.length / batch) * 3), 3));
    await model.sync?.();
    return { logits, later, loss: r.loss, state: model.state };
  } finally {
    model.dispose?.();
  }
};

/** Every number `stepsThenInference` produced (logits, later logits, loss, tensors, momentum), as bytes. */
const resultBytes = (r: Awaited<ReturnType<typeof stepsThenInference>>): Buffer[] =>
  [r.logits, r.later, Float64Array.of(r.loss), ...[...r.state.tensors.values()].map((t) => t.data), ...r.state.momentum.values()].map((a) => Buffer.from(a.slice().buffer));

/** Indices of the buffers that differ between two `resultBytes` (empty when bit-identical). */
const differingBuffers = (a: ReadonlyArray<Buffer>, b: ReadonlyArray<Buffer>): number[] =>
  a.map((x, i) => (Buffer.compare(x, b[i]) !== 0 ? i : -1)).filter((i) => i >= 0);

/**
 * Expects two threads to give the bytes of one: `runOn(threads)` makes a model with that many
 * threads and runs it (`stepsThenInference`); every number of the two runs must be bit-identical.
 */
export const expectTwoThreadsBytesOfOne = async (runOn: (threads: number) => ReturnType<typeof stepsThenInference>): Promise<void> => {
  const one = resultBytes(await runOn(1));
  const two = resultBytes(await runOn(2));
  expect(differingBuffers(two, one)).toEqual([]);
};

/** What the oracle comparisons read of a run: logits, (later inference logits,) loss and the state after it. */
interface RunNumbers {
  readonly logits: ArrayLike<number>;
  readonly later?: ArrayLike<number>;
  readonly loss: number;
  readonly state: ModelState;
}

/** Expects a run's logits, later logits (when the oracle has them), loss, tensors and momentum buffers within `tol` of the oracle's, norm-wise. */
export const expectNearOracle = (tested: RunNumbers, want: RunNumbers, tol = 1e-4): void => {
  expect(relError(tested.logits, want.logits), 'logits').toBeLessThan(tol);
  if (want.later) expect(relError(tested.later!, want.later), 'inference logits').toBeLessThan(tol);
  expect(Math.abs(tested.loss - want.loss) / want.loss, 'loss').toBeLessThan(tol);
  for (const [name, t] of want.state.tensors) expect(relError(tested.state.tensors.get(name)!.data, t.data), name).toBeLessThan(tol);
  for (const [name, m] of want.state.momentum) expect(relError(tested.state.momentum.get(name)!, m), `${name} momentum`).toBeLessThan(tol);
};

/** Rows 2i and 2i+1 of `l<layer>.weight` (and of its mask, keeping W 0 off the mask) and their biases made equal: k-winners keys tie in pairs. */
export const twins = (layer: number) => (s: ModelState): void => {
  const w = s.tensors.get(`l${layer}.weight`)!;
  const b = s.tensors.get(`l${layer}.bias`)!;
  const mask = s.masks.get(`l${layer}.weight`);
  const [units, fanIn] = w.shape;
  for (let u = 1; u < units; u += 2) {
    w.data.copyWithin(u * fanIn, (u - 1) * fanIn, u * fanIn);
    mask?.copyWithin(u * fanIn, (u - 1) * fanIn, u * fanIn);
    b.data[u] = b.data[u - 1];
  }
};
