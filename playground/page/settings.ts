/**
 * The training settings form: its fields, their defaults (the model file's `training` section
 * where it has one, as `winnow train` uses them), and reading the form's text into
 * `RunSettings` with a one-line message naming the field for a bad value.
 *
 * @example
 * import { readSettings, settingFields } from './settings.ts';
 * const values = Object.fromEntries(settingFields.map((f) => [f.id, String(f.fallback)]));
 * readSettings(values, 'cpu', { train: 6000, test: 1000 }); // { ok: true, settings: { backend: 'cpu', epochs: 1, ... } }
 */
import type { TrainingDefaults } from '../../dsl/network.ts';
import type { RunSettings } from './training-run.ts';

type FieldId = Exclude<keyof RunSettings, 'backend'>;

/** One field of the form. */
export interface SettingField {
  readonly id: FieldId;
  readonly label: string;
  readonly kind: 'integer' | 'number' | 'boolean';
  /** The value when the model file says nothing (train/test images: the whole bundled subset). */
  readonly fallback: number | boolean;
  /** The rule, checked by `readSettings`, and said in its message. */
  readonly rule: string;
  readonly test: (v: number, limits: SubsetSize) => boolean;
}

/** How many images the page bundles. */
export interface SubsetSize {
  readonly train: number;
  readonly test: number;
}

const int = (lo: number, hi: number) => (v: number) => Number.isInteger(v) && v >= lo && v <= hi;

/** The form's fields, in order. */
export const settingFields: ReadonlyArray<SettingField> = [
  { id: 'trainImages', label: 'training images', kind: 'integer', fallback: 6000, rule: 'an integer from 1 to the bundled count', test: (v, l) => int(1, l.train)(v) },
  { id: 'testImages', label: 'test images', kind: 'integer', fallback: 1000, rule: 'an integer from 1 to the bundled count', test: (v, l) => int(1, l.test)(v) },
  { id: 'epochs', label: 'epochs', kind: 'integer', fallback: 1, rule: 'an integer from 1 to 100', test: int(1, 100) },
  { id: 'batchSize', label: 'batch size', kind: 'integer', fallback: 64, rule: 'an integer from 1 to 1024', test: int(1, 1024) },
  { id: 'lr', label: 'learning rate', kind: 'number', fallback: 0.03, rule: 'a number > 0', test: (v) => v > 0 },
  { id: 'lrGamma', label: 'lr x per epoch', kind: 'number', fallback: 0.8, rule: 'a number in (0, 1]', test: (v) => v > 0 && v <= 1 },
  { id: 'momentum', label: 'momentum', kind: 'number', fallback: 0.9, rule: 'a number in [0, 1)', test: (v) => v >= 0 && v < 1 },
  { id: 'weightDecay', label: 'weight decay', kind: 'number', fallback: 0, rule: 'a number >= 0', test: (v) => v >= 0 },
  { id: 'evalEvery', label: 'test every N steps', kind: 'integer', fallback: 20, rule: 'an integer >= 0 (0: after each epoch only)', test: int(0, 1e9) },
  { id: 'seed', label: 'seed', kind: 'integer', fallback: 1, rule: 'an integer from 0 to 2^31 - 1', test: int(0, 2 ** 31 - 1) },
  { id: 'noise', label: 'noise test after training', kind: 'boolean', fallback: true, rule: 'on or off', test: () => true },
];

/** The values a model file's `training` section sets (the others keep what the form has). */
export const trainingValues = (training: TrainingDefaults | undefined): Partial<Record<FieldId, number>> => {
  const t = training ?? {};
  const out: Partial<Record<FieldId, number>> = {};
  for (const key of ['epochs', 'batchSize', 'lr', 'lrGamma', 'momentum', 'weightDecay'] as const) if (t[key] !== undefined) out[key] = t[key];
  return out;
};

/** Reads the form (field id -> text, or a boolean for check boxes) into settings, or the first problem in one line. */
export const readSettings = (
  values: Readonly<Record<string, string | boolean>>,
  backend: string,
  limits: SubsetSize,
): { readonly ok: true; readonly settings: RunSettings } | { readonly ok: false; readonly problem: string } => {
  const out: Record<string, number | boolean | string> = { backend };
  for (const f of settingFields) {
    const raw = values[f.id];
    if (f.kind === 'boolean') {
      out[f.id] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    const v = text === '' ? NaN : Number(text);
    if (!Number.isFinite(v) || !f.test(v, limits)) {
      const bound = f.id === 'trainImages' ? ` (${limits.train} bundled)` : f.id === 'testImages' ? ` (${limits.test} bundled)` : '';
      return { ok: false, problem: `${f.label}: must be ${f.rule}${bound}, got ${text === '' ? 'nothing' : JSON.stringify(text)}` };
    }
    out[f.id] = v;
  }
  return { ok: true, settings: out as unknown as RunSettings };
};
