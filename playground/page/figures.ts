/**
 * The playground's figures as SVG strings, drawn with winnow's own plotting module
 * (runtime/report/svg.ts, the experiment report's): the training curves (loss; accuracy on the
 * training batches and on the test images), one duty-cycle histogram per k-winners layer, and
 * the noise curve. Text in them is escaped by the plotting module; none comes from the model file.
 *
 * @example
 * import { lossFigure } from './figures.ts';
 * const svg = lossFigure([{ step: 1, epoch: 1, samplesSeen: 64, loss: 2.3, accuracy: 0.1 }]);
 */
import { histogram, linePlot } from '../../runtime/report/svg.ts';
import type { LayerDutyCycles, NoiseCurve, StepPoint } from './training-run.ts';

const size = { width: 460, height: 250 };

/** The mean of the last `window` values at every point (training curves are noisy per batch). */
const runningMean = (values: ReadonlyArray<number>, window: number): number[] => {
  const out: number[] = [];
  let sum = 0;
  values.forEach((v, i) => {
    sum += v - (i >= window ? values[i - window] : 0);
    out.push(sum / Math.min(i + 1, window));
  });
  return out;
};

/** At most `max` evenly spaced points, the last one always kept. */
const thin = <T,>(points: ReadonlyArray<T>, max = 400): T[] => {
  if (points.length <= max) return [...points];
  const every = points.length / max;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * every)]);
  out[out.length - 1] = points[points.length - 1];
  return out;
};

const smoothing = (steps: ReadonlyArray<StepPoint>): number => Math.max(1, Math.min(20, Math.ceil(steps.length / 10)));

/** Training loss against the step (a running mean over a few steps). */
export const lossFigure = (steps: ReadonlyArray<StepPoint>): string => {
  const w = smoothing(steps);
  const mean = runningMean(steps.map((s) => s.loss), w);
  return linePlot({
    ...size,
    title: 'Training loss',
    xLabel: 'step',
    yLabel: `loss (mean of ${w} step${w === 1 ? '' : 's'})`,
    series: [{ name: 'training loss', points: thin(steps.map((s, i) => [s.step, mean[i]] as const)) }],
    markers: steps.length < 40,
  });
};

/** Accuracy (%) against the step: the training batches (running mean) and the test images. */
export const accuracyFigure = (steps: ReadonlyArray<StepPoint>, tests: ReadonlyArray<{ readonly step: number; readonly accuracy: number }>): string => {
  const w = smoothing(steps);
  const mean = runningMean(steps.map((s) => s.accuracy * 100), w);
  return linePlot({
    ...size,
    title: 'Accuracy',
    xLabel: 'step',
    yLabel: 'accuracy (%)',
    yDomain: [0, 100],
    legend: 'right',
    series: [
      { name: 'training batches', points: thin(steps.map((s, i) => [s.step, mean[i]] as const)), dashed: true },
      { name: 'test images', points: tests.map((t) => [t.step, t.accuracy * 100] as const) },
    ],
    markers: true,
  });
};

/** A k-winners layer's duty cycles as a histogram, with k / n (every unit winning equally often) marked. */
export const dutyCycleFigure = (d: LayerDutyCycles): string => {
  const target = d.k / d.n;
  let top = 2 * target;
  for (const v of d.values) if (v > top) top = v;
  const bins = 24;
  const edges = Array.from({ length: bins + 1 }, (_, i) => Math.round(((i * top) / bins) * 1e6) / 1e6);
  const counts = new Array<number>(bins).fill(0);
  for (const v of d.values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v / top) * bins)))]++;
  return histogram({
    ...size,
    title: `Layer ${d.layer} k-winners: entropy ${d.entropy.toFixed(1)} of ${d.maxEntropy.toFixed(1)} bits`,
    xLabel: 'duty cycle (fraction of recent samples a unit won)',
    yLabel: 'units',
    edges,
    counts,
    marker: { x: target, label: `k/n = ${d.k}/${d.n}` },
  });
};

/** Test accuracy (%) against the fraction of pixels replaced by noise. */
export const noiseFigure = (n: NoiseCurve): string =>
  linePlot({
    ...size,
    title: `Noise test: score ${n.score.toLocaleString('en-US')} of ${n.maxScore.toLocaleString('en-US')}${n.done ? '' : ' so far'}`,
    xLabel: 'fraction of pixels replaced by noise',
    yLabel: 'test accuracy (%)',
    xDomain: [0, 0.5],
    yDomain: [0, 100],
    series: [{ name: 'test accuracy', points: n.levels.map((l, i) => [l, n.accuracy[i] * 100] as const) }],
  });
