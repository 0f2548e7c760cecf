/**
 * The `paper-mnist` experiment: the convolutional networks of *How Can We Be So Dense?* (Ahmad &
 * Scheinkman 2019) trained on MNIST with each model file's training defaults (the paper's
 * settings), for one or more seeds, each evaluated with the paper's noise test.
 *
 * Layout of the output directory:
 * - `runs/<network>-seed<seed>.json`: one record per finished run (see record.ts), written
 *   atomically; a run whose record exists is skipped (its settings must match);
 * - `checkpoints/<network>-seed<seed>/`: the training checkpoint of each run, written after every
 *   epoch and on interruption; an unfinished run continues from it (bit-identically on the same
 *   backend), and a run whose training finished but whose record is missing is only evaluated.
 *
 * Runs go seed by seed (every network for seed 1, then seed 2, ...), so an interrupted multi-seed
 * experiment already has a complete first seed.
 *
 * @example
 * import { runPaperMnist } from 'winnow/runtime/experiment/paper-mnist';
 * // const { records } = await runPaperMnist({ out: 'runs/paper-mnist', seeds: 1, backend: 'auto', log: console.log });
 */
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../../compiler/index.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { modelToJSON } from '../../dsl/model-file.ts';
import { readModelFile } from '../../dsl/read-model-file.ts';
import type { Network } from '../../dsl/network.ts';
import { createModel, resolveBackend, type Model, type ResolvedBackend } from '../backends.ts';
import { loadCheckpoint, type EpochMetrics, type Hyperparameters } from '../checkpoint/checkpoint.ts';
import { isCheckpointDir } from '../checkpoint/store.ts';
import { noiseTest } from '../evaluate.ts';
import { loadMnist } from '../mnist.ts';
import { train, type TrainProgress } from '../train.ts';
import { kwtaLayerStats } from './duty-cycles.ts';
import { readRunRecord, runRecordFormat, writeRunRecord, type RunRecord } from './record.ts';

/** A network of the experiment, with the paper's numbers where it has them. */
export interface PaperNetwork {
  /** Id used on the command line and in file names; the model file is `examples/models/<id>.json`. */
  readonly id: string;
  readonly label: string;
  /** Table 1 of the paper: mean test accuracy (best epoch, 10 seeds) and noise score. */
  readonly paper?: { readonly accuracy: number; readonly noiseScore: number };
  readonly sparse: boolean;
}

/** The experiment's networks, in the order they are trained and reported. */
export const paperNetworks: ReadonlyArray<PaperNetwork> = [
  { id: 'dense-cnn1', label: 'Dense CNN-1', paper: { accuracy: 0.9914, noiseScore: 74_569 }, sparse: false },
  { id: 'dense-cnn2', label: 'Dense CNN-2', paper: { accuracy: 0.9931, noiseScore: 97_040 }, sparse: false },
  { id: 'dense-cnn2-dropout', label: 'Dense CNN-2 + dropout 0.5', sparse: false },
  { id: 'sparse-cnn1', label: 'Sparse CNN-1', paper: { accuracy: 0.9841, noiseScore: 100_306 }, sparse: true },
  { id: 'sparse-cnn2', label: 'Sparse CNN-2', paper: { accuracy: 0.9909, noiseScore: 103_764 }, sparse: true },
];

/** The seed of the noise test's pixels (the same as `winnow train --noise` and `winnow eval`). */
export const NOISE_SEED = 42;

/** Options of `runPaperMnist`. */
export interface PaperMnistOptions {
  /** Output directory (records, checkpoints). */
  readonly out: string;
  /** Seeds 1..seeds. */
  readonly seeds: number;
  /** A backend name or `auto`. */
  readonly backend: string;
  /** Override every model's epochs. */
  readonly epochs?: number;
  readonly trainLimit?: number;
  readonly testLimit?: number;
  /** Ids of the networks to run (default all, see `paperNetworks`). */
  readonly networks?: ReadonlyArray<string>;
  readonly log: (line: string) => void;
  readonly onProgress?: (p: TrainProgress, run: { readonly network: PaperNetwork; readonly seed: number }) => void;
  /** Stops at the next batch boundary, saving a checkpoint. */
  readonly signal?: AbortSignal;
}

/** The outcome: the records of this experiment's requested runs (done before or now). */
export interface PaperMnistResult {
  readonly backend: ResolvedBackend;
  readonly records: RunRecord[];
  readonly interrupted: boolean;
}

/** `examples/models`, found from this file (source or bundle) so the command works from any directory. */
const modelsDir = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'examples', 'models');
    if (existsSync(join(candidate, 'dense-cnn1.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new WinnowError('data', 'cannot find winnow\'s examples/models directory (the experiment\'s model files)');
    dir = up;
  }
};

/** The record file and checkpoint directory of a run. */
const runPaths = (out: string, id: string, seed: number) => ({
  record: join(out, 'runs', `${id}-seed${seed}.json`),
  checkpoint: join(out, 'checkpoints', `${id}-seed${seed}`),
});

