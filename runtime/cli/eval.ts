/**
 * `winnow eval <checkpoint-dir> [--noise] [--json] [--backend <name>]`: test accuracy and
 * confusion matrix, and the paper's noise test. Checkpoints are backend-neutral: the backend is
 * chosen here (default auto), not taken from the checkpoint.
 */
import { checks } from '../../dsl/checks.ts';
import { backendNames, createModel, resolveBackend } from '../backends.ts';
import { loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { evaluate, noiseTest, type EvalResult, type NoiseResult } from '../evaluate.ts';
import { loadMnist } from '../mnist.ts';
import { parseCommand, type CommandSpec } from './args.ts';
import { formatTable, thousands } from './table.ts';

/** Flags of `eval`. */
export const evalSpec: CommandSpec = {
  name: 'eval',
  positionals: ['checkpoint-dir'],
  flags: {
    noise: { type: 'bool', help: 'run the noise test (11 levels, noise score)' },
    json: { type: 'bool', help: 'print one JSON object' },
    backend: { type: 'string', choices: backendNames, help: `execution backend: ${backendNames.join(', ')} (default auto: WebGPU on a hardware adapter, else cpu, else reference)` },
    'test-limit': { type: 'number', check: checks.positiveInt, help: 'evaluate on the first N test images only' },
    'noise-seed': { type: 'number', check: checks.nonNegativeInt, help: 'seed of the noise pixels (default 42)' },
  },
};

/** The noise table as text. */
export const formatNoise = (n: NoiseResult): string =>
  [
    formatTable(['noise', 'pixels', 'accuracy', 'correct'], n.levels.map((l, i) => [l.toFixed(2), String(Math.floor(784 * l + 1e-9)), `${(n.accuracy[i] * 100).toFixed(2)}%`, thousands(n.correct[i])])),
    `noise score: ${thousands(n.score)} of ${thousands(n.maxScore)}`,
  ].join('\n');

/** Runs `eval`. */
export const evalCommand = async (argv: ReadonlyArray<string>, out: (s: string) => void): Promise<number> => {
  const { flags, positionals } = parseCommand(evalSpec, argv);
  const run = loadCheckpoint(positionals['checkpoint-dir']);
  const backend = await resolveBackend((flags.backend as string | undefined) ?? 'auto');
  const test = loadMnist('test', flags['test-limit'] !== undefined ? { limit: flags['test-limit'] as number } : {});
  const model = await createModel(backend.name, run.lowered, run.state);
  let result: EvalResult;
  let noise: NoiseResult | undefined;
  try {
    result = await evaluate(model, test);
    noise = flags.noise ? await noiseTest(model, test, { seed: (flags['noise-seed'] as number | undefined) ?? 42 }) : undefined;
  } finally {
    model.dispose?.();
  }
  if (flags.json) {
    out(JSON.stringify({
      backend: { name: backend.name, why: backend.why },
      accuracy: result.accuracy,
      correct: result.correct,
      total: result.total,
      confusion: result.confusion,
      ...(noise ? { noise: { levels: noise.levels, accuracy: noise.accuracy, correct: noise.correct, score: noise.score } } : {}),
    }));
    return 0;
  }
  out(`${positionals['checkpoint-dir']}: epoch ${run.meta.progress.epochsDone}${run.meta.interrupted ? ' (interrupted mid-epoch)' : ''}, ${backend.name} backend (${backend.why})`);
  out(`test accuracy: ${(result.accuracy * 100).toFixed(2)}% (${thousands(result.correct)} of ${thousands(result.total)})`);
  out('');
  out('confusion matrix (rows: true digit, columns: predicted)');
  out(formatTable(['', ...result.confusion.map((_, c) => String(c))], result.confusion.map((row, r) => [String(r), ...row.map(String)])));
  if (noise) {
    out('');
    out(formatNoise(noise));
  }
  return 0;
};
