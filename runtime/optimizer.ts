/**
 * SGD with momentum and weight decay (PyTorch's semantics, dampening 0, no Nesterov):
 * g = grad + weightDecay * w; buf = momentum * buf + g; w -= lr * buf. A sparse weight's
 * momentum buffer is masked (0 at the masked entries, as the compiled backends store it: see pass
 * `optimizer`) and its masked weights are re-zeroed after every step, so sparse weights stay sparse.
 *
 * @example
 * import { sgdStep } from 'winnow/runtime/optimizer';
 * // sgdStep(state, grads, { lr: 0.01, momentum: 0.9, weightDecay: 0 });
 */
import { applyMasks, type ModelState } from './model-state.ts';
import type { Arr } from './reference/kernel.ts';

/** Hyperparameters of one step. */
export interface SgdSettings {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
}

/** One optimizer step on every parameter, then mask re-zeroing. */
export const sgdStep = (state: ModelState, grads: ReadonlyMap<string, Arr>, s: SgdSettings): void => {
  for (const [name, g] of grads) {
    const w = state.tensors.get(name)!.data;
    const buf = state.momentum.get(name)!;
    const mask = state.masks.get(name);
    for (let i = 0; i < w.length; i++) {
      const gi = g[i] + s.weightDecay * w[i];
      const b = mask && !mask[i] ? 0 : s.momentum * buf[i] + gi;
      buf[i] = b;
      w[i] -= s.lr * b;
    }
  }
  applyMasks(state);
};
