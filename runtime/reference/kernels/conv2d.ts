/**
 * Reference `conv2d` by im2col: every output position's receptive field (zero padded) becomes a
 * row of a `[batch * OH * OW, C * K * K]` matrix, so the convolution is one product with the
 * weights viewed as `[F, C * K * K]`, and the backward pass is two more products plus a col2im
 * scatter-add. Sparse weights need nothing here (masked weights are zero; the optimizer keeps them
 * so). DropConnect: at training a fresh Bernoulli keep-mask (keep probability 1 - rate, one
 * `rng.float()` per weight in row-major order) gives W_eff = W * mask with no rescaling; at
 * inference W_eff = W * (1 - rate), the expectation.
 *
 * Layout: x `[batch, C, H, W]`, weights `[F, C, K, K]`, bias `[F]`, output `[batch, F, OH, OW]`.
 */
import type { Arr, Kernel, KernelContext } from '../kernel.ts';
import { matmulABAccumulate, matmulABt, matmulAtBAccumulate } from '../linalg.ts';
import { effectiveWeights, weightGradient, type EffectiveWeights } from './dropconnect.ts';

/** Sizes of one conv2d call. */
interface Geometry {
  readonly batch: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly f: number;
  readonly k: number;
  readonly stride: number;
  readonly pad: number;
  readonly oh: number;
  readonly ow: number;
  /** Output positions of the whole batch (rows of the im2col matrix). */
  readonly rows: number;
  /** C * K * K (columns of the im2col matrix). */
  readonly patch: number;
}

const geometry = (ctx: KernelContext): Geometry => {
  const [c, h, w] = ctx.inShapes[0];
  const [f, oh, ow] = ctx.op.shape!;
  const k = ctx.op.attrs.kernel as number;
  const stride = (ctx.op.attrs.stride as number | undefined) ?? 1;
  const pad = (ctx.op.attrs.padding as number | undefined) ?? 0;
  return { batch: ctx.batch, c, h, w, f, k, stride, pad, oh, ow, rows: ctx.batch * oh * ow, patch: c * k * k };
};

/**
 * Visits every (row, column) of the im2col matrix whose source pixel lies inside the image
 * (padding is zero and skipped), passing the flat indices into the matrix and into x.
 */
const forEachPatchEntry = (g: Geometry, visit: (colIndex: number, xIndex: number) => void): void => {
  const { c, h, w, k, stride, pad, oh, ow, patch } = g;
  for (let b = 0; b < g.batch; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const row = ((b * oh + oy) * ow + ox) * patch;
        for (let ch = 0; ch < c; ch++) {
          const plane = (b * c + ch) * h;
          for (let ky = 0; ky < k; ky++) {
            const y = oy * stride - pad + ky;
            if (y < 0 || y >= h) continue;
            const xRow = (plane + y) * w;
            const colBase = row + (ch * k + ky) * k;
            for (let kx = 0; kx < k; kx++) {
              const xx = ox * stride - pad + kx;
              if (xx < 0 || xx >= w) continue;
              visit(colBase + kx, xRow + xx);
            }
          }
        }
      }
    }
  }
};

/** x -> its im2col matrix `[batch * OH * OW, C * K * K]`. */
const im2col = (g: Geometry, x: Arr, cols: Arr): void => forEachPatchEntry(g, (ci, xi) => { cols[ci] = x[xi]; });

/** The im2col matrix's gradient -> x's gradient (scatter-add; overlapping windows sum). */
const col2im = (g: Geometry, dCols: Arr, dx: Arr): void => forEachPatchEntry(g, (ci, xi) => { dx[xi] += dCols[ci]; });

interface Conv2dCache {
  readonly cols: Arr;
  readonly eff: EffectiveWeights;
}

/**
 * The reference conv2d kernel. Inputs `[x, W, b?]`; attributes `kernel`, `stride`, `padding`,
 * `dropconnect` (rate); output shape `[F, OH, OW]` from the op. Backward gives `[dx, dW, db?]`.
 */
export const conv2dKernel: Kernel = {
  forward: (ctx) => {
    const g = geometry(ctx);
    const [x, w0, bias] = ctx.inputs;
    const eff = effectiveWeights(ctx, w0);
    const w = eff.w;
    const cols = ctx.alloc(g.rows * g.patch);
    im2col(g, x, cols);
    // Position-major product [rows, F], then transposed to [batch, F, OH, OW] with the bias.
    const pos = ctx.alloc(g.rows * g.f);
    matmulABt(cols, w, pos, g.rows, g.f, g.patch);
    const plane = g.oh * g.ow;
    const out = ctx.alloc(g.batch * g.f * plane);
    for (let b = 0; b < g.batch; b++) {
      for (let f = 0; f < g.f; f++) {
        const bf = bias ? bias[f] : 0;
        const o = (b * g.f + f) * plane;
        for (let p = 0; p < plane; p++) out[o + p] = pos[(b * plane + p) * g.f + f] + bf;
      }
    }
    return { out, cache: { cols, eff } satisfies Conv2dCache };
  },
  backward: (ctx, cache, dOut) => {
    const { cols, eff } = cache as Conv2dCache;
    const g = geometry(ctx);
    const bias = ctx.inputs[2];
    const plane = g.oh * g.ow;
    // dOut [batch, F, OH, OW] -> position-major [rows, F]; db is its column sums.
    const dPos = ctx.alloc(g.rows * g.f);
    const db = bias ? ctx.alloc(g.f) : undefined;
    for (let b = 0; b < g.batch; b++) {
      for (let f = 0; f < g.f; f++) {
        const o = (b * g.f + f) * plane;
        let s = 0;
        for (let p = 0; p < plane; p++) {
          const d = dOut[o + p];
          dPos[(b * plane + p) * g.f + f] = d;
          s += d;
        }
        if (db) db[f] += s;
      }
    }
    // dW_eff = dPos^T cols (summed over the batch), then back through the mask or the scale.
    const dw = ctx.alloc(g.f * g.patch);
    matmulAtBAccumulate(dPos, cols, dw, g.rows, g.f, g.patch);
    weightGradient(dw, eff);
    // dCols = dPos W_eff, scattered back onto the image.
    const dCols = ctx.alloc(g.rows * g.patch);
    matmulABAccumulate(dPos, eff.w, dCols, g.rows, g.f, g.patch);
    const dx = ctx.alloc(g.batch * g.c * g.h * g.w);
    col2im(g, dCols, dx);
    return [dx, dw, db];
  },
};
