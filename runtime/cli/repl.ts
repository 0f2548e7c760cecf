/**
 * `winnow repl [model] [--backend B] [--seed S] [--ascii]`: the interactive session of
 * runtime/repl/repl.ts on this terminal (or on piped input: `winnow repl < script.txt`).
 */
import { checks } from '../../dsl/checks.ts';
import { backendNames } from '../backends.ts';
import { startRepl } from '../repl/repl.ts';
import { parseCommand, type CommandSpec } from './args.ts';

/** Flags of `repl`. */
export const replSpec: CommandSpec = {
  name: 'repl',
  positionals: ['model?'],
  flags: {
    backend: { type: 'string', choices: backendNames, help: `execution backend: ${backendNames.join(', ')} (default auto); .backend changes it` },
    seed: { type: 'number', check: checks.nonNegativeInt, help: 'seed of fresh weights, shuffles and dropout (default 1)' },
    ascii: { type: 'bool', help: 'ASCII-only charts (default: Unicode on a terminal)' },
  },
};

/** Runs `repl` until it is closed (.exit, Ctrl-D, end of input). */
export const replCommand = async (argv: ReadonlyArray<string>): Promise<number> => {
  const { flags, positionals } = parseCommand(replSpec, argv);
  const r = await startRepl({
    ...(flags.backend !== undefined ? { backend: flags.backend as string } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
    ...(positionals.model !== undefined ? { model: positionals.model } : {}),
    ...(flags.ascii ? { ascii: true } : {}),
    terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
    processSigint: true,
  });
  await r.closed;
  return 0;
};
