/**
 * `winnow train <model> [flags]`: trains on MNIST, writes a checkpoint per epoch (and on Ctrl-C),
 * prints one line per epoch (a live bar on a terminal), and optionally the noise test.
 */
import { basename, extname, join } from 'node:path';
import { WinnowError } from '../../dsl/errors.ts';
import { modelToJSON } from '../../dsl/model-file.ts';
import type { Network } from '../../dsl/network.ts';
import { checks } from '../../dsl/checks.ts';
import { backendNames, resolveBackend } from '../backends.ts';
import { loadCheckpoint, type Hyperparameters, type LoadedRun } from '../checkpoint/checkpoint.ts';
import { noiseTest, type NoiseResult } from '../evaluate.ts';
import { loadNetwork } from '../load-model.ts';
import { loadMnist } from '../mnist.ts';
import { train } from '../train.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { formatNoise } from './eval.ts';
import { checkpointOnSigint, stderrBar } from './progress.ts';

/** Flags of `train`. */
export const trainSpec: CommandSpec = {
  name: 'train',
  positionals: ['model?'],
  flags: {
    epochs: { type: 'number', check: checks.positiveInt, help: 'train until this many epochs are done (default: the model\'s, else 1)' },
    batch: { type: 'number', check: checks.positiveInt, help: 'batch size (default: the model\'s, else 64)' },
    'first-epoch-batch': { type: 'number', check: checks.positiveInt, help: 'batch size of the first epoch (default: the model\'s, else --batch)' },
    lr: { type: 'number', check: checks.positive, help: 'learning rate (default: the model\'s, else 0.01)' },
    momentum: { type: 'number', check: checks.momentum, help: 'SGD momentum (default: the model\'s, else 0)' },
    'weight-decay': { type: 'number', check: checks.nonNegative, help: 'weight decay (default: the model\'s, else 0)' },
    'lr-gamma': { type: 'number', check: checks.unitHalfOpen, help: 'learning rate factor per epoch (default: the model\'s, else 1)' },
    'train-limit': { type: 'number', check: checks.positiveInt, help: 'train on the first N images only (quick runs)' },
    'test-limit': { type: 'number', check: checks.positiveInt, help: 'evaluate on the first N test images only (quick runs)' },
    seed: { type: 'number', check: checks.nonNegativeInt, help: 'seed of everything random (default 1)' },
    backend: { type: 'string', choices: backendNames, help: `execution backend: ${backendNames.join(', ')} (default auto: WebGPU on a hardware adapter, else cpu, else reference)` },
    out: { type: 'string', help: 'checkpoint directory (default runs/<model>-seed<seed>)' },
    resume: { type: 'string', help: 'continue from this checkpoint directory' },
    noise: { type: 'bool', help: 'run the noise test after training' },
    json: { type: 'bool', help: 'print one JSON object on stdout at the end' },
  },
};

/** The hyperparameters of a run: flags (by their names above), else a previous run's, else the model's training defaults, else winnow's. */
export const resolveHyper = (flags: Record<string, unknown>, net: Network, previous?: Hyperparameters): Hyperparameters => {
  const d = net.training ?? {};
  const pick = (flag: string, fromModel: number | undefined, fallback: number): number =>
    (flags[flag] as number | undefined) ?? fromModel ?? fallback;
  const batchSize = pick('batch', previous?.batchSize ?? d.batchSize, 64);
  return {
    epochs: pick('epochs', previous?.epochs ?? d.epochs, 1),
    batchSize,
    firstEpochBatchSize: pick('first-epoch-batch', previous?.firstEpochBatchSize ?? d.firstEpochBatchSize, batchSize),
    lr: pick('lr', previous?.lr ?? d.lr, 0.01),
    lrGamma: pick('lr-gamma', previous?.lrGamma ?? d.lrGamma, 1),
    momentum: pick('momentum', previous?.momentum ?? d.momentum, 0),
    weightDecay: pick('weight-decay', previous?.weightDecay ?? d.weightDecay, 0),
    trainLimit: (flags['train-limit'] as number | undefined) ?? previous?.trainLimit ?? null,
  };
};

/** Throws a one-line usage error unless `network` can be trained on MNIST (784 inputs, 10 logits, a softmaxCrossEntropy head). */
export const requireMnistClassifier = (network: Network): void => {
  if (network.last !== 'softmaxCrossEntropy') throw new WinnowError('usage', 'the model must end with a softmaxCrossEntropy head to be trained');
  if (network.input.reduce((a, b) => a * b, 1) !== 784) {
    throw new WinnowError('usage', `MNIST images have 784 values; the model's input [${network.input.join(', ')}] does not (use [784] or [1, 28, 28])`);
  }
  if (network.shapes[network.shapes.length - 1][0] !== 10) throw new WinnowError('usage', 'MNIST has 10 classes; the model must output 10 logits');
};

