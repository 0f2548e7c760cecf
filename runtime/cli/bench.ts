/**
 * `winnow bench [--backend B[,B...]] [--model M] [--steps N] [--repetitions N] [--out FILE] [--json]`:
 * training-step (batch 64) and inference (batch 1000) samples/s of a model on MNIST, per backend,
 * and the cpu/reference ratio. With `--profile`: one cpu training step kernel by kernel
 * (runtime/profile.ts). (`npm run bench`, bench/compare.ts, compares winnow with TensorFlow.js.)
 */
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checks } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';
import { backendNames } from '../backends.ts';
import { defaultPlans, runBench, type BenchResult } from '../bench.ts';
import { profileTraining, type ProfileResult } from '../profile.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { formatTable, thousands } from './table.ts';

const concrete = backendNames.filter((n) => n !== 'auto');

/** Flags of `bench`. */
export const benchSpec: CommandSpec = {
  name: 'bench',
  positionals: [],
  flags: {
    backend: { type: 'string', help: `backends to measure, comma-separated: ${concrete.join(', ')} (default reference, cpu, and gpujs:webasm when this build has it)` },
    model: { type: 'string', help: 'model file or module (default examples/models/dense-mlp.json, the 784-1000-1000-10 MLP)' },
    steps: { type: 'number', check: checks.positiveInt, help: `training steps per timed run (default ${defaultPlans.fast.steps}; ${defaultPlans.slow.steps} on reference, gpujs:webasm and gpujs:cpu)` },
    repetitions: { type: 'number', check: checks.positiveInt, help: `timed runs per backend; the median is reported (default ${defaultPlans.fast.repetitions}; ${defaultPlans.slow.repetitions} on the slow backends)` },
    out: { type: 'string', help: 'also write the results as JSON to this file' },
    json: { type: 'bool', help: 'print one JSON object instead of the table' },
    profile: { type: 'bool', help: 'time a cpu training step kernel by kernel (--steps steps, default 20) instead: where the time goes' },
  },
};

/** The default model, found from this file (src or dist) so the command works from any directory. */
const defaultModel = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'examples', 'models', 'dense-mlp.json');
    if (existsSync(file)) {
      const rel = relative(process.cwd(), file);
      return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
    }
    const up = dirname(dir);
    if (up === dir) return join('examples', 'models', 'dense-mlp.json');
    dir = up;
  }
};

