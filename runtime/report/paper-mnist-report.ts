/**
 * The `paper-mnist` experiment's report: one self-contained HTML file (inline CSS, inline SVG
 * figures from svg.ts, digits as PNG data URIs from png.ts; no scripts, fonts or links to fetch,
 * so it opens from file://) built from the experiment's run records:
 *
 * - a table of mean +- std per network (last-epoch test accuracy, best-epoch test accuracy as the
 *   paper selected it, noise score, training time) next to the paper's numbers, with every number
 *   that differs from the paper by more than its spread flagged and given a likely cause;
 * - the issue's targets, met or not;
 * - noise curves (accuracy vs noise level, one line per network), training curves (test accuracy
 *   and training loss per epoch), the duty-cycle histogram and entropy of each k-winners layer,
 *   and example test digits at a few noise levels exactly as the noise test corrupts them;
 * - every run's numbers.
 *
 * `writePaperMnistReport(dir)` also writes `noise-curves.svg` and `summary.md` (the table as
 * Markdown) next to `report.html`, for the README.
 *
 * @example
 * import { writePaperMnistReport } from 'winnow/runtime/report/paper-mnist-report';
 * // const { report } = writePaperMnistReport('runs/paper-mnist'); // runs/paper-mnist/report.html
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WinnowError } from '../../dsl/errors.ts';
import { NOISE_SEED, paperNetworks, type PaperNetwork } from '../experiment/paper-mnist.ts';
import { readRunRecord, writeFileAtomic, type RunRecord } from '../experiment/record.ts';
import { loadMnist, MNIST_MEAN, MNIST_STD, noisyImages } from '../mnist.ts';
import { pngDataUri } from './png.ts';
import { meanStd, type MeanStd } from './stats.ts';
import { escapeXml, histogram, linePlot, palette, type Series } from './svg.ts';

/** The paper's epochs per network (Table 1 was trained this long). */
const PAPER_EPOCHS: Readonly<Record<string, number>> = { 'dense-cnn1': 15, 'dense-cnn2': 15, 'dense-cnn2-dropout': 15, 'sparse-cnn1': 15, 'sparse-cnn2': 10 };

/** One network's runs, summarised across seeds. */
export interface NetworkSummary {
  readonly network: PaperNetwork;
  readonly runs: ReadonlyArray<RunRecord>;
  readonly seeds: number[];
  /** Last-epoch test accuracy (a fraction). */
  readonly lastAccuracy: MeanStd;
  /** Best-epoch test accuracy (the paper's selection, on the test set). */
  readonly bestAccuracy: MeanStd;
  readonly noiseScore: MeanStd;
  readonly noiseMax: number;
  readonly trainSeconds: MeanStd;
  readonly params: { readonly total: number; readonly nonzero: number };
  /** Runs on all 60,000 training and 10,000 test images for the paper's epochs: comparable with the paper. */
  readonly comparable: boolean;
  /** Why the runs are not comparable, when they are not. */
  readonly notComparableWhy?: string;
}

/** A comparison of one number with the paper's. */
export interface PaperComparison {
  readonly metric: 'accuracy' | 'noise';
  readonly ours: MeanStd;
  readonly paper: number;
  readonly difference: number;
  /** The difference exceeds the spread (std across seeds; with one seed any difference). */
  readonly flagged: boolean;
  /** Likely cause, when flagged. */
  readonly cause?: string;
}

