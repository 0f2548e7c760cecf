/**
 * `winnow build <model> -o <file.mjs> [--backend cpu|gpujs:<mode>] [--inference-only] [--batch N] [--seed N]`:
 * the ahead-of-time step. Compiles a model (with a checkpoint's weights, or fresh ones from
 * --seed) into one standalone ES module (runtime/aot/build.ts), written atomically.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { lower, trace } from '../../compiler/index.ts';
import { checks } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { buildBackends, buildStandalone, type BuildBackend } from '../aot/build.ts';
import { backendNames } from '../backends.ts';
import { loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { isCheckpointDir } from '../checkpoint/store.ts';
import { loadNetwork } from '../load-model.ts';
import { initModelState, type ModelState } from '../model-state.ts';
import { Rng } from '../rng.ts';
import { parseCommand, type CommandSpec } from './args.ts';

/** Flags of `build`. */
export const buildSpec: CommandSpec = {
  name: 'build',
  // <model>: a .json model file, a .ts/.js module exporting a network, or a checkpoint directory (its weights are built in)
  positionals: ['model'],
  flags: {
    out: { type: 'string', short: 'o', help: 'the ES module to write (.mjs or .js; required)' },
    backend: { type: 'string', choices: backendNames, help: 'what the module runs on: cpu (the default), or gpujs:webgpu, gpujs:webgl2, gpujs:headlessgl, gpujs:webasm, gpujs:cpu (the module then imports gpu.js where it runs)' },
    'inference-only': { type: 'bool', help: 'predict only: leave out the training programs, momentum and masks' },
    batch: { type: 'number', check: checks.positiveInt, help: 'batch size the programs are compiled for (default 64); predict takes any count, trainStep exactly this' },
    seed: { type: 'number', check: checks.nonNegativeInt, help: 'seed of fresh weights and of the training stream (default 1; not with a checkpoint)' },
  },
};

/** Checks `--out` before anything is compiled, so a bad path fails at once. */
const checkOut = (out: string | undefined): string => {
  if (out === undefined || out === '') throw new WinnowError('usage', '--out is required: the module to write, e.g. -o model.mjs');
  if (out.endsWith('/') || (existsSync(out) && statSync(out).isDirectory())) throw new WinnowError('usage', `--out ${out} is a directory; name the module file, e.g. ${out.replace(/\/$/, '')}/model.mjs`);
  const ext = extname(out).toLowerCase();
  if (ext !== '.mjs' && ext !== '.js') throw new WinnowError('usage', `--out must name a .mjs or .js file (an ES module), got ${JSON.stringify(out)}`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new WinnowError('usage', `--out ${out}: directory ${dirname(out)} does not exist`);
  return out;
};

/** Writes `text` to `path` atomically: a temporary file next to it, then a rename. */
const writeAtomically = (path: string, text: string): void => {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new WinnowError('usage', `--out ${path}: cannot write: ${(e as Error).message.split('\n')[0]}`);
  }
};

/** Runs `build`. */
export const buildCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void, err: (s: string) => void): Promise<number> => {
  const { flags, positionals } = parseCommand(buildSpec, argv);
  const given = (flags.backend as string | undefined) ?? 'cpu';
  if (!(buildBackends as ReadonlyArray<string>).includes(given)) {
    throw new WinnowError('usage', `--backend ${given} cannot be built into a module: winnow build supports --backend ${buildBackends.join(', ')}`);
  }
  const backend = given as BuildBackend;
  const outPath = checkOut(flags.out as string | undefined);
  const batch = (flags.batch as number | undefined) ?? 64;
  const inferenceOnly = flags['inference-only'] === true;
  const modelPath = positionals.model;

  let lowered;
  let state: ModelState;
  let rng: [number, number, number, number];
  let from: string;
  if (existsSync(modelPath) && statSync(modelPath).isDirectory() && isCheckpointDir(modelPath)) {
    if (flags.seed !== undefined) throw new WinnowError('usage', `--seed sets fresh weights; ${modelPath} is a checkpoint, whose weights and random stream are built in`);
    const run = loadCheckpoint(modelPath);
    lowered = run.lowered;
    state = run.state;
    rng = [...run.meta.rng.dropout] as [number, number, number, number];
    from = `checkpoint ${basename(resolve(modelPath))} (epoch ${run.meta.progress.epochsDone}, seed ${run.meta.seed})`;
    if (state.dtype !== 'float32') err(`note: ${modelPath} holds float64 weights; the module computes in float32 and stores them rounded`);
  } else {
    const network = await loadNetwork(modelPath);
    lowered = lower(trace(network));
    const seed = (flags.seed as number | undefined) ?? 1;
    state = initModelState(lowered, { seed, dtype: 'float32' });
    rng = Rng.fromSeed(seed, 2).state();
    from = `${basename(modelPath)}, fresh weights (seed ${seed})`;
  }
  const network = lowered.network;
  if (!inferenceOnly && network.last !== 'softmaxCrossEntropy') {
    throw new WinnowError('usage', 'the model has no softmaxCrossEntropy head, so it cannot train: build it with --inference-only');
  }
  const name = network.name ?? basename(modelPath, extname(modelPath));
  const text = await buildStandalone(lowered, state, { name, batch, inferenceOnly, rng, backend, note: `built from ${from}, ${backend}, batch ${batch}` });
  writeAtomically(outPath, text);
  const mb = (Buffer.byteLength(text) / 1e6).toFixed(1);
  out(`wrote ${outPath} (${mb} MB): ${name} from ${from}, ${backend}, batch ${batch}, ${inferenceOnly ? 'inference only' : 'inference and training'}`);
  return 0;
};
