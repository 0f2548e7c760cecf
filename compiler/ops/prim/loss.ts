/**
 * The softmax cross-entropy head at training: `xentGrad` gives d(mean loss)/d logits =
 * (softmax - onehot) / batch, `xentStats` gives per sample [loss, correct] (the host sums them).
 * Both use the numerically stable log-sum-exp with the row maximum subtracted.
 */
import { fromAttrs } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

/** `xentGrad(logits, labels)`. */
export const xentGradOp: OpDef = { name: 'xentGrad', arity: [2, 2], attrs: { classes: 'int' }, inferShape: fromAttrs((a) => [a.classes as number]) };

/** `xentStats(logits, labels)`: `[2]` per sample: loss, and 1 when the arg-max is the label. */
export const xentStatsOp: OpDef = { name: 'xentStats', arity: [2, 2], attrs: { classes: 'int' }, inferShape: fromAttrs(() => [2]) };