/** Summaries of the records, one per network that has runs, in the experiment's order. */
export const summarizeRuns = (records: ReadonlyArray<RunRecord>): NetworkSummary[] => {
  const known = new Set(paperNetworks.map((n) => n.id));
  const unknown = records.find((r) => !known.has(r.network));
  if (unknown) throw new WinnowError('data', `run record of unknown network ${JSON.stringify(unknown.network)} (known: ${[...known].join(', ')})`);
  return paperNetworks.flatMap((network) => {
    const runs = records.filter((r) => r.network === network.id).sort((a, b) => a.seed - b.seed);
    if (runs.length === 0) return [];
    const reasons: string[] = [];
    const trainImages = Math.min(...runs.map((r) => r.data.trainImages));
    const testImages = Math.min(...runs.map((r) => r.data.testImages));
    const epochs = Math.min(...runs.map((r) => r.hyperparameters.epochs));
    if (trainImages < 60_000) reasons.push(`${trainImages.toLocaleString('en-US')} training images, not 60,000`);
    if (testImages < 10_000) reasons.push(`${testImages.toLocaleString('en-US')} test images, not 10,000`);
    if (epochs !== PAPER_EPOCHS[network.id]) reasons.push(`${epochs} epochs, not ${PAPER_EPOCHS[network.id]}`);
    return [{
      network,
      runs,
      seeds: runs.map((r) => r.seed),
      lastAccuracy: meanStd(runs.map((r) => r.final.testAccuracy)),
      bestAccuracy: meanStd(runs.map((r) => r.best.testAccuracy)),
      noiseScore: meanStd(runs.map((r) => r.noise.score)),
      noiseMax: Math.max(...runs.map((r) => r.noise.maxScore)),
      trainSeconds: meanStd(runs.map((r) => r.timing.trainSeconds)),
      params: runs[0].params,
      comparable: reasons.length === 0,
      ...(reasons.length ? { notComparableWhy: reasons.join(', ') } : {}),
    }];
  });
};

/**
 * The likely cause of a difference from the paper: the text hook next to a flagged number. These
 * are the usual suspects; refine them here as full runs show which one it is.
 */
const likelyCause = (s: NetworkSummary, metric: 'accuracy' | 'noise', difference: number): string => {
  const causes: string[] = [];
  const n = s.runs.length;
  if (metric === 'accuracy') {
    const gap = s.bestAccuracy.mean - s.lastAccuracy.mean;
    if (difference < 0 && gap > 0) {
      causes.push(`model selection: the paper reports the best epoch on the test set; this column is the last epoch (best epoch here: ${fmtPct(s.bestAccuracy.mean)}, ${(gap * 100).toFixed(2)} points higher)`);
    }
    if (difference < 0 && s.network.sparse) causes.push('the sparse nets train without momentum and with batch 4 in the first epoch, so they are sensitive to the data order and initialisation, which differ from the paper\'s PyTorch runs');
    if (difference > 0) causes.push('initialisation, data order and float32 arithmetic differ from the paper\'s PyTorch runs');
  } else {
    if (!s.network.sparse && difference > 0) causes.push('the noise robustness of dense networks varies widely with training details the paper does not pin down (its own two dense CNNs differ by 22,000)');
    if (!s.network.sparse && difference < 0) causes.push('dense networks are not trained for robustness; their noise score follows training details (initialisation, data order)');
    if (s.network.sparse && difference < 0) causes.push('k-winners robustness depends on boosting and on how evenly units are used (see the duty-cycle entropy below) and on kInferenceFactor');
    if (s.network.sparse && difference > 0) causes.push('the noise pixels are drawn with winnow\'s own RNG (seed 42), not the paper\'s');
  }
  if (n < 10) causes.push(`the paper averages 10 seeds, this ${n}`);
  return causes.join('; ');
};

/** Each paper number of a network compared with ours (empty for networks the paper does not report). */
export const compareWithPaper = (s: NetworkSummary): PaperComparison[] => {
  const paper = s.network.paper;
  if (!paper) return [];
  const make = (metric: 'accuracy' | 'noise', ours: MeanStd, value: number, resolution: number): PaperComparison => {
    const difference = ours.mean - value;
    const flagged = Math.abs(difference) > Math.max(ours.std, resolution);
    return { metric, ours, paper: value, difference, flagged, ...(flagged ? { cause: likelyCause(s, metric, difference) } : {}) };
  };
  // The paper's accuracies have two decimals (0.01 percentage points) and its noise scores are counts.
  return [make('accuracy', s.lastAccuracy, paper.accuracy, 0.00005), make('noise', s.noiseScore, paper.noiseScore, 0.5)];
};

/** The issue's targets and whether the runs meet them (undefined: no comparable runs). */
export interface TargetCheck {
  readonly target: string;
  readonly met: boolean | undefined;
  readonly detail: string;
}

