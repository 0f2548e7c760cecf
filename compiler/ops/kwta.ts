/**
 * `kwta`: k-winners-take-all with boosting; inputs [x, dutyCycles, boostStrength]; its resolved
 * sizes (k, kInference, n, groups) are attributes checked against the input.
 */
import * as E from 'fp-ts/lib/Either.js';
import { kwtaRule, kwtaSizes } from '../../dsl/kwta.ts';
import type { KwtaLayer } from '../../dsl/layer.ts';
import { expectShape, layerShape, type OpDef } from './op-def.ts';

/** The `kwta` op. */
export const kwtaOp: OpDef = {
  name: 'kwta',
  arity: [3, 3],
  attrs: {
    k: 'int', kInference: 'int', n: 'int', groups: 'int', kInferenceFactor: 'number', local: 'bool', breakTies: 'bool', relu: 'bool',
    strengthFactor: 'number', dutyCyclePeriod: 'int',
  },
  inferShape: layerShape('kwta', kwtaRule),
  decompose: (op, [x, dc, strength], ctx) => {
    const shape = ctx.op(x).shape!;
    const a = op.attrs as { k: number; kInference: number; n: number; groups: number; local: boolean; relu: boolean; breakTies: boolean; dutyCyclePeriod: number };
    const hw = shape.length === 3 ? shape[1] * shape[2] : 1;
    const attrs = {
      k: ctx.training ? a.k : a.kInference, groups: a.groups, members: a.local ? shape[0] : a.n, hw, local: a.local, relu: a.relu, breakTies: a.breakTies,
    };
    const threshold = ctx.emit('kwtaThreshold', [x, dc, strength], attrs, { layer: op.layer });
    const y = ctx.emit('kwtaApply', [x, threshold, dc, strength], attrs, { layer: op.layer });
    if (ctx.training) {
      const units = ctx.op(dc).shape![0];
      const next = ctx.emit('dutyCycle', [y, dc, ctx.scalar('samplesSeen')], { period: a.dutyCyclePeriod, hw, units }, { batched: false, layer: op.layer });
      ctx.update(dc, next);
    }
    return y;
  },
  check: (op, ins) => {
    const sizes = kwtaSizes({ kind: 'kwta', ...op.attrs } as unknown as KwtaLayer, ins[0].shape!);
    if (E.isLeft(sizes)) return [sizes.left];
    const s = sizes.right;
    return [
      ...(s.n !== op.attrs.n || s.groups !== op.attrs.groups || s.kInference !== op.attrs.kInference
        ? [`sizes n=${op.attrs.n}, groups=${op.attrs.groups}, kInference=${op.attrs.kInference} do not match the input's n=${s.n}, groups=${s.groups}, kInference=${s.kInference}`]
        : []),
      ...expectShape('duty cycles', ins[1].shape, [s.dutyCycles]),
      ...expectShape('boost strength', ins[2].shape, [1]),
    ];
  },
};
