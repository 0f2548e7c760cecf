/**
 * Duty-cycle statistics of a trained model's k-winners layers: each layer's final duty cycles,
 * their histogram, and their entropy as nupic.torch defines it.
 *
 * A duty cycle is the running fraction of samples in which a unit (for a k-winners layer on
 * feature maps: a channel, counting its H x W positions and dividing by H x W) was active. Entropy
 * is in bits: the sum over units of the binary entropy H(d) = -d log2 d - (1 - d) log2 (1 - d);
 * for feature maps each channel stands for its H x W units (nupic's KWinners2d multiplies the
 * channels' sum by n / C). The maximum is n x H(k / n), reached when every unit is active exactly
 * k / n of the time, so entropy / maxEntropy says how evenly the layer uses its units.
 *
 * @example
 * import { kwtaLayerStats } from 'winnow/runtime/experiment/duty-cycles';
 * // const layers = kwtaLayerStats(model.lowered, model.state); // [{ layer: 2, entropy, maxEntropy, histogram, ... }]
 */
import type { Lowered } from '../../compiler/index.ts';
import type { ModelState } from '../model-state.ts';

/** Bins of the duty-cycle histogram, over [0, HISTOGRAM_SPAN x k/n] (capped at 1). */
export const HISTOGRAM_BINS = 24;
const HISTOGRAM_SPAN = 3;

/** A duty-cycle histogram: `counts[i]` values in [edges[i], edges[i + 1]); `above`: values >= the last edge. */
export interface DutyCycleHistogram {
  readonly edges: number[];
  readonly counts: number[];
  readonly above: number;
}

/** One k-winners layer's duty-cycle statistics. */
export interface KwtaLayerStats {
  /** Index of the layer in the model file. */
  readonly layer: number;
  /** The layer's output shape per sample. */
  readonly shape: number[];
  /** Units (n): the layer's output size. */
  readonly units: number;
  readonly k: number;
  readonly kInference: number;
  /** Target activation density k / n. */
  readonly density: number;
  /** Duty cycles are per channel (a k-winners layer on feature maps) rather than per unit. */
  readonly perChannel: boolean;
  /** The final duty cycles (6 significant digits). */
  readonly dutyCycles: number[];
  readonly histogram: DutyCycleHistogram;
  /** Bits (see the module comment). */
  readonly entropy: number;
  readonly maxEntropy: number;
  /** The boost strength at the end of training. */
  readonly boostStrength: number;
}

/**
 * Binary entropy in bits of a probability (0 at 0 and 1).
 *
 * @example
 * binaryEntropy(0.5); // 1
 */
export const binaryEntropy = (p: number): number => (p <= 0 || p >= 1 ? 0 : -p * Math.log2(p) - (1 - p) * Math.log2(1 - p));

/**
 * The histogram of duty cycles for a layer of target density `density`: HISTOGRAM_BINS bins over
 * [0, 3 x density] (capped at 1), so histograms of the same layer from different seeds add up.
 *
 * @example
 * dutyCycleHistogram([0.01, 0.1, 0.5], 0.1).above; // 1 (0.5 >= 0.3)
 */
export const dutyCycleHistogram = (values: ArrayLike<number>, density: number): DutyCycleHistogram => {
  const hi = Number(Math.min(1, HISTOGRAM_SPAN * density).toPrecision(6));
  const edges = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => Number(((i * hi) / HISTOGRAM_BINS).toPrecision(6)));
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  let above = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v >= hi) {
      above++;
      continue;
    }
    // the bin by division, then nudged so that it agrees with the (rounded) edges exactly
    let b = Math.max(0, Math.min(HISTOGRAM_BINS - 1, Math.floor((v / hi) * HISTOGRAM_BINS)));
    while (b + 1 < HISTOGRAM_BINS && v >= edges[b + 1]) b++;
    while (b > 0 && v < edges[b]) b--;
    counts[b]++;
  }
  return { edges, counts, above };
};

/** The duty-cycle statistics of every k-winners layer of a model, in layer order. */
export const kwtaLayerStats = (lowered: Lowered, state: ModelState): KwtaLayerStats[] =>
  lowered.ir.ops
    .filter((op) => op.op === 'kwta')
    .map((op) => {
      const shape = [...op.shape!]; // per sample
      const dc = state.tensors.get(`l${op.layer}.dutyCycle`)!.data;
      const strength = state.tensors.get(`l${op.layer}.boostStrength`)!.data[0];
      const n = op.attrs.n as number;
      const k = op.attrs.k as number;
      const perChannel = shape.length === 3;
      const perEntry = n / dc.length; // units each duty cycle stands for (H x W for feature maps)
      let entropy = 0;
      for (let i = 0; i < dc.length; i++) entropy += binaryEntropy(dc[i]) * perEntry;
      return {
        layer: op.layer!,
        shape,
        units: n,
        k,
        kInference: op.attrs.kInference as number,
        density: k / n,
        perChannel,
        dutyCycles: Array.from(dc, (v) => Number(v.toPrecision(6))),
        histogram: dutyCycleHistogram(dc, k / n),
        entropy,
        maxEntropy: n * binaryEntropy(k / n),
        boostStrength: strength,
      };
    });
