/**
 * bench/results.json and what is made from it: the schema, medians, the targets (winnow's
 * `cpu` backend against TensorFlow.js at its best, same run), the printed table and the README
 * section.
 *
 * results.json (`schema: "winnow.bench/2"`):
 * - `date`, `node`, `platform`, `cpuModel`, `cores` (`os.availableParallelism()`), `seconds` (the
 *   whole run), `quick` (true for the tiny `--quick` plan), `batch` (64, training) and
 *   `inferenceBatch` (1000).
 * - `tfjs`: the TF.js version, backend (`wasm`), `threads` it ran with and `simd`, as a TF.js
 *   worker reported them (absent when no TF.js contender ran).
 * - `models`: `{ id, file, description }`; `contenders`: `{ id, label, library }`.
 * - `results`: one entry per contender and model: `plan` (`warmup` steps, `steps` per timed run,
 *   `inferenceCalls` per timed run, `repetitions`: timed runs of each kind), `train` and `inference` (`samplesPerSecond` = median of
 *   `runs`, each run's samples/s in order), `peakRssBytes` (the worker process's
 *   `process.resourceUsage().maxRSS`: one process per contender and model, MNIST files included,
 *   which every worker loads alike), `setupSeconds` (loading, compiling, warm-up), `lastLoss`,
 *   `info` (resolved backend, `threads` where known: the cpu
 *   backend's worker threads, TF.js's XNNPACK threads); or `{ contender, model, error }`.
 * - `targets`: `{ id, text, value, comparison, threshold, met }`, `value` null and `met` null when a
 *   number it needs was not measured.
 *
 * @example
 * import { median, evaluateTargets, formatResults, readmeSection } from './report.ts';
 * median([3, 1, 2]); // 2
 */
import { formatTable, thousands } from '../runtime/cli/table.ts';
import type { ContenderId, ContenderInfo, ModelId, ModelInfo, Plan } from './catalog.ts';

/** Median of one or more numbers. */
export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Speed of one kind of call: the median over the timed runs. */
export interface Throughput {
  readonly batch: number;
  /** Calls (steps or predicts) per timed run. */
  readonly calls: number;
  readonly samplesPerSecond: number;
  readonly runs: ReadonlyArray<number>;
}

/** One contender on one model. */
export type Measurement =
  | {
      readonly contender: ContenderId;
      readonly model: ModelId;
      readonly plan: Plan;
      readonly train: Throughput;
      readonly inference: Throughput;
      readonly peakRssBytes: number;
      readonly setupSeconds: number;
      readonly lastLoss: number;
      readonly info: Readonly<Record<string, string | number | boolean>>;
    }
  | { readonly contender: ContenderId; readonly model: ModelId; readonly error: string };

/** A measured contender on a model. */
export type Measured = Extract<Measurement, { train: Throughput }>;

/** One of the targets, evaluated. */
export interface Target {
  readonly id: string;
  readonly text: string;
  /** The achieved ratio, or null when a number it needs is missing. */
  readonly value: number | null;
  readonly comparison: '>=' | '<=';
  readonly threshold: number;
  readonly met: boolean | null;
}

/** What bench/results.json holds. */
export interface BenchResults {
  readonly schema: 'winnow.bench/2';
  readonly date: string;
  readonly node: string;
  readonly platform: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly quick: boolean;
  readonly batch: number;
  readonly inferenceBatch: number;
  readonly tfjs?: { readonly version: string; readonly backend: string; readonly threads: number; readonly simd: boolean };
  readonly models: ReadonlyArray<ModelInfo>;
  readonly contenders: ReadonlyArray<ContenderInfo>;
  readonly results: ReadonlyArray<Measurement>;
  readonly targets: ReadonlyArray<Target>;
  readonly seconds: number;
}

/** The measurement of a contender on a model, when it ran. */
export const measured = (results: ReadonlyArray<Measurement>, contender: ContenderId, model: ModelId): Measured | undefined =>
  results.find((r): r is Measured => r.contender === contender && r.model === model && 'train' in r);

/** The contender every ratio and target is taken against. */
export const baseline: ContenderId = 'tfjs-best';

/**
 * The targets for winnow's `cpu` backend against TF.js at its best, in the same run:
 * dense training >= 1.5x TF.js dense; sparse training >= 10x TF.js sparse and >= 5x TF.js dense;
 * sparse inference >= 3x TF.js dense inference; peak memory no higher than TF.js (each model).
 */
export const evaluateTargets = (results: ReadonlyArray<Measurement>, models: ReadonlyArray<ModelId>): Target[] => {
  const ratio = (a: number | undefined, b: number | undefined): number | null => (a !== undefined && b !== undefined && b > 0 ? a / b : null);
  const train = (c: ContenderId, m: ModelId) => measured(results, c, m)?.train.samplesPerSecond;
  const infer = (c: ContenderId, m: ModelId) => measured(results, c, m)?.inference.samplesPerSecond;
  const rss = (c: ContenderId, m: ModelId) => measured(results, c, m)?.peakRssBytes;
  const target = (id: string, text: string, value: number | null, comparison: '>=' | '<=', threshold: number): Target => ({
    id,
    text,
    value,
    comparison,
    threshold,
    met: value === null ? null : comparison === '>=' ? value >= threshold : value <= threshold,
  });
  return [
    target('dense-train', 'dense training vs TF.js dense', ratio(train('cpu', 'dense'), train(baseline, 'dense')), '>=', 1.5),
    target('sparse-train', 'sparse training vs TF.js sparse', ratio(train('cpu', 'sparse'), train(baseline, 'sparse')), '>=', 10),
    target('sparse-train-vs-dense', 'sparse training vs TF.js dense', ratio(train('cpu', 'sparse'), train(baseline, 'dense')), '>=', 5),
    target('sparse-inference-vs-dense', 'sparse inference vs TF.js dense inference', ratio(infer('cpu', 'sparse'), infer(baseline, 'dense')), '>=', 3),
    ...models.map((m) => target(`memory-${m}`, `${m}: peak memory vs TF.js`, ratio(rss('cpu', m), rss(baseline, m)), '<=', 1)),
  ];
};

