/**
 * DropConnect for the reference dense and conv2d kernels: at training a fresh keep-mask over W
 * per batch (keep probability 1 - rate, one `rng.float() >= rate` draw per weight in row-major
 * order, no rescaling); at inference W_eff = W * (1 - rate), the expectation; without DropConnect
 * W itself and no draws.
 */
import type { Arr, KernelContext } from '../kernel.ts';

/** W_eff and how dW_eff maps back to dW (a mask at training, a factor at inference). */
export interface EffectiveWeights {
  readonly w: Arr;
  readonly mask?: Uint8Array;
  readonly scale?: number;
}

/** W_eff for this call. */
export const effectiveWeights = (ctx: KernelContext, w: Arr): EffectiveWeights => {
  const rate = Number(ctx.op.attrs.dropconnect ?? 0);
  if (!(rate > 0)) return { w };
  const eff = ctx.alloc(w.length);
  if (!ctx.training) {
    const scale = 1 - rate;
    for (let i = 0; i < w.length; i++) eff[i] = w[i] * scale;
    return { w: eff, scale };
  }
  const mask = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    if (ctx.rng.float() >= rate) {
      mask[i] = 1;
      eff[i] = w[i];
    }
  }
  return { w: eff, mask };
};

/** Turns d loss / d W_eff into d loss / d W, in place. */
export const weightGradient = (dwEff: Arr, e: EffectiveWeights): Arr => {
  if (e.mask) for (let i = 0; i < dwEff.length; i++) if (!e.mask[i]) dwEff[i] = 0;
  if (e.scale !== undefined) for (let i = 0; i < dwEff.length; i++) dwEff[i] *= e.scale;
  return dwEff;
};
