/**
 * The `winnow` command line: dispatches to a command; a `WinnowError` (bad input) prints one line
 * and exits 2; anything else is a bug and prints its stack.
 */
import { isWinnowError } from '../../dsl/errors.ts';
import { buildCommand, buildSpec } from './build.ts';
import { benchCommand, benchSpec } from './bench.ts';
import { evalCommand, evalSpec } from './eval.ts';
import { experimentCommand, experimentSpec } from './experiment.ts';
import { inspectCommand, inspectSpec } from './inspect.ts';
import { replCommand, replSpec } from './repl.ts';
import { trainCommand, trainSpec } from './train.ts';
import { usage, type CommandSpec } from './args.ts';

type Command = {
  readonly spec: CommandSpec;
  readonly run: (argv: ReadonlyArray<string>, out: (s: string) => void, err: (s: string) => void) => Promise<number>;
  readonly summary: string;
};

const commands: Readonly<Record<string, Command>> = {
  inspect: { spec: inspectSpec, run: inspectCommand, summary: 'show a model layer by layer (params, k, boost, IR, generated kernels)' },
  train: { spec: trainSpec, run: trainCommand, summary: 'train a model on MNIST, with checkpoints' },
  eval: { spec: evalSpec, run: evalCommand, summary: 'test accuracy, confusion matrix and noise score of a checkpoint' },
  build: { spec: buildSpec, run: buildCommand, summary: 'compile a model (and its weights) into one standalone ES module' },
  bench: { spec: benchSpec, run: benchCommand, summary: 'training and inference samples/s per backend on MNIST' },
  experiment: { spec: experimentSpec, run: experimentCommand, summary: 'paper-mnist: train the paper\'s CNNs for N seeds, noise-test them, write an HTML report' },
  repl: { spec: replSpec, run: replCommand, summary: 'interactive session: the DSL and runtime in scope, .load/.set/.train/.noise/.sweep' },
};

const help = (): string =>
  [
    'winnow: sparse neural networks (k-winners, boosting, sparse weights)',
    '',
    'commands:',
    ...Object.entries(commands).map(([n, c]) => `  ${n.padEnd(10)} ${c.summary}`),
    '',
    'winnow <command> --help for its flags',
  ].join('\n');

/** Runs the CLI with `argv` (without `node` and the script); resolves to the exit code. */
export const main = async (argv: ReadonlyArray<string>, out: (s: string) => void = (s) => process.stdout.write(`${s}\n`), err: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    err(`winnow: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(commands).join(', ')})`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(usage(command.spec));
    return 0;
  }
  try {
    return await command.run(rest, out, err);
  } catch (e) {
    if (isWinnowError(e)) {
      err(`winnow ${name}: ${e.message}`);
      return 2;
    }
    err(`winnow ${name}: internal error (please report): ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
};