const speed = (x: number): string => thousands(Math.round(x));
const times = (x: number): string => `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
const mib = (bytes: number): string => thousands(Math.round(bytes / 2 ** 20));

/** Rows of the results table (one per contender and model, models in order). */
const rows = (r: BenchResults): string[][] =>
  r.models.flatMap((m) =>
    r.contenders.map((c): string[] => {
      const x = r.results.find((e) => e.contender === c.id && e.model === m.id);
      if (!x) return [];
      if (!('train' in x)) return [m.id, c.label, `error: ${x.error}`, '-', '-', '-', '-', '-', '-'];
      const base = measured(r.results, baseline, m.id);
      return [
        m.id,
        c.label,
        speed(x.train.samplesPerSecond),
        base ? times(x.train.samplesPerSecond / base.train.samplesPerSecond) : '-',
        speed(x.inference.samplesPerSecond),
        base ? times(x.inference.samplesPerSecond / base.inference.samplesPerSecond) : '-',
        mib(x.peakRssBytes),
        typeof x.info.threads === 'number' ? String(x.info.threads) : '-',
        `${x.train.runs.length} x ${x.train.calls}`,
      ];
    }).filter((row) => row.length > 0),
  );

const header = (r: BenchResults): string[] => [
  'model',
  'contender',
  `training samples/s (batch ${r.batch})`,
  'vs TF.js best',
  `inference samples/s (batch ${r.inferenceBatch})`,
  'vs TF.js best',
  'peak RSS MiB',
  'threads',
  'runs x steps',
];

const targetLine = (t: Target): string =>
  `${t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED'}: ${t.text}: ${t.value === null ? '-' : times(t.value)} (target ${t.comparison} ${t.threshold}x)`;

/** The machine line. */
const machine = (r: BenchResults): string => {
  const tf = r.tfjs ? `; TF.js ${r.tfjs.version} ${r.tfjs.backend}${r.tfjs.simd ? ' (SIMD)' : ''}, ${r.tfjs.threads} thread${r.tfjs.threads === 1 ? '' : 's'}` : '';
  return `${r.cores} cores (os.availableParallelism()), ${r.cpuModel}; node ${r.node}, ${r.platform}${tf}`;
};

/** The table `npm run bench` prints. */
export const formatResults = (r: BenchResults): string => {
  const table = formatTable(header(r), rows(r));
  return [
    `MLP 784-1000-1000-10 on MNIST: ${machine(r)}${r.quick ? ' [--quick: too few steps to mean anything]' : ''}`,
    table,
    'Medians over the timed runs, taken round-robin; runs x steps: timed training runs x steps each (slow contenders take fewer).',
    `Targets (winnow cpu against TF.js wasm at its best, same run):`,
    ...r.targets.map((t) => `  ${targetLine(t)}`),
    `${r.seconds.toFixed(1)} s in all`,
  ].join('\n');
};

/** Markers around the generated part of the README. */
export const readmeMarkers = { start: '<!-- bench:start (generated by `npm run bench:readme` from bench/results.json) -->', end: '<!-- bench:end -->' } as const;

/** The README's generated section (markdown, between the markers). */
export const readmeSection = (r: BenchResults): string => {
  const md = (cells: ReadonlyArray<string>) => `| ${cells.join(' | ')} |`;
  const h = header(r);
  const body = rows(r).map(md);
  return [
    readmeMarkers.start,
    `${machine(r)}; ${r.date.slice(0, 10)}, ${r.seconds.toFixed(0)} s${r.quick ? ' (--quick)' : ''}.`,
    '',
    md(h),
    md(h.map((_, i) => (i < 2 ? '---' : '---:'))),
    ...body,
    '',
    'Medians over the timed runs, taken round-robin; "runs x steps" is timed training runs x steps per run (the slower contenders take fewer).',
    '',
    'Targets (winnow `cpu` against TF.js wasm at its best, same run):',
    '',
    ...r.targets.map((t) => `- ${targetLine(t)}`),
    readmeMarkers.end,
  ].join('\n');
};

/** `readme` with its generated section replaced by `section`; throws when the markers are missing. */
export const replaceReadmeSection = (readme: string, section: string): string => {
  const a = readme.indexOf(readmeMarkers.start);
  const b = readme.indexOf(readmeMarkers.end);
  if (a < 0 || b < a) throw new Error(`README.md has no generated bench section (${readmeMarkers.start} ... ${readmeMarkers.end})`);
  return readme.slice(0, a) + section + readme.slice(b + readmeMarkers.end.length);
};
