/**
 * Which trained state survives a change to a model (`.set` in `winnow repl`). The rule: a state
 * tensor (a weight or bias with its momentum buffer, a duty cycle, a boost strength, a running
 * statistic) is kept when, in the changed model, the layer at its index has the same kind and the
 * tensor has the same name, shape and initialisation (for sparse weights also the same number of
 * kept inputs per unit, so the mask is kept with them). Everything else starts afresh from the
 * seed, exactly as a new model would. So `layers.1.kwta.percentOn` or a dropout rate keeps every
 * tensor; `dense.units` re-initialises that layer and the next weighted layer (their shapes
 * change); a boost `strength` resets that layer's boost strength; a `weightDensity` that changes
 * the kept inputs per unit re-draws that layer's mask and weights.
 *
 * @example
 * import { keepState } from 'winnow/runtime/repl/keep-state';
 * // const { state, kept, reset } = keepState({ network, lowered, state }, { network: changed, lowered: lower(trace(changed)) }, 1);
 */
import type { Lowered } from '../../compiler/stages.ts';
import type { Network } from '../../dsl/network.ts';
import { initModelState, stateLayout, type LayoutEntry, type ModelState } from '../model-state.ts';

/** The outcome: the new model's state, and the tensor names kept and re-initialised. */
export interface KeptState {
  readonly state: ModelState;
  readonly kept: ReadonlyArray<string>;
  readonly reset: ReadonlyArray<string>;
}

const sameEntry = (a: LayoutEntry, b: LayoutEntry): boolean =>
  a.op.op === b.op.op &&
  a.shape.length === b.shape.length &&
  a.shape.every((d, i) => d === b.shape[i]) &&
  JSON.stringify(a.op.attrs) === JSON.stringify(b.op.attrs) &&
  a.mask?.fanIn === b.mask?.fanIn &&
  a.mask?.kept === b.mask?.kept;

/** The state of `to`: `from`'s tensors where the rule above keeps them (copied), fresh ones from `seed` elsewhere. */
export const keepState = (
  from: { readonly network: Network; readonly lowered: Lowered; readonly state: ModelState },
  to: { readonly network: Network; readonly lowered: Lowered },
  seed: number,
): KeptState => {
  const fresh = initModelState(to.lowered, { seed, dtype: from.state.dtype });
  const before = new Map(stateLayout(from.lowered).map((e) => [e.name, e]));
  const kept: string[] = [];
  const reset: string[] = [];
  for (const entry of stateLayout(to.lowered)) {
    const old = before.get(entry.name);
    const layer = entry.op.layer!;
    const sameLayer = from.network.layers[layer]?.kind === to.network.layers[layer]?.kind;
    if (!old || !sameLayer || !sameEntry(old, entry)) {
      reset.push(entry.name);
      continue;
    }
    kept.push(entry.name);
    const t = fresh.tensors.get(entry.name)!;
    fresh.tensors.set(entry.name, { ...t, data: from.state.tensors.get(entry.name)!.data.slice() });
    const momentum = from.state.momentum.get(entry.name);
    if (momentum) fresh.momentum.set(entry.name, momentum.slice());
    const mask = from.state.masks.get(entry.name);
    if (mask) fresh.masks.set(entry.name, mask.slice());
  }
  return { state: fresh, kept, reset };
};
