/**
 * Strict command-line flags: node's `util.parseArgs` for the syntax, then a typed check of every
 * value. Any problem is one `WinnowError('usage')` line naming the flag, e.g.
 * `winnow train: --epochs must be a positive integer, got "abc"`.
 */
import { parseArgs } from 'node:util';
import { violation, type Check } from '../../dsl/checks.ts';
import { WinnowError } from '../../dsl/errors.ts';

/** A flag's type (`short`: a one-letter alias, e.g. `o` for `-o`). */
export type FlagSpec = (
  | { readonly type: 'bool'; readonly help: string }
  | { readonly type: 'string'; readonly help: string; readonly choices?: ReadonlyArray<string> }
  | { readonly type: 'number'; readonly help: string; readonly check: Check }
) & { readonly short?: string };

/** A command's flags and positionals. */
export interface CommandSpec {
  readonly name: string;
  readonly positionals: ReadonlyArray<string>;
  readonly flags: Readonly<Record<string, FlagSpec>>;
}

/** Parsed values: flags by name (absent when not given) and positionals by name (a name ending in `?` is optional). */
export interface Parsed {
  readonly flags: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly positionals: Readonly<Record<string, string>>;
}

/** Parses `argv` against `spec`, or throws a one-line usage error. */
export const parseCommand = (spec: CommandSpec, argv: ReadonlyArray<string>): Parsed => {
  let raw: ReturnType<typeof parseArgs>;
  try {
    raw = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(Object.entries(spec.flags).map(([name, f]) => [name, { type: f.type === 'bool' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) }])),
    });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s+/g, ' ').trim();
    throw new WinnowError('usage', `${msg}`);
  }
  const required = spec.positionals.filter((p) => !p.endsWith('?')).length;
  if (raw.positionals.length < required || raw.positionals.length > spec.positionals.length) {
    const want = spec.positionals.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ');
    throw new WinnowError('usage', `expects ${want || 'no arguments'}, got ${raw.positionals.length ? raw.positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'}`);
  }
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const v = raw.values[name];
    if (v === undefined) continue;
    if (f.type === 'bool') flags[name] = v as boolean;
    else if (f.type === 'string') {
      if (f.choices && !f.choices.includes(v as string)) {
        throw new WinnowError('usage', `--${name} must be one of ${f.choices.join(', ')}, got ${JSON.stringify(v)}`);
      }
      flags[name] = v as string;
    } else {
      const text = v as string;
      const x = text.trim() === '' ? NaN : Number(text);
      const problem = violation(Number.isNaN(x) ? text : x, f.check);
      if (problem !== undefined) throw new WinnowError('usage', `--${name} ${problem}`);
      flags[name] = x;
    }
  }
  const positionals: Record<string, string> = {};
  spec.positionals.forEach((p, i) => {
    if (raw.positionals[i] !== undefined) positionals[p.replace(/\?$/, '')] = raw.positionals[i];
  });
  return { flags, positionals };
};

/** Usage text of a command. */
export const usage = (spec: CommandSpec): string =>
  [
    `usage: winnow ${spec.name} ${spec.positionals.map((p) => (p.endsWith('?') ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(' ')} [flags]`,
    ...Object.entries(spec.flags).map(([n, f]) => `  ${f.short ? `-${f.short}, ` : ''}--${n}${f.type === 'bool' ? '' : ' <value>'}`.padEnd(28) + f.help),
  ].join('\n');