/** Fails at once (not after minutes of measuring) when `file` cannot be written. */
const checkWritable = (file: string): void => {
  try {
    mkdirSync(dirname(file), { recursive: true });
    accessSync(dirname(file), constants.W_OK);
    if (existsSync(file) && statSync(file).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (e) {
    throw new WinnowError('usage', `--out ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
};

const speed = (x: number): string => thousands(Math.round(x));

/** The results as a table and a few lines. */
export const benchTable = (r: BenchResult): string => {
  const ref = r.results.find((b) => b.backend === 'reference' && 'train' in b);
  const refTrain = ref && 'train' in ref ? ref.train.samplesPerSecond : undefined;
  const rows = r.results.map((b) =>
    'train' in b
      ? [
          b.backend,
          speed(b.train.samplesPerSecond),
          `${speed(Math.min(...b.train.runs))}-${speed(Math.max(...b.train.runs))}`,
          `${b.train.repetitions} x ${b.train.calls}`,
          speed(b.inference.samplesPerSecond),
          refTrain ? `${(b.train.samplesPerSecond / refTrain).toFixed(2)}x` : '-',
        ]
      : [b.backend, '-', '-', '-', '-', `skipped: ${b.skipped}`],
  );
  const first = r.results.find((b) => 'train' in b);
  const trainBatch = first && 'train' in first ? first.train.batch : 64;
  const inferBatch = first && 'train' in first ? first.inference.batch : 1000;
  return [
    `${r.model} on MNIST; node ${r.node}, ${r.platform}, os.cpus().length = ${r.cpus} (${r.cpuModel})`,
    formatTable(['backend', `train samples/s (batch ${trainBatch}, median)`, 'train range', 'runs x steps', `inference samples/s (batch ${inferBatch})`, 'train vs reference'], rows),
    ...(r.ratio ? [`cpu / reference: training ${r.ratio.train.toFixed(2)}x, inference ${r.ratio.inference.toFixed(2)}x`] : []),
    `${r.seconds.toFixed(1)} s in all`,
  ].join('\n');
};

/** A profile as a table: kernels by time, most first, then the host's share and the step. */
export const profileTable = (p: ProfileResult): string => {
  const ms = (x: number) => x.toFixed(3);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  let cumulative = 0;
  const rows = [...p.kernels].sort((a, b) => b.meanMs - a.meanMs).map((k) => {
    cumulative += k.share;
    return [k.name, k.ops, ms(k.meanMs), ms(k.minMs), pct(k.share), pct(cumulative)];
  });
  return [
    `profile of one cpu training step: ${p.model}, batch ${p.batch}, ${p.threads} thread${p.threads === 1 ? '' : 's'}, ${p.steps} steps after ${p.warmup} warm-up (wall milliseconds; other load on the machine moves every number)`,
    ...p.forms.map((f) => `form: ${f}`),
    formatTable(['kernel', 'ops', 'ms/step', 'min ms', 'share', 'cumulative'], rows),
    `host inputs ${ms(p.hostMs)} ms, copy-backs ${ms(p.copyMs)} ms; step ${ms(p.stepMs)} ms = ${speed(p.samplesPerSecond)} samples/s`,
  ].join('\n');
};

/** Runs `bench`. */
export const benchCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void, err: (s: string) => void): Promise<number> => {
  const { flags } = parseCommand(benchSpec, argv);
  if (flags.profile) {
    if (flags.backend !== undefined && flags.backend !== 'cpu') throw new WinnowError('usage', `--profile times the cpu backend's kernels; --backend ${flags.backend as string} is not cpu`);
    if (flags.repetitions !== undefined) throw new WinnowError('usage', '--repetitions does not apply with --profile (use --steps)');
    if (flags.out !== undefined) checkWritable(flags.out as string);
    const p = await profileTraining({ model: (flags.model as string | undefined) ?? defaultModel(), ...(flags.steps !== undefined ? { steps: flags.steps as number } : {}) });
    if (flags.out !== undefined) writeFileSync(flags.out as string, `${JSON.stringify(p, null, 2)}\n`);
    out(flags.json ? JSON.stringify(p, null, 2) : profileTable(p));
    return 0;
  }
  let backends: string[] | undefined;
  if (flags.backend !== undefined) {
    backends = (flags.backend as string).split(',').map((b) => b.trim());
    const bad = backends.find((b) => !(concrete as ReadonlyArray<string>).includes(b));
    if (bad !== undefined) throw new WinnowError('usage', `--backend must be a comma-separated list of ${concrete.join(', ')}, got ${JSON.stringify(bad)}`);
    if (new Set(backends).size !== backends.length) throw new WinnowError('usage', `--backend names a backend twice: ${JSON.stringify(flags.backend)}`);
  }
  const json = flags.json === true;
  if (flags.out !== undefined) checkWritable(flags.out as string);
  const result = await runBench({
    model: (flags.model as string | undefined) ?? defaultModel(),
    ...(backends ? { backends } : {}),
    ...(flags.steps !== undefined ? { steps: flags.steps as number } : {}),
    ...(flags.repetitions !== undefined ? { repetitions: flags.repetitions as number } : {}),
    log: (line) => err(line),
  });
  if (flags.out !== undefined) {
    const file = flags.out as string;
    try {
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    } catch (e) {
      throw new WinnowError('usage', `--out ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  out(json ? JSON.stringify(result, null, 2) : benchTable(result));
  return 0;
};
