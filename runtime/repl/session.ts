/**
 * What `winnow repl` works on: one model at a time (its network, lowered IR, state and training
 * progress), the backend it runs on, and the commands that act on them. Every command prints
 * through `print` and throws a `WinnowError` for bad input, which the REPL shows as one line.
 *
 * Training continues across `.train` calls exactly as `winnow train --resume` would (the same
 * progress, dropout stream and partial-epoch sums, kept in memory), so an interrupted `.train`
 * resumes where it stopped. One compiled model is kept per (model, backend) and reused until
 * `.set`, `.load` or `.backend` replaces it.
 *
 * @example
 * import { createSession } from 'winnow/runtime/repl/session';
 * const session = await createSession({ print: console.log, backend: 'cpu' });
 * await session.load('sparse-mlp');
 * await session.set('layers.1.kwta.percentOn 0.05');
 * await session.train('1 --limit 1000 --test-limit 200', new AbortController().signal);
 */
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { lower, summarize, trace, type Lowered } from '../../compiler/index.ts';
import { checks, violation, type Check } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { decodeModel, modelToJSON } from '../../dsl/model-file.ts';
import type { Network } from '../../dsl/network.ts';
import { formatShape } from '../../dsl/shape.ts';
import { backendNames, createModel, resolveBackend, type Model, type ResolvedBackend } from '../backends.ts';
import { loadCheckpoint, runFormat, saveCheckpoint, type CheckpointMeta, type EpochMetrics, type Hyperparameters, type PartialEpoch } from '../checkpoint/checkpoint.ts';
import { isCheckpointDir } from '../checkpoint/store.ts';
import { lineChart } from '../cli/chart.ts';
import { formatNoise } from '../cli/eval.ts';
import { compileAll, sourcesText, summaryTable } from '../cli/inspect.ts';
import { progressLine } from '../cli/progress.ts';
import { formatTable, thousands } from '../cli/table.ts';
import { requireMnistClassifier, resolveHyper } from '../cli/train.ts';
import { dutyCycleEntropy, type LayerEntropy } from '../duty-cycle-entropy.ts';
import { noiseTest, type Classifier, type NoiseResult } from '../evaluate.ts';
import { kernelSourceBackends } from '../kernel-sources.ts';
import { loadNetwork } from '../load-model.ts';
import { loadMnist, NOISE_LEVELS, type MnistSet } from '../mnist.ts';
import { initModelState, type ModelState } from '../model-state.ts';
import { Rng } from '../rng.ts';
import { train, type TrainProgress } from '../train.ts';
import { keepState } from './keep-state.ts';
import { formatPath, getAt, parsePath, parseValue, removeField, setAt, type PathKey } from './set-path.ts';

/** How a session talks back. */
export interface SessionOptions {
  /** Prints one or more whole lines. */
  readonly print: (text: string) => void;
  /** Redraws one live line (a terminal); without it, progress is printed line by line. */
  readonly live?: { readonly update: (line: string) => void; readonly clear: () => void };
  /** A backend name or `auto` (default). */
  readonly backend?: string;
  /** The seed of fresh weights, shuffles and dropout (default 1). */
  readonly seed?: number;
  /** ASCII-only charts (default: Unicode). */
  readonly ascii?: boolean;
}

/** Training progress of the current model, as a checkpoint's manifest records it. */
export interface RunProgress {
  readonly progress: CheckpointMeta['progress'];
  readonly rng: CheckpointMeta['rng'];
  readonly metrics: ReadonlyArray<EpochMetrics>;
  readonly interrupted: boolean;
  readonly partial?: PartialEpoch;
  /** The `--limit` of the last `.train` (null: all 60,000 images). */
  readonly trainLimit: number | null;
}

/** The model a session works on. */
export interface Current {
  /** Where it came from (a path, an example name, `use()`). */
  readonly source: string;
  readonly network: Network;
  readonly lowered: Lowered;
  readonly state: ModelState;
  readonly run: RunProgress;
}

