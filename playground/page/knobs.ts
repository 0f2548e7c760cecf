/**
 * The playground's controls, as data: for every k-winners layer its activation density
 * (`percentOn`) and its boosting (`strength`, `strengthFactor`), for every dense or conv2d layer
 * its weight density. Each knob knows its path in the model file, and `applyKnob` writes a value
 * there (a copy of the JSON); the result is then checked by the model codec like any edit, so a
 * control can never make a model the editor could not.
 *
 * Setting `percentOn` on a layer that uses `k` replaces `k` (they are alternatives, as in
 * `winnow repl`'s `.set`). Boost knobs on a layer without boosting add a `boost` object (a
 * strength of 0 boosts nothing).
 *
 * @example
 * import { knobsOf, applyKnob } from './knobs.ts';
 * // const [k] = knobsOf(summary).filter((k) => k.kind === 'percentOn');
 * // applyKnob(json, k, 0.05); // json with layers[k.layer].kwta.percentOn = 0.05
 */
import type { Summary } from '../../compiler/index.ts';
import type { Network } from '../../dsl/network.ts';
import { getAt, removeField, setAt, type PathKey } from '../../runtime/repl/set-path.ts';

/** What a knob sets. */
export type KnobKind = 'percentOn' | 'weightDensity' | 'boostStrength' | 'boostStrengthFactor';

/** One control. */
export interface Knob {
  readonly kind: KnobKind;
  /** The layer's index in `layers`. */
  readonly layer: number;
  /** What the page shows, e.g. `layer 1 kwta: percentOn`. */
  readonly label: string;
  /** The current value (`percentOn` of a layer given `k` is k / n). */
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly step: number;
  /** The field in the model file (`layers[1].kwta.percentOn`). */
  readonly path: ReadonlyArray<PathKey>;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The knobs of a network, in layer order. */
export const knobsOf = (network: Network, summary: Summary): Knob[] => {
  const knobs: Knob[] = [];
  network.layers.forEach((layer, i) => {
    const at = (kind: string, field: ReadonlyArray<string>): ReadonlyArray<PathKey> => ['layers', i, kind, ...field];
    if (layer.kind === 'dense' || layer.kind === 'conv2d') {
      knobs.push({ kind: 'weightDensity', layer: i, label: `layer ${i} ${layer.kind}: weightDensity`, value: layer.weightDensity, min: 0.05, max: 1, step: 0.05, path: at(layer.kind, ['weightDensity']) });
    } else if (layer.kind === 'kwta') {
      const row = summary.layers[i];
      const density = layer.percentOn ?? (row.k ?? 0) / Math.max(1, row.n ?? 1);
      // percentOn x kInferenceFactor must stay <= 1 (the codec's rule)
      const max = Math.min(0.9, Math.floor((1 / layer.kInferenceFactor) * 100) / 100);
      knobs.push({ kind: 'percentOn', layer: i, label: `layer ${i} kwta: percentOn`, value: round2(density), min: 0.01, max, step: 0.01, path: at('kwta', ['percentOn']) });
      knobs.push({ kind: 'boostStrength', layer: i, label: `layer ${i} kwta: boost strength`, value: layer.boost?.strength ?? 0, min: 0, max: 5, step: 0.1, path: at('kwta', ['boost', 'strength']) });
      knobs.push({ kind: 'boostStrengthFactor', layer: i, label: `layer ${i} kwta: boost strengthFactor`, value: layer.boost?.strengthFactor ?? 0.85, min: 0, max: 1, step: 0.05, path: at('kwta', ['boost', 'strengthFactor']) });
    }
  });
  return knobs;
};

/**
 * A copy of the model file's JSON with `value` at the knob's path. `percentOn` removes the
 * layer's `k`; a boost knob on a layer without `boost` creates it (strength 0 when only the factor
 * is set, so adding it changes nothing until the strength moves).
 */
export const applyKnob = (json: unknown, knob: Pick<Knob, 'kind' | 'path'>, value: number): unknown => {
  const v = round2(value);
  if (knob.kind === 'percentOn') return setAt(setAt(json, knob.path, v), [...knob.path.slice(0, -1), 'k'], removeField);
  if (knob.kind === 'boostStrengthFactor') {
    const boostPath = knob.path.slice(0, -1);
    const boost = getAt(json, boostPath);
    const withBoost = typeof boost === 'object' && boost !== null && !Array.isArray(boost) ? json : setAt(json, [...boostPath, 'strength'], 0);
    return setAt(withBoost, knob.path, v);
  }
  return setAt(json, knob.path, v);
};