/** The targets of the issue, checked on the summaries (mean last-epoch accuracy, mean noise score). */
export const checkTargets = (summaries: ReadonlyArray<NetworkSummary>): TargetCheck[] => {
  const by = (id: string) => summaries.find((s) => s.network.id === id && s.comparable);
  const scnn2 = by('sparse-cnn2');
  const dcnn2 = by('dense-cnn2');
  const dense = summaries.filter((s) => !s.network.sparse && s.comparable);
  const sparse = summaries.filter((s) => s.network.sparse && s.comparable);
  const none = 'no comparable runs (all 60,000 training and 10,000 test images, the paper\'s epochs)';
  const maxDense = dense.length ? Math.max(...dense.map((s) => s.noiseScore.mean)) : NaN;
  const minSparse = sparse.length ? Math.min(...sparse.map((s) => s.noiseScore.mean)) : NaN;
  return [
    { target: 'Sparse CNN-2: test accuracy >= 98.9%', met: scnn2 ? scnn2.lastAccuracy.mean >= 0.989 : undefined, detail: scnn2 ? `${fmtPct(scnn2.lastAccuracy.mean)} (last epoch)` : none },
    { target: 'Sparse CNN-2: noise score >= 100,000', met: scnn2 ? scnn2.noiseScore.mean >= 100_000 : undefined, detail: scnn2 ? fmtInt(scnn2.noiseScore.mean) : none },
    { target: 'Dense CNN-2: test accuracy >= 99.1%', met: dcnn2 ? dcnn2.lastAccuracy.mean >= 0.991 : undefined, detail: dcnn2 ? `${fmtPct(dcnn2.lastAccuracy.mean)} (last epoch)` : none },
    {
      target: 'every dense network\'s noise score below every sparse one\'s',
      met: dense.length && sparse.length ? maxDense < minSparse : undefined,
      detail: dense.length && sparse.length ? `highest dense ${fmtInt(maxDense)}, lowest sparse ${fmtInt(minSparse)}${orderingMisses(dense, sparse)}` : none,
    },
  ];
};

/**
 * For the ordering target: every (dense, sparse) pair whose mean noise scores are the wrong way
 * round, with the gap and whether it exceeds the spread of either network (std across seeds), so a
 * miss inside the seed-to-seed variation reads differently from a real reversal.
 */
const orderingMisses = (dense: ReadonlyArray<NetworkSummary>, sparse: ReadonlyArray<NetworkSummary>): string => {
  const score = (m: MeanStd) => (m.n > 1 ? `${fmtInt(m.mean)} \u00b1 ${fmtInt(m.std)}` : `${fmtInt(m.mean)}, one seed`);
  const misses: string[] = [];
  for (const d of dense) {
    for (const s of sparse) {
      const gap = d.noiseScore.mean - s.noiseScore.mean;
      if (gap < 0) continue;
      const spread = Math.max(d.noiseScore.std, s.noiseScore.std);
      const within = d.noiseScore.n > 1 && s.noiseScore.n > 1 && gap <= spread;
      misses.push(`${d.network.label} (${score(d.noiseScore)}) is above ${s.network.label} (${score(s.noiseScore)}) by ${fmtInt(gap)}, ${within ? 'within' : 'more than'} one standard deviation across seeds`);
    }
  }
  return misses.length ? `; ${misses.join('; ')}` : '';
};

const fmtPct = (x: number, digits = 2): string => `${(x * 100).toFixed(digits)}%`;
const fmtInt = (x: number): string => Math.round(x).toLocaleString('en-US');
const fmtSeconds = (s: number): string => (s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);
const pm = (m: MeanStd, f: (x: number) => string): string => (m.n > 1 ? `${f(m.mean)} &plusmn; ${f(m.std)}` : f(m.mean));
/** Seconds as "mean +- std" in the mean's unit. */
const timePm = (m: MeanStd): string => {
  if (m.mean < 120) return pm(m, fmtSeconds);
  return m.n > 1 ? `${(m.mean / 60).toFixed(1)} &plusmn; ${(m.std / 60).toFixed(1)} min` : fmtSeconds(m.mean);
};
const pctPm = (m: MeanStd): string => (m.n > 1 ? `${(m.mean * 100).toFixed(2)} &plusmn; ${(m.std * 100).toFixed(2)}%` : fmtPct(m.mean));

