import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { binaryEntropy, dutyCycleHistogram, HISTOGRAM_BINS, kwtaLayerStats } from '../../runtime/experiment/duty-cycles.ts';
import { initModelState } from '../../runtime/model-state.ts';

describe('duty-cycle statistics', () => {
  it('binary entropy in bits', () => {
    expect(binaryEntropy(0.5)).toBe(1);
    expect(binaryEntropy(0)).toBe(0);
    expect(binaryEntropy(1)).toBe(0);
    expect(binaryEntropy(0.1)).toBeCloseTo(0.4689955935892812, 14);
    expect(binaryEntropy(0.9)).toBeCloseTo(binaryEntropy(0.1), 14);
  });

  it('histogram over [0, 3 k/n] with the values beyond counted apart', () => {
    const h = dutyCycleHistogram([0, 0.0124, 0.0125, 0.1, 0.299, 0.3, 0.9], 0.1);
    expect(h.edges).toHaveLength(HISTOGRAM_BINS + 1);
    expect(h.edges[0]).toBe(0);
    expect(h.edges[HISTOGRAM_BINS]).toBe(0.3);
    expect(h.edges[1]).toBe(0.0125);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(h.counts[0]).toBe(2); // 0 and 0.0124
    expect(h.counts[1]).toBe(1); // 0.0125 starts bin 1
    expect(h.counts[8]).toBe(1); // 0.1
    expect(h.counts[HISTOGRAM_BINS - 1]).toBe(1); // 0.299
    expect(h.above).toBe(2); // 0.3 and 0.9
    expect(dutyCycleHistogram([0.5, 1], 0.5).edges[HISTOGRAM_BINS]).toBe(1); // capped at 1
  });

  it('reads each k-winners layer of a model: per channel on feature maps, entropy as nupic.torch computes it', () => {
    const lowered = lower(trace(readModelFile('examples/models/sparse-cnn2.json')));
    const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
    const conv = state.tensors.get('l2.dutyCycle')!.data; // 32 channels of 12 x 12
    conv.forEach((_, i) => (conv[i] = i % 2 ? 0.05 : 0.125));
    const fc = state.tensors.get('l8.dutyCycle')!.data; // 700 units
    fc.fill(100 / 700);
    state.tensors.get('l8.boostStrength')!.data[0] = 0.75;
    const stats = kwtaLayerStats(lowered, state);
    expect(stats.map((s) => [s.layer, s.units, s.k, s.kInference, s.perChannel, s.dutyCycles.length])).toEqual([
      [2, 4608, 400, 600, true, 32],
      [5, 1024, 300, 450, true, 64],
      [8, 700, 100, 150, false, 700],
    ]);
    expect(stats[0].shape).toEqual([32, 12, 12]);
    // each channel stands for its 144 positions
    expect(stats[0].entropy).toBeCloseTo(144 * 16 * (binaryEntropy(Math.fround(0.05)) + binaryEntropy(0.125)), 6);
    expect(stats[0].maxEntropy).toBeCloseTo(4608 * binaryEntropy(400 / 4608), 9);
    expect(stats[0].histogram.counts.reduce((a, b) => a + b, 0) + stats[0].histogram.above).toBe(32);
    // every unit exactly at k/n: the maximum entropy (float32 duty cycles, so only close)
    expect(stats[2].entropy / stats[2].maxEntropy).toBeCloseTo(1, 6);
    expect(stats[2].boostStrength).toBe(0.75);
    expect(stats[1].entropy).toBe(0); // untrained: all duty cycles 0
    expect(stats[1].histogram.counts[0]).toBe(64);
  });
});
