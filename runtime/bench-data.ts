/**
 * The benchmark's input data, the same for every contender: real MNIST training batches (a pool of
 * 32 batches of the training set shuffled with seed 1, normalised up front) and the first test
 * images for inference. Used by `winnow bench` and by `npm run bench`'s contenders (bench/).
 *
 * @example
 * import { benchData } from 'winnow/runtime/bench-data';
 * // const d = benchData(64, 1000); d.x[0].length === 64 * 784
 */
import { loadMnist, normalizeInto } from './mnist.ts';
import { Rng } from './rng.ts';

/** Training batches (inputs and labels) and one inference batch. */
export interface BenchData {
  readonly x: ReadonlyArray<Float32Array>;
  readonly labels: ReadonlyArray<Uint8Array>;
  readonly testX: Float32Array;
}

/** Loads the batches (the whole MNIST files are read, by every contender alike). */
export const benchData = (batch: number, inferenceBatch: number, pool = 32): BenchData => {
  const train = loadMnist('train');
  const order = Rng.fromSeed(1, 1000).shuffle(Int32Array.from({ length: train.count }, (_, i) => i));
  const x: Float32Array[] = [];
  const labels: Uint8Array[] = [];
  for (let b = 0; b < pool; b++) {
    const idx = order.subarray(b * batch, (b + 1) * batch);
    x.push(normalizeInto(train.pixels, idx, new Float32Array(batch * 784)));
    labels.push(Uint8Array.from(idx, (i) => train.labels[i]));
  }
  const test = loadMnist('test', { limit: inferenceBatch });
  const testX = normalizeInto(test.pixels, Array.from({ length: inferenceBatch }, (_, i) => i), new Float32Array(inferenceBatch * 784));
  return { x, labels, testX };
};
