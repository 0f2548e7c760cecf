/**
 * The numeric rules that layer settings obey, shared by the DSL combinators and the model-file
 * codecs so that both report the same rule in the same words.
 *
 * @example
 * import { checks, requireValid } from 'winnow/dsl/checks';
 * requireValid('dense: units', 700, checks.positiveInt); // ok
 * // requireValid('dense: units', 0, checks.positiveInt) throws "dense: units: must be a positive integer, got 0"
 */
import { WinnowError } from './errors.ts';

/** A named numeric rule. */
export interface Check {
  readonly test: (x: number) => boolean;
  /** How the rule reads in an error: "must be ...". */
  readonly rule: string;
}

const finite = (x: number): boolean => typeof x === 'number' && Number.isFinite(x);

/** Every rule a number in a model may have to obey. */
export const checks = {
  positiveInt: { test: (x) => Number.isInteger(x) && x > 0, rule: 'must be a positive integer' },
  nonNegativeInt: { test: (x) => Number.isInteger(x) && x >= 0, rule: 'must be a non-negative integer' },
  activationDensity: { test: (x) => finite(x) && x > 0 && x < 1, rule: 'must be in (0, 1)' },
  weightDensity: { test: (x) => finite(x) && x > 0 && x <= 1, rule: 'must be in (0, 1]' },
  rate: { test: (x) => finite(x) && x >= 0 && x < 1, rule: 'must be in [0, 1)' },
  unitClosed: { test: (x) => finite(x) && x >= 0 && x <= 1, rule: 'must be in [0, 1]' },
  unitHalfOpen: { test: (x) => finite(x) && x > 0 && x <= 1, rule: 'must be in (0, 1]' },
  nonNegative: { test: (x) => finite(x) && x >= 0, rule: 'must be a finite number >= 0' },
  positive: { test: (x) => finite(x) && x > 0, rule: 'must be a finite number > 0' },
  atLeastOne: { test: (x) => finite(x) && x >= 1, rule: 'must be a finite number >= 1' },
  momentum: { test: (x) => finite(x) && x >= 0 && x < 1, rule: 'must be in [0, 1)' },
} as const satisfies Record<string, Check>;

/** `"must be in (0, 1), got 1.2"` or undefined when `x` obeys `check`. */
export const violation = (x: unknown, check: Check): string | undefined =>
  typeof x === 'number' && check.test(x) ? undefined : `${check.rule}, got ${showValue(x)}`;

/** A value as it reads in an error: JSON, numbers as written (NaN, Infinity), long text cut. */
export const showValue = (u: unknown): string => {
  if (u === undefined) return 'nothing';
  if (typeof u === 'number') return String(u);
  const s = JSON.stringify(u);
  return s === undefined ? String(u) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** Throws a `WinnowError('model', "<where>: <rule>, got <x>")` unless `x` obeys `check`. */
export const requireValid = (where: string, x: number, check: Check): number => {
  const v = violation(x, check);
  if (v !== undefined) throw new WinnowError('model', `${where}: ${v}`);
  return x;
};
