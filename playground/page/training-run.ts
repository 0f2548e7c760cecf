/**
 * One training run in the page: a fresh model on the chosen backend, SGD over the bundled
 * training images for some epochs, the test images evaluated every few steps (accuracy, each
 * image's prediction, each k-winners layer's duty cycles), and the paper's noise test at the end.
 * It follows `winnow train` (runtime/train.ts, which reads files and so stays in Node): the same
 * seed streams (state 0, shuffles 1000 + epoch, dropout 2), the learning rate times `lrGamma`
 * after every epoch, the compiled `epochEnd` program (boost decay) after every epoch, the noise
 * test with seed 42. The batch size is one for every epoch (no separate first-epoch batch).
 *
 * The page stays responsive: the run yields to the event loop after every training step,
 * inference batch and noise level, and stops at the next one when its signal aborts.
 *
 * @example
 * import { runTraining } from './training-run.ts';
 * // const { model } = await runTraining(lowered, subset, settings, listener, controller.signal);
 * // model.backend; // 'gpujs:webgl2'
 */
import type { Lowered } from '../../compiler/index.ts';
import { createModel, type Model } from '../../runtime/backend.ts';
import { dutyCycleEntropy } from '../../runtime/duty-cycle-entropy.ts';
import { noiseTest } from '../../runtime/evaluate.ts';
import { NOISE_LEVELS, normalizeInto, type MnistSet } from '../../runtime/mnist-pixels.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import type { MnistSubset } from '../dataset-format.ts';

/** How to train. */
export interface RunSettings {
  readonly backend: string;
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly lrGamma: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** The first N bundled training images. */
  readonly trainImages: number;
  /** The first N bundled test images (evaluation and noise test). */
  readonly testImages: number;
  /** Evaluate on the test images every N steps (and after every epoch); 0: only after epochs. */
  readonly evalEvery: number;
  /** Run the noise test after training. */
  readonly noise: boolean;
}

/** One training step. */
export interface StepPoint {
  readonly step: number;
  readonly epoch: number;
  readonly samplesSeen: number;
  /** Mean loss and accuracy of the step's batch (before the step). */
  readonly loss: number;
  readonly accuracy: number;
}

/** One k-winners layer's duty cycles (a copy). */
export interface LayerDutyCycles {
  readonly layer: number;
  readonly k: number;
  readonly n: number;
  readonly values: Float32Array;
  /** nupic.torch's duty-cycle entropy and its maximum, in bits. */
  readonly entropy: number;
  readonly maxEntropy: number;
}

/** One evaluation on the test images. */
export interface Evaluation {
  readonly step: number;
  readonly samplesSeen: number;
  readonly accuracy: number;
  /** The predicted digit of every test image evaluated. */
  readonly predictions: Uint8Array;
  readonly dutyCycles: ReadonlyArray<LayerDutyCycles>;
}

/** The noise test so far (one level more at each report). */
export interface NoiseCurve {
  readonly levels: ReadonlyArray<number>;
  readonly accuracy: ReadonlyArray<number>;
  readonly score: number;
  readonly maxScore: number;
  readonly done: boolean;
}

/** What a run reports, as it goes. */
export interface RunListener {
  readonly status: (text: string) => void;
  /** The model exists (before the first step). */
  readonly started: (model: Model) => void;
  readonly step: (p: StepPoint) => void;
  readonly evaluated: (e: Evaluation) => void;
  readonly noise: (n: NoiseCurve) => void;
}

/** How a run ended. The caller disposes of the model (`model.dispose?.()`). */
export interface RunResult {
  readonly model: Model;
  readonly interrupted: boolean;
  readonly steps: number;
  readonly last?: Evaluation;
  readonly noise?: NoiseCurve;
}

/** Lets the page handle input and paint: a macrotask, without setTimeout's clamping. */
export const yieldToPage = (): Promise<void> =>
  new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });

/** The first `count` images of a set. */
const firstOf = (set: MnistSet, count: number): MnistSet => {
  const n = Math.max(0, Math.min(count, set.count));
  return { pixels: set.pixels.subarray(0, n * 784), labels: set.labels.subarray(0, n), count: n };
};

/** The predicted digit of each of `count` normalised images. */
const classify = async (model: Model, images: Float32Array, count: number, signal: AbortSignal): Promise<Uint8Array | undefined> => {
  const out = new Uint8Array(count);
  for (let start = 0; start < count; start += model.inferenceBatch) {
    if (signal.aborted) return undefined;
    const batch = Math.min(model.inferenceBatch, count - start);
    const logits = await model.predict(images.subarray(start * model.inputSize, (start + batch) * model.inputSize), batch);
    for (let i = 0; i < batch; i++) {
      let best = 0;
      for (let c = 1; c < model.classes; c++) if (logits[i * model.classes + c] > logits[i * model.classes + best]) best = c;
      out[start + i] = best;
    }
    await yieldToPage();
  }
  return out;
};