/** The network ids a comma-separated list names, or a one-line error naming the unknown one. */
export const parseNetworkList = (text: string): string[] => {
  const ids = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 0) throw new WinnowError('usage', `--networks must name at least one network (${paperNetworks.map((n) => n.id).join(', ')})`);
  for (const id of ids) {
    if (!paperNetworks.some((n) => n.id === id)) throw new WinnowError('usage', `--networks: unknown network ${JSON.stringify(id)} (known: ${paperNetworks.map((n) => n.id).join(', ')})`);
  }
  return [...new Set(ids)];
};

/** A model's training defaults with the experiment's overrides (the same fallbacks as `winnow train`). */
const hyperparametersFor = (net: Network, options: PaperMnistOptions): Hyperparameters => {
  const d = net.training ?? {};
  const batchSize = d.batchSize ?? 64;
  return {
    epochs: options.epochs ?? d.epochs ?? 1,
    batchSize,
    firstEpochBatchSize: d.firstEpochBatchSize ?? batchSize,
    lr: d.lr ?? 0.01,
    lrGamma: d.lrGamma ?? 1,
    momentum: d.momentum ?? 0,
    weightDecay: d.weightDecay ?? 0,
    trainLimit: options.trainLimit ?? null,
  };
};

/** The first setting in which two sets of hyperparameters differ, as text, or undefined. */
const hyperDifference = (had: Hyperparameters, want: Hyperparameters): string | undefined => {
  for (const key of Object.keys(want) as (keyof Hyperparameters)[]) {
    if (had[key] !== want[key]) return `${key} ${had[key] ?? 'all'}, now ${want[key] ?? 'all'}`;
  }
  return undefined;
};

const pct = (x: number | null): string => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

