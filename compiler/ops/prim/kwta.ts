/**
 * k-winners primitives. `kwtaThreshold` finds, per sample and group, the k-th largest boosted key
 * x * exp(-strength * dutyCycle); `kwtaApply` keeps x where its key reaches the threshold (and,
 * with `relu`, x > 0); `kwtaGrad` passes the gradient at exactly those winners; `dutyCycle` is the
 * training-time duty-cycle update. Keys are rounded to float32 (`Math.fround`) on every backend so
 * all of them pick the same winners. With `breakTies`, exactly k win, lower index first.
 *
 * Element e of a sample belongs to group `local ? e % hw : 0` as member `local ? e / hw : e`;
 * its duty cycle is entry `floor(e / hw)` (per channel for feature maps, `hw` = 1 for vectors).
 *
 * `kwtaKeys` (the gpujs target of pass `sparseForms` only) materialises the keys once per call,
 * so that `kwtaThreshold`'s bisection reads them instead of evaluating an exp per member and step:
 * `kwtaThreshold(x, dutyCycles, strength, keys)` finds the same threshold from them (the keys are
 * the same float32 values every other k-winners op computes, `kwtaKey`).
 */
import { fromAttrs, kwtaAttrs, sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `kwtaThreshold(x, dutyCycles, strength)`, or with the layer's `kwtaKeys` as a fourth input: `[groups]` per sample. */
export const kwtaThresholdOp: OpDef = {
  name: 'kwtaThreshold',
  arity: [3, 4],
  attrs: kwtaAttrs,
  inferShape: fromAttrs((a) => [a.groups as number]),
  check: (_op, ins) => (ins.length === 4 && (!ins[3].batched || String(ins[3].shape) !== String(ins[0].shape)) ? ['keys must have the shape of x'] : []),
  grad: () => [undefined, undefined, undefined],
};

/** `kwtaKeys(x, dutyCycles, strength)`: each element's key, float32-rounded x * exp(-strength * dutyCycle). */
export const kwtaKeysOp: OpDef = { name: 'kwtaKeys', arity: [3, 3], attrs: kwtaAttrs, elementwise: { main: 0 }, inferShape: sameAs(0) };

/** `kwtaApply(x, threshold, dutyCycles, strength)`. */
export const kwtaApplyOp: OpDef = {
  name: 'kwtaApply',
  arity: [4, 4],
  attrs: kwtaAttrs,
  inferShape: sameAs(0),
  grad: (op, g, ctx, needs) => [needs[0] ? ctx.emit('kwtaGrad', [g, ...op.inputs], op.attrs) : undefined, undefined, undefined, undefined],
};

/** `kwtaGrad(g, x, threshold, dutyCycles, strength)`: g at the winners, 0 elsewhere. */
export const kwtaGradOp: OpDef = { name: 'kwtaGrad', arity: [5, 5], attrs: kwtaAttrs, elementwise: { main: 0 }, inferShape: sameAs(0) };

/**
 * `dutyCycle(y, dutyCycles, samplesSeen)`: with period = min(dutyCyclePeriod, samplesSeen),
 * dc' = (dc x (period - batch) + count(y > 0) / hw) / period, the count over the batch (and over
 * each channel's H x W positions).
 */
export const dutyCycleOp: OpDef = {
  name: 'dutyCycle',
  arity: [3, 3],
  attrs: { period: 'int', hw: 'int', units: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
};
