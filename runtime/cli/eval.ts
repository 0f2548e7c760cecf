/**
 * `winnow eval <checkpoint-dir> [--noise] [--json]`: test accuracy and confusion matrix, and the
 * paper's noise test.
 */
import { checks } from '../../dsl/checks.ts';
import { createModel } from '../backend.ts';
import { loadCheckpoint } from '../checkpoint/checkpoint.ts';
import { evaluate, noiseTest, type NoiseResult } from '../evaluate.ts';
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
    backend: { type: 'string', help: 'execution backend (default: the one it was trained on)' },
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
  const model = createModel((flags.backend as string | undefined) ?? run.meta.backend, run.lowered, run.state);
  const test = loadMnist('test', flags['test-limit'] !== undefined ? { limit: flags['test-limit'] as number } : {});
  const result = evaluate(model, test);
  const noise = flags.noise ? noiseTest(model, test, { seed: (flags['noise-seed'] as number | undefined) ?? 42 }) : undefined;
  if (flags.json) {
    out(JSON.stringify({
      accuracy: result.accuracy,
      correct: result.correct,
      total: result.total,
      confusion: result.confusion,
      ...(noise ? { noise: { levels: noise.levels, accuracy: noise.accuracy, correct: noise.correct, score: noise.score } } : {}),
    }));
    return 0;
  }
  out(`${positionals['checkpoint-dir']}: epoch ${run.meta.progress.epochsDone}${run.meta.interrupted ? ' (interrupted mid-epoch)' : ''}, ${model.backend} backend`);
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
