/**
 * Evaluation: accuracy and confusion matrix on a labelled set, and the paper's noise test.
 *
 * Noise test (Ahmad & Scheinkman 2019): for each level in 0, 0.05, ..., 0.5, int(784 x level)
 * distinct random pixels of every test image are set to 0.7469 before normalisation; the noise
 * score is the number of correct classifications summed over the 11 levels (max 110,000 on the
 * 10,000 MNIST test images).
 *
 * @example
 * import { evaluate, noiseTest } from 'winnow/runtime/evaluate';
 * // const { accuracy } = await evaluate(model, loadMnist('test'));
 * // const { score } = await noiseTest(model, loadMnist('test'), { seed: 42 });
 */
import { normalizeInto, noisyImages, NOISE_LEVELS, type MnistSet } from './mnist-pixels.ts';
import type { Arr } from './reference/kernel.ts';

/**
 * Anything that can classify a batch: resolves to logits `batch x classes`. Callers await it once
 * per batch (a plain value is accepted too: see `Model` in backend.ts).
 */
export interface Classifier {
  readonly classes: number;
  /** Values per sample. */
  readonly inputSize: number;
  /** Largest batch worth running at once (bounded by memory). */
  readonly inferenceBatch: number;
  readonly predict: (x: Float32Array, batch: number) => Promise<Arr> | Arr;
}

/** Accuracy and confusion matrix (rows: true label, columns: prediction). */
export interface EvalResult {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
  readonly confusion: number[][];
}

/** Classifies `images` (normalised, `count x inputSize`) in batches against `labels`. */
export const evaluateImages = async (model: Classifier, images: Float32Array, labels: Uint8Array, count: number): Promise<EvalResult> => {
  const confusion = Array.from({ length: model.classes }, () => new Array<number>(model.classes).fill(0));
  let correct = 0;
  for (let start = 0; start < count; start += model.inferenceBatch) {
    const batch = Math.min(model.inferenceBatch, count - start);
    const logits = await model.predict(images.subarray(start * model.inputSize, (start + batch) * model.inputSize), batch);
    for (let i = 0; i < batch; i++) {
      let best = 0;
      for (let c = 1; c < model.classes; c++) if (logits[i * model.classes + c] > logits[i * model.classes + best]) best = c;
      const label = labels[start + i];
      confusion[label][best]++;
      if (best === label) correct++;
    }
  }
  return { correct, total: count, accuracy: correct / count, confusion };
};

/** Accuracy and confusion matrix on a set of MNIST images. */
export const evaluate = async (model: Classifier, set: MnistSet): Promise<EvalResult> => {
  const images = new Float32Array(set.count * 784);
  normalizeInto(set.pixels, Array.from({ length: set.count }, (_, i) => i), images);
  return evaluateImages(model, images, set.labels, set.count);
};

/** The noise test's result. */
export interface NoiseResult {
  readonly levels: number[];
  readonly accuracy: number[];
  readonly correct: number[];
  /** Correct classifications summed over the levels. */
  readonly score: number;
  /** The best possible score (levels x images). */
  readonly maxScore: number;
}

/** The paper's noise test on `set` (seeded: the same seed corrupts the same pixels). */
export const noiseTest = async (model: Classifier, set: MnistSet, options: { readonly seed: number; readonly levels?: ReadonlyArray<number> }): Promise<NoiseResult> => {
  const levels = [...(options.levels ?? NOISE_LEVELS)];
  const correct: number[] = [];
  for (const level of levels) correct.push((await evaluateImages(model, noisyImages(set, level, options.seed), set.labels, set.count)).correct);
  return {
    levels,
    accuracy: correct.map((c) => c / set.count),
    correct,
    score: correct.reduce((a, b) => a + b, 0),
    maxScore: levels.length * set.count,
  };
};

/** A batch size for inference that keeps the largest activation under ~64 MB. */
export const inferenceBatchFor = (activationsPerSample: number): number =>
  Math.max(1, Math.min(1000, Math.floor(16_000_000 / Math.max(1, activationsPerSample))));