/** A session: the current model and backend, and one method per REPL command (each takes the command's argument text). */
export interface Session {
  readonly current: () => Current | undefined;
  readonly backend: () => ResolvedBackend;
  readonly seed: () => number;
  /** The current model compiled on the current backend (created once, then reused). */
  readonly model: () => Promise<Model>;
  /** Makes a network built with the DSL the current model (fresh weights from the seed). */
  readonly use: (network: Network, source?: string) => void;
  readonly load: (arg: string) => Promise<void>;
  readonly save: (arg: string) => Promise<void>;
  readonly set: (arg: string) => Promise<void>;
  readonly summary: (arg: string) => Promise<void>;
  readonly ir: (arg: string) => Promise<void>;
  readonly kernels: (arg: string) => Promise<void>;
  readonly train: (arg: string, signal: AbortSignal) => Promise<void>;
  readonly noise: (arg: string, signal: AbortSignal) => Promise<void>;
  readonly sweep: (arg: string, signal: AbortSignal) => Promise<void>;
  readonly setBackend: (arg: string) => Promise<void>;
  /** Frees the compiled model. */
  readonly dispose: () => void;
}

/** The example model files shipped with winnow, by name (`sparse-mlp` -> its path). */
export const exampleModels = (): Map<string, string> => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const models = join(dir, 'examples', 'models');
    if (existsSync(models) && existsSync(join(dir, 'package.json'))) {
      return new Map(readdirSync(models).filter((f) => f.endsWith('.json')).sort().map((f) => [basename(f, '.json'), join(models, f)]));
    }
    const up = dirname(dir);
    if (up === dir) return new Map();
    dir = up;
  }
};

/** A flag of a REPL command: a number obeying a check, or a string. */
type FlagRule = Check | 'string';

/** Splits a command's argument text into positionals and `--flag value` pairs, checking every flag. */
const parseArgs = (text: string, rules: Readonly<Record<string, FlagRule>>): { positionals: string[]; flags: Record<string, number | string> } => {
  const tokens = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const positionals: string[] = [];
  const flags: Record<string, number | string> = {};
  const known = Object.keys(rules).map((f) => `--${f}`).join(', ') || 'none';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith('--')) {
      positionals.push(t);
      continue;
    }
    const [name, inline] = t.slice(2).split('=', 2);
    const rule = rules[name];
    if (rule === undefined) throw new WinnowError('usage', `unknown flag --${name} (flags: ${known})`);
    const value = inline ?? tokens[++i];
    if (value === undefined) throw new WinnowError('usage', `--${name} expects a value`);
    if (rule === 'string') flags[name] = value;
    else {
      const x = value.trim() === '' ? NaN : Number(value);
      const problem = violation(Number.isNaN(x) ? value : x, rule);
      if (problem !== undefined) throw new WinnowError('usage', `--${name} ${problem}`);
      flags[name] = x;
    }
  }
  return { positionals, flags };
};

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** `layer 1 402.7/469.0 bits (86%)` per k-winners layer. */
const entropyText = (list: ReadonlyArray<LayerEntropy>, short: boolean): string =>
  list
    .map((e) => {
      const ratio = e.maxEntropy > 0 ? `${((100 * e.entropy) / e.maxEntropy).toFixed(0)}%` : '-';
      return short ? `H${e.layer} ${ratio}` : `layer ${e.layer} ${e.entropy.toFixed(1)} of ${e.maxEntropy.toFixed(1)} bits (${ratio})`;
    })
    .join(short ? ' ' : ', ');

const freshRun = (seed: number): RunProgress => ({
  progress: { epochsDone: 0, batchInEpoch: 0, samplesSeen: 0, step: 0 },
  rng: { dropout: Rng.fromSeed(seed, 2).state() }, // the stream train() starts a fresh run with
  metrics: [],
  interrupted: false,
  trainLimit: null,
});

/** The canonical JSON of a network (what `.set` edits and `.save x.json` writes). */
const jsonOf = (network: Network): Record<string, unknown> => JSON.parse(JSON.stringify(modelToJSON(network)));

