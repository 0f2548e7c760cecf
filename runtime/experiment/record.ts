/**
 * The result of one experiment run (one network, one seed) as a JSON file: settings, per-epoch
 * metrics, the final and best-epoch test accuracy, the noise test, the k-winners layers'
 * duty-cycle statistics and timings. Written atomically (temporary file, fsync, rename), so a run
 * has a complete record or none; read back with every field checked (io-ts), so a report is never
 * built from a truncated or foreign file.
 *
 * @example
 * import { readRunRecord, writeRunRecord } from 'winnow/runtime/experiment/record';
 * // writeRunRecord('runs/paper-mnist/runs/sparse-cnn2-seed1.json', record);
 * // const again = readRunRecord('runs/paper-mnist/runs/sparse-cnn2-seed1.json');
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { WinnowError } from '../../dsl/errors.ts';
import { epochMetricsCodec, hyperparametersCodec } from '../checkpoint/checkpoint.ts';

/** Tag of run records. */
export const runRecordFormat = 'winnow.experiment-run/1';

const finite = new t.Type<number, number, unknown>('finite number', (u): u is number => typeof u === 'number' && Number.isFinite(u), (u, c) => (typeof u === 'number' && Number.isFinite(u) ? t.success(u) : t.failure(u, c)), t.identity);
const nat = new t.Type<number, number, unknown>('non-negative integer', (u): u is number => Number.isInteger(u) && (u as number) >= 0, (u, c) => (Number.isInteger(u) && (u as number) >= 0 ? t.success(u as number) : t.failure(u, c)), t.identity);

const kwtaCodec = t.strict({
  layer: nat,
  shape: t.array(nat),
  units: nat,
  k: nat,
  kInference: nat,
  density: finite,
  perChannel: t.boolean,
  dutyCycles: t.array(finite),
  histogram: t.strict({ edges: t.array(finite), counts: t.array(nat), above: nat }),
  entropy: finite,
  maxEntropy: finite,
  boostStrength: finite,
});

const recordCodec = t.strict({
  format: t.literal(runRecordFormat),
  experiment: t.string,
  /** The network's id in the experiment (e.g. `sparse-cnn2`). */
  network: t.string,
  /** The model file's `name`. */
  modelName: t.string,
  seed: nat,
  backend: t.strict({ name: t.string, why: t.string }),
  hyperparameters: hyperparametersCodec,
  data: t.strict({ trainImages: nat, testImages: nat }),
  params: t.strict({ total: nat, nonzero: nat }),
  epochs: t.array(epochMetricsCodec),
  final: t.strict({ epoch: nat, testAccuracy: finite }),
  best: t.strict({ epoch: nat, testAccuracy: finite }),
  noise: t.strict({ seed: nat, levels: t.array(finite), accuracy: t.array(finite), correct: t.array(nat), score: nat, maxScore: nat }),
  kwta: t.array(kwtaCodec),
  timing: t.strict({ trainSeconds: finite, noiseSeconds: finite }),
  machine: t.strict({ cpus: nat, cpuModel: t.string, node: t.string }),
  finishedAt: t.string,
});

/** One run's record (see the module comment). */
export type RunRecord = t.TypeOf<typeof recordCodec>;

/** `a.b[2].c` from an io-ts context. */
const pathOf = (c: t.Context): string =>
  c
    .slice(1)
    .map((e) => (/^\d+$/.test(e.key) ? `[${e.key}]` : `.${e.key}`))
    .join('')
    .replace(/^\./, '') || '(root)';

/** Checks a parsed JSON value as a run record; `file` names it in the error. */
const decodeRunRecord = (raw: unknown, file: string): RunRecord => {
  const decoded = recordCodec.decode(raw);
  if (E.isLeft(decoded)) {
    const e = decoded.left[0];
    throw new WinnowError('data', `${file}: not a run record: field ${pathOf(e.context)} is invalid (got ${JSON.stringify(e.value)?.slice(0, 60) ?? 'nothing'})`);
  }
  const r = decoded.right;
  const n = r.noise.levels.length;
  if (r.noise.accuracy.length !== n || r.noise.correct.length !== n) throw new WinnowError('data', `${file}: not a run record: noise.levels, noise.accuracy and noise.correct differ in length`);
  if (r.noise.correct.reduce((a, b) => a + b, 0) !== r.noise.score) throw new WinnowError('data', `${file}: not a run record: noise.score is not the sum of noise.correct`);
  for (const [i, k] of r.kwta.entries()) {
    if (k.histogram.edges.length !== k.histogram.counts.length + 1) throw new WinnowError('data', `${file}: not a run record: kwta[${i}].histogram needs one more edge than counts`);
  }
  return r;
};

/** Reads and checks a run record. */
export const readRunRecord = (file: string): RunRecord => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new WinnowError('data', `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new WinnowError('data', `${file}: not valid JSON (${(e as Error).message})`);
  }
  return decodeRunRecord(raw, file);
};

/**
 * Writes `text` to `file` atomically: a temporary file next to it, fsync, rename, fsync of the
 * directory. A crash leaves the old file (or none), never a partial one.
 *
 * @example
 * writeFileAtomic('runs/paper-mnist/report.html', '<!doctype html>...');
 */
export const writeFileAtomic = (file: string, text: string): void => {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new WinnowError('data', `${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const d = openSync(dirname(file), 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // some filesystems cannot fsync a directory; the rename is still atomic
  }
};

/** Writes a run record atomically (indented JSON, with arrays of numbers on one line). */
export const writeRunRecord = (file: string, record: RunRecord): void =>
  writeFileAtomic(file, `${JSON.stringify(record, null, 1).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`)}\n`);
