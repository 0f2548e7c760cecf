/**
 * How evenly a k-winners layer spreads its winners: the binary entropy of its duty cycles, as
 * nupic.torch reports it. Each unit's duty cycle d is the fraction of recent samples it won;
 * the layer's entropy is the sum over units of H(d) = -d log2 d - (1 - d) log2 (1 - d) bits, and
 * its maximum, reached when every unit wins equally often (d = k / n), is units x H(k / n). A
 * layer whose few units win all the time has low entropy; boosting pushes it towards the maximum.
 *
 * @example
 * import { dutyCycleEntropy } from 'winnow/runtime/duty-cycle-entropy';
 * // dutyCycleEntropy(model.lowered, model.state)
 * // [{ layer: 1, units: 1000, entropy: 402.7, maxEntropy: 469.0 }, { layer: 3, ... }]
 */
import type { Lowered } from '../compiler/stages.ts';
import type { ModelState } from './model-state.ts';

/** One k-winners layer's duty-cycle entropy, in bits. */
export interface LayerEntropy {
  /** The layer's index in the network. */
  readonly layer: number;
  /** Duty cycles it keeps (units, or channels of a convolutional layer). */
  readonly units: number;
  readonly entropy: number;
  /** units x H(k / n): the entropy when every unit wins equally often. */
  readonly maxEntropy: number;
}

/** Binary entropy in bits of a probability (0 at 0 and 1). */
const h = (p: number): number => (p <= 0 || p >= 1 ? 0 : -p * Math.log2(p) - (1 - p) * Math.log2(1 - p));

/**
 * The duty-cycle entropy of every k-winners layer of a model, in layer order, read from its state
 * (`l<i>.dutyCycle`). Read `state` only when it is current: after `await model.sync?.()` on a
 * device-resident backend.
 *
 * @example
 * import { dutyCycleEntropy } from 'winnow/runtime/duty-cycle-entropy';
 * // const [first] = dutyCycleEntropy(lowered, state); first.entropy / first.maxEntropy; // 0.86
 */
export const dutyCycleEntropy = (lowered: Lowered, state: ModelState): LayerEntropy[] =>
  lowered.ir.ops
    .filter((op) => op.op === 'kwta')
    .map((op) => {
      const dc = state.tensors.get(`l${op.layer}.dutyCycle`)?.data;
      if (!dc) throw new Error(`dutyCycleEntropy: the state has no duty cycles for layer ${op.layer}`);
      let entropy = 0;
      for (let i = 0; i < dc.length; i++) entropy += h(dc[i]);
      const density = (op.attrs.k as number) / (op.attrs.n as number);
      return { layer: op.layer!, units: dc.length, entropy, maxEntropy: dc.length * h(density) };
    });