/** The JSON of a network without what does not change its IR (name, description, training defaults). */
const architecture = (json: Record<string, unknown>): string => JSON.stringify({ ...json, name: undefined, description: undefined, training: undefined });

/** Fields of which a layer takes exactly one: setting one removes the other. */
const alternatives: Readonly<Record<string, string>> = { percentOn: 'k', k: 'percentOn' };

/** `setAt` on model JSON, where setting a k-winners layer's `percentOn` drops its `k` and the other way round (`dropped` says so). */
const edit = (json: unknown, keys: ReadonlyArray<PathKey>, value: unknown): { json: Record<string, unknown>; dropped?: string } => {
  const last = keys[keys.length - 1];
  const other = typeof last === 'string' && keys[keys.length - 2] === 'kwta' && value !== removeField ? alternatives[last] : undefined;
  const otherPath = [...keys.slice(0, -1), other ?? ''];
  const was = other !== undefined ? getAt(json, otherPath) : undefined;
  const base = was !== undefined ? setAt(json, otherPath, removeField) : json;
  return { json: setAt(base, keys, value) as Record<string, unknown>, ...(was !== undefined ? { dropped: `${other} ${JSON.stringify(was)}` } : {}) };
};

/** Decodes model JSON through the model codec, or throws one line with every problem and its path. */
const decode = (json: unknown): Network => {
  const r = decodeModel(json);
  if (E.isLeft(r)) throw new WinnowError('model', r.left.join('; '));
  return r.right;
};

