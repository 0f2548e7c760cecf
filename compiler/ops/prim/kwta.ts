/**
 * k-winners primitives. `kwtaThreshold` finds, per sample and group, the k-th largest boosted key
 * x * exp(-strength * dutyCycle); `kwtaApply` keeps x where its key reaches the threshold (and,
 * with `relu`, x > 0); `kwtaGrad` passes the gradient at exactly those winners; `dutyCycle` is the
 * training-time duty-cycle update. Keys are rounded to float32 (`Math.fround`) on every backend so
 * all of them pick the same winners. With `breakTies`, exactly k win, lower index first.
 *
 * Element e of a sample belongs to group `local ? e % hw : 0` as member `local ? e / hw : e`;
 * its duty cycle is entry `floor(e / hw)` (per channel for feature maps, `hw` = 1 for vectors).
 */
import { fromAttrs, kwtaAttrs, sameAs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `kwtaThreshold(x, dutyCycles, strength)`: `[groups]` per sample. */
export const kwtaThresholdOp: OpDef = {
  name: 'kwtaThreshold',
  arity: [3, 3],
  attrs: kwtaAttrs,
  inferShape: fromAttrs((a) => [a.groups as number]),
  grad: () => [undefined, undefined, undefined],
};

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