/** Trains and evaluates every requested network for every seed, skipping finished runs. */
export const runPaperMnist = async (options: PaperMnistOptions): Promise<PaperMnistResult> => {
  const ids = options.networks ?? paperNetworks.map((n) => n.id);
  const networks = paperNetworks.filter((n) => ids.includes(n.id));
  const backend = await resolveBackend(options.backend);
  const dir = modelsDir();
  const fullTest = loadMnist('test').count;
  const fullTrain = loadMnist('train').count;
  if (options.testLimit !== undefined && options.testLimit > fullTest) throw new WinnowError('usage', `--test-limit must be at most ${fullTest} (the MNIST test images), got ${options.testLimit}`);
  if (options.trainLimit !== undefined && options.trainLimit > fullTrain) throw new WinnowError('usage', `--train-limit must be at most ${fullTrain} (the MNIST training images), got ${options.trainLimit}`);
  const testSet = loadMnist('test', options.testLimit !== undefined ? { limit: options.testLimit } : {});
  const trainImages = options.trainLimit ?? fullTrain;
  try {
    mkdirSync(join(options.out, 'runs'), { recursive: true });
  } catch (e) {
    throw new WinnowError('usage', `--out ${options.out}: cannot create the directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const records: RunRecord[] = [];
  const total = networks.length * options.seeds;
  let index = 0;
  for (let seed = 1; seed <= options.seeds; seed++) {
    for (const net of networks) {
      index++;
      if (options.signal?.aborted) return { backend, records, interrupted: true };
      const tag = `[${index}/${total}] ${net.id} seed ${seed}`;
      const network = readModelFile(join(dir, `${net.id}.json`));
      const hyper = hyperparametersFor(network, options);
      const paths = runPaths(options.out, net.id, seed);
      if (existsSync(paths.record)) {
        const done = readRunRecord(paths.record);
        const diff = hyperDifference(done.hyperparameters, hyper) ?? (done.data.testImages !== testSet.count ? `test images ${done.data.testImages}, now ${testSet.count}` : undefined);
        if (diff !== undefined) throw new WinnowError('usage', `${paths.record} was made with other settings (${diff}): use another --out, or delete it to run again`);
        options.log(`${tag}: done before (${paths.record}): test ${pct(done.final.testAccuracy)}, noise score ${done.noise.score.toLocaleString('en-US')}${done.backend.name !== backend.name ? ` on ${done.backend.name}` : ''}`);
        records.push(done);
        continue;
      }
      const r = await runOne(net, network, hyper, seed, backend, testSet, trainImages, paths, tag, options);
      if (r === 'interrupted') return { backend, records, interrupted: true };
      records.push(r);
    }
  }
  return { backend, records, interrupted: false };
};

const runOne = async (
  net: PaperNetwork,
  network: Network,
  hyper: Hyperparameters,
  seed: number,
  backend: ResolvedBackend,
  testSet: ReturnType<typeof loadMnist>,
  trainImages: number,
  paths: ReturnType<typeof runPaths>,
  tag: string,
  options: PaperMnistOptions,
): Promise<RunRecord | 'interrupted'> => {
  const resume = isCheckpointDir(paths.checkpoint) ? loadCheckpoint(paths.checkpoint) : undefined;
  if (resume) {
    if (JSON.stringify(modelToJSON(resume.network)) !== JSON.stringify(modelToJSON(network))) {
      throw new WinnowError('usage', `checkpoint ${paths.checkpoint} holds another model than examples/models/${net.id}.json: use another --out, or delete it to run again`);
    }
    // Like `winnow train --resume --epochs N`: a checkpoint may continue to more epochs, nothing else may change.
    const diff = hyperDifference({ ...resume.meta.hyperparameters, epochs: hyper.epochs }, hyper) ?? (resume.meta.seed !== seed ? `seed ${resume.meta.seed}, now ${seed}` : undefined);
    if (diff !== undefined) throw new WinnowError('usage', `checkpoint ${paths.checkpoint} was made with other settings (${diff}): use another --out, or delete it to run again`);
    if (resume.meta.progress.epochsDone > hyper.epochs) throw new WinnowError('usage', `checkpoint ${paths.checkpoint} has ${resume.meta.progress.epochsDone} epochs, more than the ${hyper.epochs} asked for: use another --out, or delete it to run again`);
  }
  const epochsDone = resume?.meta.progress.epochsDone ?? 0;
  const trained = resume !== undefined && epochsDone >= hyper.epochs && !resume.meta.interrupted;
  const settings = `${hyper.epochs} epochs, batch ${hyper.batchSize}${hyper.firstEpochBatchSize !== hyper.batchSize ? ` (first epoch ${hyper.firstEpochBatchSize})` : ''}, lr ${hyper.lr} x${hyper.lrGamma}/epoch, momentum ${hyper.momentum}`;
  options.log(
    `${tag} on ${backend.name} (${backend.why}): ${settings}, ${trainImages} train / ${testSet.count} test images` +
      (trained ? ' (trained before: evaluating its checkpoint)' : resume ? ` (continuing from its checkpoint ${resume.meta.interrupted ? `in the middle of epoch ${epochsDone + 1}` : `after epoch ${epochsDone}`})` : ''),
  );
  let model: Model;
  let metrics: ReadonlyArray<EpochMetrics>;
  if (trained && resume) {
    model = await createModel(backend.name, resume.lowered, resume.state);
    metrics = resume.meta.metrics;
  } else {
    const result = await train({
      network,
      hyper,
      seed,
      backend: backend.name,
      out: paths.checkpoint,
      ...(resume ? { resume } : {}),
      ...(options.testLimit !== undefined ? { testLimit: options.testLimit } : {}),
      testSet,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: (p: TrainProgress) => options.onProgress!(p, { network: net, seed }) } : {}),
      onEpoch: (m) => options.log(`  epoch ${m.epoch}/${hyper.epochs}  loss ${m.loss.toFixed(4)}  train ${pct(m.trainAccuracy)}  test ${pct(m.testAccuracy)}  ${m.seconds.toFixed(1)} s  ${m.samplesPerSecond.toFixed(0)} samples/s`),
    });
    if (result.interrupted) {
      result.model.dispose?.();
      options.log(`${tag}: interrupted; checkpoint saved to ${paths.checkpoint} (run the same command to continue)`);
      return 'interrupted';
    }
    model = result.model;
    metrics = result.metrics;
  }
  try {
    const started = performance.now();
    const noise = await noiseTest(model, testSet, { seed: NOISE_SEED });
    const noiseSeconds = (performance.now() - started) / 1000;
    const last = metrics[metrics.length - 1];
    const best = metrics.reduce((b, m) => ((m.testAccuracy ?? -1) > (b.testAccuracy ?? -1) ? m : b), metrics[0]);
    const totals = summarize(model.lowered).totals;
    const cpu = cpus();
    const record: RunRecord = {
      format: runRecordFormat,
      experiment: 'paper-mnist',
      network: net.id,
      modelName: network.name ?? net.id,
      seed,
      backend: { name: backend.name, why: backend.why },
      hyperparameters: hyper,
      data: { trainImages, testImages: testSet.count },
      params: { total: totals.params, nonzero: totals.nonzeroParams },
      epochs: metrics.map((m) => ({ ...m })),
      final: { epoch: last.epoch, testAccuracy: last.testAccuracy ?? 0 },
      best: { epoch: best.epoch, testAccuracy: best.testAccuracy ?? 0 },
      noise: { seed: NOISE_SEED, levels: noise.levels, accuracy: noise.accuracy, correct: noise.correct, score: noise.score, maxScore: noise.maxScore },
      kwta: kwtaLayerStats(model.lowered, model.state),
      timing: { trainSeconds: metrics.reduce((a, m) => a + m.seconds, 0), noiseSeconds },
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model?.trim() ?? 'unknown', node: process.version },
      finishedAt: new Date().toISOString(),
    };
    writeRunRecord(paths.record, record);
    options.log(
      `${tag}: test ${pct(record.final.testAccuracy)} (best ${pct(record.best.testAccuracy)} at epoch ${record.best.epoch}), noise score ${record.noise.score.toLocaleString('en-US')} of ${record.noise.maxScore.toLocaleString('en-US')}, ` +
        `training ${record.timing.trainSeconds.toFixed(1)} s -> ${paths.record}`,
    );
    return record;
  } finally {
    model.dispose?.();
  }
};