/** Example digits: `images[row][column]` is a 28 x 28 greyscale image at `levels[column]`. */
export interface NoisyExamples {
  readonly levels: ReadonlyArray<number>;
  readonly images: ReadonlyArray<ReadonlyArray<Uint8Array>>;
}

/** The levels shown in the report's example digits. */
const EXAMPLE_LEVELS = [0, 0.1, 0.2, 0.3, 0.4, 0.5];

/**
 * The first `count` test digits at a few noise levels, exactly as the noise test (seed 42) sees
 * them, back in 0..255 greyscale.
 */
const noisyExamples = (count = 4): NoisyExamples => {
  const set = loadMnist('test', { limit: count });
  const images = Array.from({ length: count }, () => [] as Uint8Array[]);
  for (const level of EXAMPLE_LEVELS) {
    const x = noisyImages(set, level, NOISE_SEED);
    for (let i = 0; i < count; i++) {
      const img = new Uint8Array(784);
      for (let p = 0; p < 784; p++) img[p] = Math.max(0, Math.min(255, Math.round((x[i * 784 + p] * MNIST_STD + MNIST_MEAN) * 255)));
      images[i].push(img);
    }
  }
  return { levels: EXAMPLE_LEVELS, images };
};

/** The mean +- std of per-epoch (or per-level) values across runs, as a series with a band. */
const meanSeries = (name: string, color: string, rows: ReadonlyArray<ReadonlyArray<readonly [number, number]>>): Series => {
  const xs = [...new Set(rows.flatMap((r) => r.map((p) => p[0])))].sort((a, b) => a - b);
  const stats = xs.map((x) => [x, meanStd(rows.flatMap((r) => r.filter((p) => p[0] === x).map((p) => p[1])))] as const);
  return {
    name,
    color,
    points: stats.map(([x, m]) => [x, m.mean] as const),
    ...(rows.length > 1 ? { band: stats.map(([x, m]) => [x, m.mean - m.std, m.mean + m.std] as const) } : {}),
  };
};

const colorOf = (s: NetworkSummary): string => palette[paperNetworks.findIndex((n) => n.id === s.network.id) % palette.length];

/** The noise-curve figure: mean accuracy (%) vs noise level, one line per network. */
const noiseCurvesSvg = (summaries: ReadonlyArray<NetworkSummary>): string =>
  linePlot({
    title: 'Accuracy vs noise level',
    xLabel: 'noise level (fraction of pixels replaced)',
    yLabel: 'test accuracy (%)',
    width: 720,
    height: 380,
    series: summaries.map((s) => meanSeries(s.network.label, colorOf(s), s.runs.map((r) => r.noise.levels.map((l, i) => [l, r.noise.accuracy[i] * 100] as const)))),
  });

