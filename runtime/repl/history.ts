/**
 * The history file of `winnow repl`: one entry per line, oldest first, appended as lines are
 * entered, so it survives between sessions (and a crash). Where it lives: `$WINNOW_REPL_HISTORY`
 * when set (empty: no history), else `$XDG_STATE_HOME/winnow/repl_history`, else
 * `~/.local/state/winnow/repl_history`.
 *
 * @example
 * import { historyFile, readHistory, appendHistory } from 'winnow/runtime/repl/history';
 * const file = historyFile(); // '/home/me/.local/state/winnow/repl_history'
 * appendHistory(file!, '.load sparse-mlp');
 * readHistory(file!, 1000); // ['.load sparse-mlp', ...] (newest first, as readline wants)
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The history file for `env`, or undefined when history is off. */
export const historyFile = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const explicit = env.WINNOW_REPL_HISTORY;
  if (explicit !== undefined) return explicit.trim() === '' ? undefined : explicit;
  const state = env.XDG_STATE_HOME && env.XDG_STATE_HOME.trim() !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(state, 'winnow', 'repl_history');
};

/**
 * The last `max` entries, newest first. A file grown past twice `max` is trimmed to its last
 * `max` entries. A missing file is an empty history.
 */
export const readHistory = (file: string, max: number): string[] => {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length > 2 * max) writeFileSync(file, `${lines.slice(-max).join('\n')}\n`, { mode: 0o600 });
  return lines.slice(-max).reverse();
};

/** Appends one entry (creating the file and its directory, private to the user). */
export const appendHistory = (file: string, line: string): void => {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${line.replace(/[\r\n]+/g, ' ')}\n`, { mode: 0o600 });
};