/** Runs `train`. */
export const trainCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void, err: (s: string) => void): Promise<number> => {
  const { flags, positionals } = parseCommand(trainSpec, argv);
  let resume: LoadedRun | undefined;
  let network: Network;
  if (flags.resume !== undefined) {
    resume = loadCheckpoint(flags.resume as string);
    network = resume.network;
    if (positionals.model !== undefined) {
      const given = await loadNetwork(positionals.model);
      if (JSON.stringify(modelToJSON(given)) !== JSON.stringify(modelToJSON(network))) {
        throw new WinnowError('usage', `${positionals.model} is not the model of checkpoint ${flags.resume} (omit <model> to resume with the checkpoint's model)`);
      }
    }
    if (flags.seed !== undefined && flags.seed !== resume.meta.seed) throw new WinnowError('usage', `--seed ${flags.seed} differs from the checkpoint's seed ${resume.meta.seed}; a resumed run keeps its seed`);
  } else {
    if (positionals.model === undefined) throw new WinnowError('usage', 'expects <model> (or --resume <checkpoint-dir>)');
    network = await loadNetwork(positionals.model);
  }
  requireMnistClassifier(network);
  const hyper = resolveHyper(flags, network, resume?.meta.hyperparameters);
  if (resume && hyper.epochs <= resume.meta.progress.epochsDone && !resume.meta.interrupted) {
    throw new WinnowError('usage', `checkpoint ${flags.resume} already has ${resume.meta.progress.epochsDone} epochs; pass --epochs greater than that`);
  }
  if (resume && hyper.trainLimit !== resume.meta.hyperparameters.trainLimit) throw new WinnowError('usage', '--train-limit cannot change on resume');
  const seed = (flags.seed as number | undefined) ?? resume?.meta.seed ?? 1;
  const backend = await resolveBackend((flags.backend as string | undefined) ?? 'auto');
  if (resume && backend.name !== resume.meta.backend) {
    // Checkpoints are backend-neutral (same state format); say so, since bits may differ.
    err(`note: continuing a ${resume.meta.backend} run on ${backend.name}`);
  }
  const name = positionals.model !== undefined ? basename(positionals.model, extname(positionals.model)) : 'model';
  const outDir = (flags.out as string | undefined) ?? (flags.resume as string | undefined) ?? join('runs', `${name}-seed${seed}`);
  const json = flags.json === true;
  const log = json ? err : out;
  const bar = stderrBar();
  const sigint = checkpointOnSigint(err, bar);
  try {
    log(`training ${positionals.model ?? flags.resume} on ${backend.name} (${backend.why}): ${hyper.epochs} epochs, batch ${hyper.batchSize}${hyper.firstEpochBatchSize !== hyper.batchSize ? ` (first epoch ${hyper.firstEpochBatchSize})` : ''}, lr ${hyper.lr} x${hyper.lrGamma}/epoch, momentum ${hyper.momentum}, seed ${seed} -> ${outDir}`);
    const result = await train({
      network,
      hyper,
      seed,
      backend: backend.name,
      out: outDir,
      ...(resume ? { resume } : {}),
      ...(flags['test-limit'] !== undefined ? { testLimit: flags['test-limit'] as number } : {}),
      signal: sigint.signal,
      ...(bar ? { onProgress: bar.update } : {}),
      onEpoch: (m) => {
        bar?.clear();
        log(`epoch ${m.epoch}/${hyper.epochs}  loss ${m.loss.toFixed(4)}  train ${(m.trainAccuracy * 100).toFixed(2)}%  test ${m.testAccuracy === null ? '-' : `${(m.testAccuracy * 100).toFixed(2)}%`}  ${m.seconds.toFixed(1)} s  ${m.samplesPerSecond.toFixed(0)} samples/s`);
      },
    });
    // Training and its checkpoints are done: from here Ctrl-C may end the process at once.
    sigint.release();
    try {
      if (result.interrupted) {
        err(`checkpoint saved to ${outDir}; continue with: winnow train --resume ${outDir}`);
        if (json) out(JSON.stringify({ interrupted: true, checkpoint: outDir }));
        return 130;
      }
      let noise: NoiseResult | undefined;
      if (flags.noise) {
        noise = await noiseTest(result.model, loadMnist('test', flags['test-limit'] !== undefined ? { limit: flags['test-limit'] as number } : {}), { seed: 42 });
        log(formatNoise(noise));
      }
      log(`checkpoint: ${outDir}`);
      if (json) {
        out(JSON.stringify({
          backend: { name: backend.name, why: backend.why },
          epochs: result.metrics.map((m) => ({ epoch: m.epoch, loss: m.loss, trainAccuracy: m.trainAccuracy, testAccuracy: m.testAccuracy, seconds: m.seconds, samplesPerSecond: m.samplesPerSecond })),
          checkpoint: outDir,
          ...(noise ? { noise: { levels: noise.levels, accuracy: noise.accuracy, score: noise.score } } : {}),
        }));
      }
      return 0;
    } finally {
      result.model.dispose?.();
    }
  } finally {
    sigint.release();
  }
};