/** The table as Markdown (for the README). */
export const summaryMarkdown = (summaries: ReadonlyArray<NetworkSummary>): string => {
  const plain = (s: string) => s.replace(/&plusmn;/g, '±');
  const rows = summaries.map((s) =>
    `| ${s.network.label} | ${s.runs.length} | ${plain(pctPm(s.lastAccuracy))} | ${plain(pctPm(s.bestAccuracy))} | ${s.network.paper ? fmtPct(s.network.paper.accuracy) : 'not in the paper'} | ${plain(pm(s.noiseScore, fmtInt))} | ${s.network.paper ? fmtInt(s.network.paper.noiseScore) : '-'} | ${plain(timePm(s.trainSeconds))} |`,
  );
  return [
    '| network | seeds | test accuracy (last epoch) | test accuracy (best epoch) | paper | noise score | paper | training time |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
};

const CSS = `
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.55rem; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.name, th.name { text-align: left; white-space: nowrap; } td.text, th.text { text-align: left; }
td.flag { background: #fff3e0; } td.ok { color: #1b7a3a; } td.miss { color: #b3261e; } td.na { color: #777; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.4rem; vertical-align: -1px; }
.note { color: #555; font-size: 0.9rem; } .causes li { margin-bottom: 0.35rem; }
.figs { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; } figcaption { font-size: 0.88rem; color: #444; max-width: 640px; }
.digits td { border: none; padding: 2px 4px; text-align: center; } .digits img { width: 56px; height: 56px; image-rendering: pixelated; display: block; border: 1px solid #ccc; }
code { background: #f4f4f4; padding: 0 0.2rem; border-radius: 3px; }
`;

/** Options of `paperMnistReport`. */
export interface ReportOptions {
  /** Shown in the header (default: now). */
  readonly generatedAt?: string;
  /** Example digits (see `noisyExamples`); the section is left out without them. */
  readonly examples?: NoisyExamples;
}

/** The report as one HTML document. */
export const paperMnistReport = (records: ReadonlyArray<RunRecord>, options: ReportOptions = {}): string => {
  if (records.length === 0) throw new WinnowError('data', 'no run records to report on');
  const summaries = summarizeRuns(records);
  const e = escapeXml;
  const html: string[] = [];
  const backends = [...new Set(records.map((r) => r.backend.name))];
  const machines = [...new Set(records.map((r) => `${r.machine.cpus} x ${r.machine.cpuModel}, Node ${r.machine.node}`))];
  const seeds = [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);
  html.push(
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>winnow: paper-mnist report</title>',
    `<style>${CSS}</style></head><body>`,
    '<h1>Dense vs sparse CNNs on MNIST: accuracy and noise robustness</h1>',
    `<p class="sub">A reproduction of Table 1 of <em>How Can We Be So Dense? The Benefits of Using Highly Sparse Representations</em> (Ahmad &amp; Scheinkman, 2019) with winnow. ` +
      `${records.length} runs: ${summaries.length} networks, seeds ${e(seeds.join(', '))}; backend ${e(backends.join(', '))}; ${e(machines.join('; '))}. Generated ${e(options.generatedAt ?? new Date().toISOString())} by <code>winnow experiment paper-mnist</code>.</p>`,
  );

  // The table.
  html.push('<h2 id="table">Results against the paper</h2>');
  html.push('<table class="results"><thead><tr><th class="name">network</th><th>seeds</th><th>test accuracy<br>last epoch</th><th>test accuracy<br>best epoch</th><th>paper<br>(best epoch)</th><th>noise score</th><th>paper</th><th>non-zero params</th><th>training time</th></tr></thead><tbody>');
  const flaggedNotes: string[] = [];
  for (const s of summaries) {
    const cmp = compareWithPaper(s);
    const acc = cmp.find((c) => c.metric === 'accuracy');
    const noise = cmp.find((c) => c.metric === 'noise');
    const cls = (c: PaperComparison | undefined) => (c && c.flagged && s.comparable ? ' class="flag"' : '');
    const mark = (c: PaperComparison | undefined) => (c && c.flagged && s.comparable ? ' &#9873;' : '');
    html.push(
      `<tr><td class="name"><span class="swatch" style="background:${colorOf(s)}"></span>${e(s.network.label)}</td><td>${s.runs.length}</td>` +
        `<td${cls(acc)}>${pctPm(s.lastAccuracy)}${mark(acc)}</td><td>${pctPm(s.bestAccuracy)}</td>` +
        `<td>${s.network.paper ? fmtPct(s.network.paper.accuracy) : '<span class="na">not in the paper</span>'}</td>` +
        `<td${cls(noise)}>${pm(s.noiseScore, fmtInt)}${s.noiseMax !== 110_000 ? ` <span class="na">of ${fmtInt(s.noiseMax)}</span>` : ''}${mark(noise)}</td>` +
        `<td>${s.network.paper ? fmtInt(s.network.paper.noiseScore) : '<span class="na">-</span>'}</td>` +
        `<td>${fmtInt(s.params.nonzero)}</td><td>${timePm(s.trainSeconds)}</td></tr>`,
    );
    if (!s.comparable) continue;
    for (const c of cmp.filter((x) => x.flagged)) {
      const what = c.metric === 'accuracy' ? `test accuracy ${fmtPct(c.ours.mean)} vs the paper's ${fmtPct(c.paper)} (${c.difference > 0 ? '+' : ''}${(c.difference * 100).toFixed(2)} points` : `noise score ${fmtInt(c.ours.mean)} vs the paper's ${fmtInt(c.paper)} (${c.difference > 0 ? '+' : ''}${fmtInt(c.difference)}`;
      const spread = c.ours.n > 1 ? `, more than the spread of ${c.metric === 'accuracy' ? `${(c.ours.std * 100).toFixed(2)} points` : fmtInt(c.ours.std)}` : ', one seed: no spread to compare with';
      flaggedNotes.push(`<li><b>${e(s.network.label)}</b>: ${what}${spread}). Likely cause: ${e(c.cause ?? '')}.</li>`);
    }
  }
  html.push('</tbody></table>');
  html.push(
    '<p class="note">Mean &plusmn; sample standard deviation across seeds. <b>Last epoch</b> is the honest number: the model after its final epoch. ' +
      '<b>Best epoch</b> picks, per run, the epoch with the highest test accuracy, as the paper did (selection on the test set, so it is optimistic). ' +
      'The noise score is the number of correct classifications summed over the 11 noise levels 0, 0.05, ..., 0.5 (at most 110,000 on the 10,000 test images). ' +
      'Training time is the sum of the epochs\' training time (without the per-epoch test evaluation and the noise test). ' +
      'The paper has no dropout CNN: its Dense CNN-2 + dropout row is winnow\'s own comparison.</p>',
  );
  const notComparable = summaries.filter((s) => !s.comparable);
  if (notComparable.length) {
    html.push(`<p class="note"><b>Not comparable with the paper</b> (quick runs, so no flags): ${notComparable.map((s) => `${e(s.network.label)}: ${e(s.notComparableWhy ?? '')}`).join('; ')}.</p>`);
  }
  if (flaggedNotes.length) html.push('<h3>Differences from the paper (&#9873;)</h3>', `<ul class="causes">${flaggedNotes.join('')}</ul>`);
  else if (summaries.some((s) => s.comparable && s.network.paper)) html.push('<p class="note">No number differs from the paper by more than its spread.</p>');

  // Targets.
  html.push('<h2 id="targets">Targets</h2><table class="targets"><thead><tr><th class="name">target</th><th>met</th><th class="text">value</th></tr></thead><tbody>');
  for (const t of checkTargets(summaries)) {
    html.push(`<tr><td class="name">${e(t.target)}</td><td class="${t.met === undefined ? 'na' : t.met ? 'ok' : 'miss'}">${t.met === undefined ? 'n/a' : t.met ? 'yes' : 'no'}</td><td class="text">${e(t.detail)}</td></tr>`);
  }
  html.push('</tbody></table>');

  // Noise curves.
  html.push('<h2 id="noise">Noise robustness</h2>', `<figure>${noiseCurvesSvg(summaries)}<figcaption>Test accuracy at each noise level (mean across seeds; the band is &plusmn; one standard deviation when there are several seeds). Each level replaces that fraction of every test image's pixels with the value 0.7469, at random (seed ${NOISE_SEED}).</figcaption></figure>`);

  // Training curves.
  const accCurves = summaries.map((s) => meanSeries(s.network.label, colorOf(s), s.runs.map((r) => r.epochs.filter((m) => m.testAccuracy !== null).map((m) => [m.epoch, (m.testAccuracy as number) * 100] as const))));
  const lossCurves = summaries.map((s) => meanSeries(s.network.label, colorOf(s), s.runs.map((r) => r.epochs.map((m) => [m.epoch, m.loss] as const))));
  html.push(
    '<h2 id="training">Training curves</h2><div class="figs">',
    `<figure>${linePlot({ title: 'Test accuracy per epoch', xLabel: 'epoch', yLabel: 'test accuracy (%)', width: 540, height: 340, series: accCurves })}</figure>`,
    `<figure>${linePlot({ title: 'Training loss per epoch', xLabel: 'epoch', yLabel: 'mean cross-entropy loss', width: 540, height: 340, series: lossCurves })}</figure>`,
    '</div><p class="note">Mean across seeds. The training loss is the mean over the epoch\'s batches, with dropout and k-winners in their training mode.</p>',
  );

  // Duty cycles.
  html.push('<h2 id="duty-cycles">k-winners duty cycles</h2>');
  const withKwta = summaries.filter((s) => s.runs[0].kwta.length > 0);
  if (withKwta.length === 0) html.push('<p class="note">No network in these runs has a k-winners layer.</p>');
  else {
    html.push(
      '<p class="note">A unit\'s duty cycle is the running fraction of training samples in which it was active (for k-winners on feature maps: per channel, averaged over its positions). ' +
        'Boosting pushes every unit towards the target density k/n (dashed line). Entropy is nupic.torch\'s: the sum over units of the binary entropy of their duty cycles, in bits; ' +
        'its maximum n &times; H(k/n) is reached when every unit is active exactly k/n of the time. Histograms pool the final duty cycles of every seed.</p>',
    );
    for (const s of withKwta) {
      html.push(`<h3>${e(s.network.label)}</h3><div class="figs">`);
      s.runs[0].kwta.forEach((layer, li) => {
        const same = s.runs.map((r) => r.kwta[li]).filter((k) => k && k.layer === layer.layer);
        const counts = layer.histogram.counts.map((_, b) => same.reduce((a, k) => a + (k.histogram.counts[b] ?? 0), 0));
        const above = same.reduce((a, k) => a + k.histogram.above, 0);
        const entropy = meanStd(same.map((k) => k.entropy));
        const what = layer.perChannel ? `${layer.shape[0]} channels of ${layer.shape.slice(1).join(' x ')}` : `${layer.units} units`;
        const unitWord = layer.perChannel ? 'channels' : 'units';
        const svg = histogram({
          title: `layer ${layer.layer}: k-winners ${layer.k} of ${layer.units.toLocaleString('en-US')}`,
          xLabel: `duty cycle (per ${layer.perChannel ? 'channel' : 'unit'})`,
          yLabel: `${unitWord}${same.length > 1 ? ` (${same.length} seeds)` : ''}`,
          width: 460,
          height: 260,
          edges: layer.histogram.edges,
          counts,
          marker: { x: layer.density, label: `k/n = ${layer.density.toFixed(3)}` },
        });
        html.push(
          `<figure style="max-width:460px">${svg}<figcaption>${e(what)}; entropy ${pm(entropy, (x) => x.toFixed(1))} bits of at most ${layer.maxEntropy.toFixed(1)} (${fmtPct(entropy.mean / layer.maxEntropy, 0)}); ` +
            `boost strength at the end ${layer.boostStrength.toFixed(3)}${above ? `; ${above} ${unitWord} at or above ${layer.histogram.edges[layer.histogram.edges.length - 1]} not shown` : ''}.</figcaption></figure>`,
        );
      });
      html.push('</div>');
    }
  }

  // Example digits.
  if (options.examples) {
    const ex = options.examples;
    html.push('<h2 id="examples">What the noise looks like</h2><table class="digits"><thead><tr>');
    for (const l of ex.levels) html.push(`<th>noise ${l.toFixed(2)}</th>`);
    html.push('</tr></thead><tbody>');
    ex.images.forEach((row, i) => {
      html.push('<tr>');
      row.forEach((img, j) => html.push(`<td><img alt="test digit ${i + 1} at noise ${ex.levels[j].toFixed(2)}" src="${pngDataUri(img, 28, 28)}"></td>`));
      html.push('</tr>');
    });
    html.push('</tbody></table>');
    const tableAt = (l: number) => summaries.map((s) => {
      const i = s.runs[0].noise.levels.findIndex((x) => Math.abs(x - l) < 1e-9);
      return i < 0 ? '' : `${e(s.network.label)} ${fmtPct(meanStd(s.runs.map((r) => r.noise.accuracy[i])).mean, 1)}`;
    }).filter((x) => x).join(', ');
    html.push(`<p class="note">The first ${ex.images.length} test digits exactly as the noise test corrupts them (seed ${NOISE_SEED}). Accuracy at noise 0.5: ${tableAt(0.5)}.</p>`);
  }

  // Every run.
  html.push('<h2 id="runs">Every run</h2><table class="runs"><thead><tr><th class="name">network</th><th>seed</th><th class="name">backend</th><th>epochs</th><th>train / test images</th><th>last epoch</th><th>best epoch</th><th>noise score</th><th>training time</th><th>noise test time</th></tr></thead><tbody>');
  for (const s of summaries) {
    for (const r of s.runs) {
      html.push(
        `<tr><td class="name">${e(s.network.label)}</td><td>${r.seed}</td><td class="name">${e(r.backend.name)}</td><td>${r.hyperparameters.epochs}</td><td>${fmtInt(r.data.trainImages)} / ${fmtInt(r.data.testImages)}</td>` +
          `<td>${fmtPct(r.final.testAccuracy)}</td><td>${fmtPct(r.best.testAccuracy)} (epoch ${r.best.epoch})</td><td>${fmtInt(r.noise.score)} of ${fmtInt(r.noise.maxScore)}</td><td>${fmtSeconds(r.timing.trainSeconds)}</td><td>${fmtSeconds(r.timing.noiseSeconds)}</td></tr>`,
      );
    }
  }
  html.push('</tbody></table>');
  html.push('<h2 id="settings">Settings</h2><table class="settings"><thead><tr><th class="name">network</th><th>epochs</th><th>batch (first epoch)</th><th>learning rate</th><th>per epoch</th><th>momentum</th><th>parameters (non-zero)</th></tr></thead><tbody>');
  for (const s of summaries) {
    const h = s.runs[0].hyperparameters;
    html.push(`<tr><td class="name">${e(s.network.label)}</td><td>${h.epochs}</td><td>${h.batchSize}${h.firstEpochBatchSize !== h.batchSize ? ` (${h.firstEpochBatchSize})` : ''}</td><td>${h.lr}</td><td>&times;${h.lrGamma}</td><td>${h.momentum}</td><td>${fmtInt(s.params.total)} (${fmtInt(s.params.nonzero)})</td></tr>`);
  }
  html.push('</tbody></table>');
  html.push('</body></html>');
  return `${html.join('\n')}\n`;
};

/** Every run record in `<dir>/runs`, sorted by network and seed. */
export const readRunRecords = (dir: string): RunRecord[] => {
  const runs = join(dir, 'runs');
  if (!existsSync(runs)) throw new WinnowError('usage', `${dir}: no run records (${runs} does not exist); run winnow experiment paper-mnist --out ${dir} first`);
  const files = readdirSync(runs).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new WinnowError('usage', `${dir}: no run records in ${runs}; run winnow experiment paper-mnist --out ${dir} first`);
  return files.map((f) => readRunRecord(join(runs, f)));
};

/** The files `writePaperMnistReport` wrote. */
export interface WrittenReport {
  readonly report: string;
  readonly noiseCurves: string;
  readonly summary: string;
  readonly records: number;
}

/** Builds the report from `<dir>/runs/*.json` and writes `report.html`, `noise-curves.svg` and `summary.md` to `dir` (atomically). */
export const writePaperMnistReport = (dir: string, options: { readonly generatedAt?: string } = {}): WrittenReport => {
  const records = readRunRecords(dir);
  let examples: NoisyExamples | undefined;
  try {
    examples = noisyExamples();
  } catch {
    examples = undefined; // no MNIST test set here: the report leaves the example digits out
  }
  const html = paperMnistReport(records, { ...options, ...(examples ? { examples } : {}) });
  const summaries = summarizeRuns(records);
  const paths = { report: join(dir, 'report.html'), noiseCurves: join(dir, 'noise-curves.svg'), summary: join(dir, 'summary.md') };
  writeFileAtomic(paths.noiseCurves, `${noiseCurvesSvg(summaries)}\n`);
  writeFileAtomic(paths.summary, `${summaryMarkdown(summaries)}\n`);
  writeFileAtomic(paths.report, html);
  return { ...paths, records: records.length };
};