/** Each k-winners layer's duty cycles, read from the model's state (brought up to date first). */
const dutyCyclesOf = async (model: Model, lowered: Lowered): Promise<LayerDutyCycles[]> => {
  await model.sync?.();
  const entropy = dutyCycleEntropy(lowered, model.state);
  return lowered.ir.ops
    .filter((op) => op.op === 'kwta')
    .map((op, i) => ({
      layer: op.layer!,
      k: op.attrs.k as number,
      n: op.attrs.n as number,
      values: Float32Array.from(model.state.tensors.get(`l${op.layer}.dutyCycle`)!.data),
      entropy: entropy[i].entropy,
      maxEntropy: entropy[i].maxEntropy,
    }));
};

/** Trains a fresh model of `lowered` on the bundled subset; resolves when done or stopped. */
export const runTraining = async (lowered: Lowered, data: MnistSubset, settings: RunSettings, listener: RunListener, signal: AbortSignal): Promise<RunResult> => {
  const train = firstOf(data.train, settings.trainImages);
  const test = firstOf(data.test, settings.testImages);
  const testImages = normalizeInto(test.pixels, Array.from({ length: test.count }, (_, i) => i), new Float32Array(test.count * 784));
  listener.status(`compiling for ${settings.backend}`);
  await yieldToPage();
  const model = await createModel(settings.backend, lowered, initModelState(lowered, { seed: settings.seed, dtype: 'float32' }));
  listener.started(model);
  try {
    return await trainModel(model, lowered, train, test, testImages, settings, listener, signal);
  } catch (e) {
    model.dispose?.();
    throw e;
  }
};

const trainModel = async (
  model: Model, lowered: Lowered, train: MnistSet, test: MnistSet, testImages: Float32Array, settings: RunSettings, listener: RunListener, signal: AbortSignal,
): Promise<RunResult> => {
  const dropoutRng = Rng.fromSeed(settings.seed, 2);
  const x = new Float32Array(settings.batchSize * 784);
  const labels = new Uint8Array(settings.batchSize);
  let step = 0;
  let samplesSeen = 0;
  let last: Evaluation | undefined;

  const evaluate = async (): Promise<boolean> => {
    listener.status(`step ${step}: evaluating on ${test.count} test images`);
    const predictions = await classify(model, testImages, test.count, signal);
    if (!predictions) return false;
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (predictions[i] === test.labels[i]) correct++;
    last = { step, samplesSeen, accuracy: test.count ? correct / test.count : 0, predictions, dutyCycles: await dutyCyclesOf(model, lowered) };
    listener.evaluated(last);
    return true;
  };

  const stopped = (): RunResult => ({ model, interrupted: true, steps: step, ...(last ? { last } : {}) });

  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const order = Rng.fromSeed(settings.seed, 1000 + epoch).shuffle(Int32Array.from({ length: train.count }, (_, i) => i));
    const lr = settings.lr * settings.lrGamma ** epoch;
    for (let b = 0; b * settings.batchSize < train.count; b++) {
      if (signal.aborted) return stopped();
      const idx = order.subarray(b * settings.batchSize, Math.min(train.count, (b + 1) * settings.batchSize));
      normalizeInto(train.pixels, idx, x);
      for (let i = 0; i < idx.length; i++) labels[i] = train.labels[idx[i]];
      if (step === 0) listener.status(`first step on ${model.backend} (its kernels compile now)`);
      const r = await model.trainStep(x, labels, idx.length, { lr, momentum: settings.momentum, weightDecay: settings.weightDecay }, samplesSeen + idx.length, dropoutRng);
      if (r.nonFinite !== undefined) throw new Error(`step ${step + 1}: the loss is ${r.loss}; first non-finite output: ${r.nonFinite}. Training stopped (try a smaller learning rate).`);
      step++;
      samplesSeen += idx.length;
      listener.step({ step, epoch: epoch + 1, samplesSeen, loss: r.loss, accuracy: r.correct / idx.length });
      listener.status(`epoch ${epoch + 1}/${settings.epochs}, step ${step}, ${samplesSeen} samples`);
      const epochDone = (b + 1) * settings.batchSize >= train.count;
      if (epochDone) await model.endEpoch(); // boost decay, the compiled epochEnd program
      if ((epochDone || (settings.evalEvery > 0 && step % settings.evalEvery === 0)) && !(await evaluate())) return stopped();
      await yieldToPage();
    }
  }
  if (!settings.noise) return { model, interrupted: false, steps: step, ...(last ? { last } : {}) };

  const levels: number[] = [];
  const accuracy: number[] = [];
  let correct = 0;
  let curve: NoiseCurve | undefined;
  for (const level of NOISE_LEVELS) {
    if (signal.aborted) return { ...stopped(), ...(curve ? { noise: curve } : {}) };
    listener.status(`noise test: ${Math.round(level * 100)}% of pixels replaced`);
    await yieldToPage();
    const r = await noiseTest(model, test, { seed: 42, levels: [level] });
    levels.push(level);
    accuracy.push(r.accuracy[0]);
    correct += r.score;
    curve = { levels: [...levels], accuracy: [...accuracy], score: correct, maxScore: NOISE_LEVELS.length * test.count, done: levels.length === NOISE_LEVELS.length };
    listener.noise(curve);
  }
  return { model, interrupted: false, steps: step, ...(last ? { last } : {}), ...(curve ? { noise: curve } : {}) };
};
