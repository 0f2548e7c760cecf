/**
 * Reference `maxPool2d`: square windows with stride equal to their size, no padding, floor output
 * size (trailing rows and columns that do not fill a window are dropped). The forward caches the
 * argmax of each window (the first maximum in row-major window order on ties), and the backward
 * routes each output gradient to it.
 *
 * Layout: x `[batch, C, H, W]`, output `[batch, C, H / size, W / size]` (floored).
 */
import type { Kernel } from '../kernel.ts';

/** The reference maxPool2d kernel. Input `[x]`; attribute `size`. Backward gives `[dx]`. */
export const maxPool2dKernel: Kernel = {
  forward: (ctx) => {
    const [x] = ctx.inputs;
    const [c, h, w] = ctx.inShapes[0];
    const size = ctx.op.attrs.size as number;
    const oh = Math.floor(h / size);
    const ow = Math.floor(w / size);
    const out = ctx.alloc(ctx.batch * c * oh * ow);
    const argmax = new Int32Array(out.length);
    let o = 0;
    for (let plane = 0; plane < ctx.batch * c; plane++) {
      const base = plane * h * w;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, o++) {
          let best = base + oy * size * w + ox * size;
          let bestValue = x[best];
          for (let ky = 0; ky < size; ky++) {
            const row = base + (oy * size + ky) * w + ox * size;
            for (let kx = 0; kx < size; kx++) {
              if (x[row + kx] > bestValue) {
                bestValue = x[row + kx];
                best = row + kx;
              }
            }
          }
          out[o] = bestValue;
          argmax[o] = best;
        }
      }
    }
    return { out, cache: argmax };
  },
  backward: (ctx, cache, dOut) => {
    const argmax = cache as Int32Array;
    const dx = ctx.alloc(ctx.inputs[0].length);
    for (let o = 0; o < argmax.length; o++) dx[argmax[o]] += dOut[o];
    return [dx];
  },
};