/** Writes a file atomically (a temporary file, then a rename). */
const writeAtomic = (path: string, text: string): void => {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    throw new WinnowError('usage', `cannot write ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
};

/** Opens a session (resolving its backend) with no model loaded. */
export const createSession = async (options: SessionOptions): Promise<Session> => {
  const { print } = options;
  const seed = options.seed ?? 1;
  let backend = await resolveBackend(options.backend ?? 'auto');
  let current: Current | undefined;
  let compiled: Model | undefined;

  const need = (): Current => {
    if (!current) throw new WinnowError('usage', 'no model loaded: .load <model file, checkpoint directory or example> first');
    return current;
  };
  const dropModel = () => {
    compiled?.dispose?.();
    compiled = undefined;
  };
  const model = async (): Promise<Model> => {
    const c = need();
    compiled ??= await createModel(backend.name, c.lowered, c.state);
    return compiled;
  };
  const replace = (next: Current) => {
    dropModel();
    current = next;
  };
  const describeModel = (c: Current): string => {
    const s = summarize(c.lowered).totals;
    return `input ${formatShape(c.network.input)}, ${c.network.layers.length} layers, ${thousands(s.params)} params (${thousands(s.nonzeroParams)} non-zero)`;
  };
  const status = (c: Current): string => {
    const p = c.run.progress;
    if (p.step === 0) return `fresh weights (seed ${seed})`;
    return `trained ${p.epochsDone} epoch${p.epochsDone === 1 ? '' : 's'}${p.batchInEpoch ? ` and ${p.batchInEpoch} batches` : ''} (${thousands(p.step)} step${p.step === 1 ? '' : 's'})`;
  };

  const use = (network: Network, source = 'use()') => {
    // Revalidate through the codec, so that an object made by hand cannot slip past the DSL's rules.
    const checked = decode(jsonOf(network));
    const lowered = lower(trace(checked));
    replace({ source, network: checked, lowered, state: initModelState(lowered, { seed, dtype: 'float32' }), run: freshRun(seed) });
  };

  const load = async (arg: string) => {
    const target = arg.trim();
    const examples = exampleModels();
    if (target === '') throw new WinnowError('usage', `expects <model>: a .json model file, a .ts/.js module, a checkpoint directory or an example (${[...examples.keys()].join(', ')})`);
    const path = !existsSync(target) && examples.has(target) ? examples.get(target)! : target;
    if (existsSync(path) && isCheckpointDir(path)) {
      const run = loadCheckpoint(path);
      const h = run.meta.hyperparameters;
      const network = { ...run.network, training: { ...run.network.training, batchSize: h.batchSize, firstEpochBatchSize: h.firstEpochBatchSize, lr: h.lr, lrGamma: h.lrGamma, momentum: h.momentum, weightDecay: h.weightDecay } };
      replace({
        source: path,
        network,
        lowered: run.lowered,
        state: run.state,
        run: { progress: run.meta.progress, rng: run.meta.rng, metrics: run.meta.metrics, interrupted: run.meta.interrupted, ...(run.meta.partial ? { partial: run.meta.partial } : {}), trainLimit: h.trainLimit },
      });
      if (run.meta.seed !== seed) print(`note: the checkpoint's seed is ${run.meta.seed}; this session's (${seed}) drives new shuffles`);
      print(`loaded checkpoint ${path}: ${describeModel(current!)}; ${status(current!)} on ${run.meta.backend}${run.meta.backend !== backend.name ? `, continuing on ${backend.name}` : ''}`);
      return;
    }
    const network = await loadNetwork(path);
    use(network, path === target ? target : `${target} (${path})`);
    print(`loaded ${current!.source}: ${describeModel(current!)}; fresh weights (seed ${seed})`);
  };

  const hyperOf = (network: Network, epochs: number, trainLimit: number | null): Hyperparameters =>
    resolveHyper({ epochs, 'train-limit': trainLimit ?? undefined }, network);

  const save = async (arg: string) => {
    const c = need();
    const target = arg.trim();
    if (target === '') throw new WinnowError('usage', 'expects <file>: a .json model file, or a directory for a checkpoint with the weights');
    if (extname(target).toLowerCase() === '.json') {
      writeAtomic(target, `${JSON.stringify(modelToJSON(c.network), null, 2)}\n`);
      print(`saved model file ${target} (the architecture and training defaults; .save <dir> keeps the weights)`);
      return;
    }
    await compiled?.sync?.();
    saveCheckpoint(target, c.network, c.state, {
      hyperparameters: hyperOf(c.network, Math.max(c.run.progress.epochsDone, 1), c.run.trainLimit),
      seed,
      backend: backend.name,
      progress: { ...c.run.progress },
      rng: c.run.rng,
      metrics: [...c.run.metrics],
      interrupted: c.run.interrupted,
      ...(c.run.interrupted && c.run.partial ? { partial: c.run.partial } : {}),
    });
    print(`saved checkpoint ${target}: ${status(c)}; continue with .load ${target} or winnow train --resume ${target}`);
  };

  const set = async (arg: string) => {
    const c = need();
    const text = arg.trim();
    const space = text.search(/\s/);
    if (space < 0) throw new WinnowError('usage', 'expects <path> <value>, e.g. .set layers.1.kwta.percentOn 0.05');
    const keys = parsePath(text.slice(0, space));
    const value = parseValue(text.slice(space + 1));
    const before = jsonOf(c.network);
    const { json, dropped } = edit(before, keys, value);
    const network = decode(json);
    const was = getAt(before, keys);
    const change = `${formatPath(keys)}: ${was === undefined ? '(unset)' : JSON.stringify(was)} -> ${value === removeField ? '(unset)' : JSON.stringify(getAt(json, keys))}${dropped ? ` (in place of ${dropped})` : ''}`;
    if (architecture(json) === architecture(before)) {
      // Training defaults or the name: the IR, the compiled programs and the weights stay.
      current = { ...c, network };
      print(`${change} (no recompile: the compiled model and the weights are kept)`);
      return;
    }
    const lowered = lower(trace(network));
    await compiled?.sync?.(); // a device-resident backend brings `state` up to date first
    const { state, kept, reset } = keepState(c, { network, lowered }, seed);
    replace({ ...c, network, lowered, state });
    const total = kept.length + reset.length;
    print(
      `${change}; recompiles on next use; ${reset.length === 0 ? `kept all ${total} state tensors (weights, momentum, duty cycles)` : `kept ${kept.length} of ${total} state tensors, re-initialised ${reset.join(', ')}`}`,
    );
  };

  const summary = async (arg: string) => {
    if (arg.trim() !== '') throw new WinnowError('usage', 'takes no arguments');
    const c = need();
    print(`${c.source}: input ${formatShape(c.network.input)}, ${c.network.layers.length} layers`);
    print(summaryTable(summarize(c.lowered)));
    print(`${status(c)}; backend ${backend.name}`);
  };

  const ir = async (arg: string) => {
    if (arg.trim() !== '') throw new WinnowError('usage', 'takes no arguments');
    const c = need();
    print(trace(c.network).asText());
    print('');
    print(c.lowered.asText());
  };

  const kernels = async (arg: string) => {
    const { positionals, flags } = parseArgs(arg, { backend: 'string', batch: { test: (x) => checks.positiveInt.test(x) && x <= 65_536, rule: 'must be an integer in [1, 65536]' } });
    if (positionals.length) throw new WinnowError('usage', `takes only --backend and --batch, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
    const c = need();
    const withSources = kernelSourceBackends();
    const on = (flags.backend as string | undefined) ?? (withSources.includes(backend.name as never) ? backend.name : 'cpu');
    const batch = (flags.batch as number | undefined) ?? c.network.training?.batchSize ?? 64;
    const all = await compileAll(c.lowered, on, batch);
    for (const compiledProgram of all.compiled) {
      print(compiledProgram.asText());
      print('');
    }
    print(sourcesText(on, all.sources));
  };

  /** Runs the noise test level by level, so that an abort stops it between levels. */
  const runNoise = async (m: Classifier, set: MnistSet, noiseSeed: number, signal: AbortSignal): Promise<NoiseResult | { readonly interruptedAfter: number }> => {
    const parts: NoiseResult[] = [];
    for (const level of NOISE_LEVELS) {
      if (signal.aborted) return { interruptedAfter: parts.length };
      parts.push(await noiseTest(m, set, { seed: noiseSeed, levels: [level] }));
    }
    const correct = parts.map((p) => p.correct[0]);
    return { levels: [...NOISE_LEVELS], accuracy: parts.map((p) => p.accuracy[0]), correct, score: correct.reduce((a, b) => a + b, 0), maxScore: NOISE_LEVELS.length * set.count };
  };

  const testSet = (limit: number | undefined) => loadMnist('test', limit !== undefined ? { limit } : {});

  const trainCommand = async (arg: string, signal: AbortSignal) => {
    const { positionals, flags } = parseArgs(arg, { limit: checks.positiveInt, 'test-limit': checks.positiveInt });
    if (positionals.length > 1) throw new WinnowError('usage', `expects [epochs] [--limit N] [--test-limit N], got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
    const epochs = positionals.length ? Number(positionals[0]) : 1;
    const bad = violation(epochs, checks.positiveInt);
    if (bad !== undefined) throw new WinnowError('usage', `epochs ${bad.replace(/got NaN$/, `got ${JSON.stringify(positionals[0])}`)}`);
    const c = need();
    requireMnistClassifier(c.network);
    const limit = (flags.limit as number | undefined) ?? null;
    const testLimit = flags['test-limit'] as number | undefined;
    const run = c.run;
    // An epoch interrupted part-way counts as the first of the epochs asked for.
    const hyper = hyperOf(c.network, run.progress.epochsDone + epochs, limit);
    const m = await model();
    const live = m.sync === undefined; // its `state` is current after every step, so entropy can stream
    print(
      `training ${c.source} on ${backend.name}: epoch ${run.progress.epochsDone + 1}${epochs > 1 ? `-${hyper.epochs}` : ''}${run.progress.batchInEpoch ? ` (from batch ${run.progress.batchInEpoch + 1})` : ''}, ` +
        `${limit === null ? 'all' : thousands(limit)} images, batch ${hyper.batchSize}${hyper.firstEpochBatchSize !== hyper.batchSize ? ` (first epoch ${hyper.firstEpochBatchSize})` : ''}, lr ${hyper.lr} x${hyper.lrGamma}/epoch, momentum ${hyper.momentum}; Ctrl-C stops after the current step`,
    );
    const meta: CheckpointMeta = {
      format: runFormat,
      model: modelToJSON(c.network),
      hyperparameters: hyper,
      seed,
      backend: backend.name,
      dtype: c.state.dtype,
      progress: { ...run.progress },
      rng: run.rng,
      metrics: [...run.metrics],
      interrupted: run.interrupted,
      ...(run.partial ? { partial: run.partial } : {}),
    };
    const progress = (p: TrainProgress) => {
      const line = `${progressLine(p)}${live ? `  entropy ${entropyText(dutyCycleEntropy(c.lowered, c.state), true)}` : ''}`;
      if (options.live) options.live.update(line);
      else print(line);
    };
    const result = await train({
      network: c.network,
      hyper,
      seed,
      backend: backend.name,
      model: m,
      resume: { network: c.network, lowered: c.lowered, state: c.state, meta },
      ...(testLimit !== undefined ? { testLimit } : {}),
      signal,
      onProgress: progress,
      onEpoch: (e) => {
        options.live?.clear();
        print(`epoch ${e.epoch}/${hyper.epochs}  loss ${e.loss.toFixed(4)}  train ${pct(e.trainAccuracy)}  test ${e.testAccuracy === null ? '-' : pct(e.testAccuracy)}  ${e.seconds.toFixed(1)} s  ${e.samplesPerSecond.toFixed(0)} samples/s`);
        const entropy = dutyCycleEntropy(c.lowered, c.state);
        if (entropy.length) print(`  duty-cycle entropy: ${entropyText(entropy, false)}`);
      },
    });
    options.live?.clear();
    const { progress: p } = result;
    if (current === c) {
      current = { ...c, run: { progress: p, rng: result.rng, metrics: [...result.metrics], interrupted: result.interrupted, ...(result.partial ? { partial: result.partial } : {}), trainLimit: limit } };
    }
    if (result.interrupted) {
      const where = p.batchInEpoch ? `epoch ${p.epochsDone + 1}, after batch ${p.batchInEpoch}` : `the end of epoch ${p.epochsDone}`;
      print(`interrupted at step ${thousands(p.step)} (${where}): the weights of that step are kept; .train continues from there`);
    } else {
      print(`done: ${status(current!)}`);
    }
  };

  const noise = async (arg: string, signal: AbortSignal) => {
    const { positionals, flags } = parseArgs(arg, { limit: checks.positiveInt, seed: checks.nonNegativeInt });
    if (positionals.length) throw new WinnowError('usage', `takes only --limit and --seed, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
    const c = need();
    requireMnistClassifier(c.network);
    const set = testSet(flags.limit as number | undefined);
    const noiseSeed = (flags.seed as number | undefined) ?? 42;
    print(`noise test of ${c.source} (${status(c)}) on ${thousands(set.count)} test images, seed ${noiseSeed}, ${backend.name} backend`);
    const r = await runNoise(await model(), set, noiseSeed, signal);
    if ('interruptedAfter' in r) print(`interrupted after ${r.interruptedAfter} of ${NOISE_LEVELS.length} noise levels: no score`);
    else print(formatNoise(r));
  };

  const sweep = async (arg: string, signal: AbortSignal) => {
    const { positionals, flags } = parseArgs(arg, { limit: checks.positiveInt, 'test-limit': checks.positiveInt, epochs: checks.positiveInt });
    if (positionals.length < 2) throw new WinnowError('usage', 'expects <path> <values...> [--limit N] [--test-limit N] [--epochs N], e.g. .sweep layers.1.kwta.percentOn 0.05 0.1 0.2');
    const c = need();
    const [pathText, ...valueTexts] = positionals;
    const keys: PathKey[] = parsePath(pathText);
    const limit = (flags.limit as number | undefined) ?? 6000;
    const testLimit = (flags['test-limit'] as number | undefined) ?? 1000;
    const epochs = (flags.epochs as number | undefined) ?? 1;
    const base = jsonOf(c.network);
    // Every value is checked before anything is trained.
    const runs = valueTexts.map((text) => {
      const network = decode(edit(base, keys, parseValue(text)).json);
      requireMnistClassifier(network);
      return { text, network };
    });
    const set = testSet(testLimit);
    print(`sweeping ${formatPath(keys)} over ${valueTexts.join(', ')}: one run each from fresh weights (seed ${seed}), ${epochs} epoch${epochs === 1 ? '' : 's'} on ${thousands(limit)} images, tested on ${thousands(set.count)}, on ${backend.name}; Ctrl-C stops the sweep`);
    const rows: Array<{ text: string; accuracy: number; loss: number; noise: NoiseResult; seconds: number }> = [];
    for (const { text, network } of runs) {
      if (signal.aborted) break;
      const started = performance.now();
      const lowered = lower(trace(network));
      const m = await createModel(backend.name, lowered, initModelState(lowered, { seed, dtype: 'float32' }));
      try {
        const result = await train({
          network,
          hyper: hyperOf(network, epochs, limit),
          seed,
          backend: backend.name,
          model: m,
          testSet: set,
          signal,
          ...(options.live ? { onProgress: (p: TrainProgress) => options.live!.update(`${formatPath(keys)} = ${text}: ${progressLine(p)}`) } : {}),
        });
        options.live?.clear();
        if (result.interrupted) break;
        const last = result.metrics[result.metrics.length - 1];
        const n = await runNoise(m, set, 42, signal);
        if ('interruptedAfter' in n) break;
        const row = { text, accuracy: last.testAccuracy ?? 0, loss: last.loss, noise: n, seconds: (performance.now() - started) / 1000 };
        rows.push(row);
        print(`${formatPath(keys)} = ${text}: test accuracy ${pct(row.accuracy)}, noise score ${thousands(n.score)} of ${thousands(n.maxScore)}, ${row.seconds.toFixed(1)} s`);
      } finally {
        m.dispose?.();
      }
    }
    options.live?.clear();
    if (rows.length < runs.length) print(`interrupted: ${rows.length} of ${runs.length} runs done`);
    if (rows.length === 0) return;
    const setting = String(keys[keys.length - 1]);
    print('');
    print(
      formatTable(
        [setting, 'test accuracy', 'noise score', 'of max', 'train loss', 'seconds'],
        rows.map((r) => [r.text, pct(r.accuracy), thousands(r.noise.score), pct(r.noise.score / r.noise.maxScore), r.loss.toFixed(4), r.seconds.toFixed(1)]),
      ),
    );
    print('');
    print(
      lineChart(
        rows.map((r) => r.text),
        [
          { name: 'test accuracy', values: rows.map((r) => r.accuracy) },
          { name: 'noise score (% of max)', values: rows.map((r) => r.noise.score / r.noise.maxScore) },
        ],
        { format: (v) => `${(v * 100).toFixed(1)}%`, ascii: options.ascii === true, xTitle: formatPath(keys) },
      ),
    );
  };

  const setBackend = async (arg: string) => {
    const name = arg.trim();
    if (name === '') {
      print(`backend: ${backend.name} (${backend.why}); names: ${backendNames.join(', ')}`);
      return;
    }
    if (/\s/.test(name)) throw new WinnowError('usage', `expects one backend name (${backendNames.join(', ')}), got ${JSON.stringify(name)}`);
    const next = await resolveBackend(name);
    dropModel();
    backend = next;
    print(`backend: ${backend.name} (${backend.why})${current ? '; the model compiles for it on next use, weights kept' : ''}`);
  };

  return {
    current: () => current,
    backend: () => backend,
    seed: () => seed,
    model,
    use,
    load,
    save,
    set,
    summary,
    ir,
    kernels,
    train: trainCommand,
    noise,
    sweep,
    setBackend,
    dispose: dropModel,
  };
};
