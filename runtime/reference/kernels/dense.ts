/**
 * Reference `dense`: y = x W_eff^T + b. Sparse weights need nothing here: masked weights are
 * zero (the optimizer re-zeroes them after every step). W_eff is W, or W under DropConnect
 * (see `dropconnect.ts`).
 */
import type { Arr, Kernel } from '../kernel.ts';
import { effectiveWeights, weightGradient, type EffectiveWeights } from './dropconnect.ts';
import { matmulABAccumulate, matmulABt, matmulAtBAccumulate } from '../linalg.ts';



/** The reference dense kernel. */
export const denseKernel: Kernel = {
  forward: (ctx) => {
    const [x, w0, b] = ctx.inputs;
    const units = ctx.op.attrs.units as number;
    const fanIn = ctx.inShapes[0][0];
    const eff = effectiveWeights(ctx, w0);
    const w = eff.w;
    const out = ctx.alloc(ctx.batch * units);
    matmulABt(x, w, out, ctx.batch, units, fanIn);
    if (b) for (let i = 0; i < ctx.batch; i++) for (let u = 0; u < units; u++) out[i * units + u] += b[u];
    return { out, cache: eff };
  },
  backward: (ctx, cache, dOut) => {
    const eff = cache as EffectiveWeights;
    const [x, , b] = ctx.inputs;
    const units = ctx.op.attrs.units as number;
    const fanIn = ctx.inShapes[0][0];
    const dx = ctx.alloc(ctx.batch * fanIn);
    matmulABAccumulate(dOut, eff.w, dx, ctx.batch, units, fanIn);
    const dw = ctx.alloc(units * fanIn);
    matmulAtBAccumulate(dOut, x, dw, ctx.batch, units, fanIn);
    weightGradient(dw, eff);
    let db: Arr | undefined;
    if (b) {
      db = ctx.alloc(units);
      for (let i = 0; i < ctx.batch; i++) for (let u = 0; u < units; u++) db[u] += dOut[i * units + u];
    }
    return [dx, dw, db];
  },
};
