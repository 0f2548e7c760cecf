/**
 * Reference `batchNorm`, PyTorch semantics: per feature for vector inputs `[n]` (statistics over
 * the batch), per channel for images `[C, H, W]` (statistics over batch, H and W).
 *
 * Training normalises with the batch mean and biased variance and updates the running statistics
 * in place: running = (1 - momentum) * running + momentum * batchStat, with the unbiased variance
 * (count / (count - 1)) for the running variance. Inference normalises with the running
 * statistics. With `affine`, the output is xhat * gamma + beta.
 *
 * Inputs: `[x, runningMean, runningVar, gamma?, beta?]`; gradients flow to x, gamma and beta,
 * never to the running statistics.
 */
import type { Arr, Kernel, KernelContext } from '../kernel.ts';

/** Channels, elements per channel per sample, and elements per channel in the whole batch. */
const layout = (ctx: KernelContext) => {
  const shape = ctx.inShapes[0];
  const channels = shape[0];
  const spatial = shape.slice(1).reduce((a, b) => a * b, 1);
  return { channels, spatial, count: ctx.batch * spatial };
};

interface BatchNormCache {
  /** The normalised input (before gamma and beta). */
  readonly xhat: Arr;
  /** 1 / sqrt(var + epsilon) per channel, with the variance that was used. */
  readonly invStd: Float64Array;
  /** Whether the batch statistics were used (the gradient then flows through them). */
  readonly batchStats: boolean;
}

/**
 * The reference batchNorm kernel. Attributes `affine`, `momentum`, `epsilon`. Backward gives
 * `[dx, undefined, undefined, dgamma?, dbeta?]`.
 */
export const batchNormKernel: Kernel = {
  forward: (ctx) => {
    const [x, runningMean, runningVar, gamma, beta] = ctx.inputs;
    const affine = ctx.op.attrs.affine === true && gamma !== undefined && beta !== undefined;
    const momentum = ctx.op.attrs.momentum as number;
    const epsilon = ctx.op.attrs.epsilon as number;
    const { channels, spatial, count } = layout(ctx);
    const sampleSize = channels * spatial;
    const mean = new Float64Array(channels);
    const invStd = new Float64Array(channels);
    for (let ch = 0; ch < channels; ch++) {
      let m: number;
      let v: number;
      if (ctx.training) {
        let s = 0;
        for (let b = 0; b < ctx.batch; b++) {
          const o = b * sampleSize + ch * spatial;
          for (let p = 0; p < spatial; p++) s += x[o + p];
        }
        m = s / count;
        let ss = 0;
        for (let b = 0; b < ctx.batch; b++) {
          const o = b * sampleSize + ch * spatial;
          for (let p = 0; p < spatial; p++) {
            const d = x[o + p] - m;
            ss += d * d;
          }
        }
        v = ss / count;
        // One value per channel has no unbiased variance; keep the biased one (0) then.
        const unbiased = count > 1 ? (ss / (count - 1)) : v;
        runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * m;
        runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * unbiased;
      } else {
        m = runningMean[ch];
        v = runningVar[ch];
      }
      mean[ch] = m;
      invStd[ch] = 1 / Math.sqrt(v + epsilon);
    }
    const xhat = ctx.alloc(x.length);
    const out = ctx.alloc(x.length);
    for (let b = 0; b < ctx.batch; b++) {
      for (let ch = 0; ch < channels; ch++) {
        const o = b * sampleSize + ch * spatial;
        const m = mean[ch], is = invStd[ch];
        const g = affine ? gamma[ch] : 1, bt = affine ? beta[ch] : 0;
        for (let p = 0; p < spatial; p++) {
          const n = (x[o + p] - m) * is;
          xhat[o + p] = n;
          out[o + p] = n * g + bt;
        }
      }
    }
    return { out, cache: { xhat, invStd, batchStats: ctx.training } satisfies BatchNormCache };
  },
  backward: (ctx, cache, dOut) => {
    const { xhat, invStd, batchStats } = cache as BatchNormCache;
    const gamma = ctx.inputs[3];
    const affine = ctx.op.attrs.affine === true && gamma !== undefined && ctx.inputs[4] !== undefined;
    const { channels, spatial, count } = layout(ctx);
    const sampleSize = channels * spatial;
    const dx = ctx.alloc(xhat.length);
    const dgamma = affine ? ctx.alloc(channels) : undefined;
    const dbeta = affine ? ctx.alloc(channels) : undefined;
    for (let ch = 0; ch < channels; ch++) {
      // sum(dy) and sum(dy * xhat) over the channel's elements: dbeta, dgamma, and the two
      // correction terms of the gradient through the batch mean and variance.
      let sumDy = 0, sumDyXhat = 0;
      for (let b = 0; b < ctx.batch; b++) {
        const o = b * sampleSize + ch * spatial;
        for (let p = 0; p < spatial; p++) {
          sumDy += dOut[o + p];
          sumDyXhat += dOut[o + p] * xhat[o + p];
        }
      }
      if (dgamma && dbeta) {
        dgamma[ch] = sumDyXhat;
        dbeta[ch] = sumDy;
      }
      const g = affine ? gamma[ch] : 1;
      const scale = g * invStd[ch];
      const meanDy = sumDy / count, meanDyXhat = sumDyXhat / count;
      for (let b = 0; b < ctx.batch; b++) {
        const o = b * sampleSize + ch * spatial;
        for (let p = 0; p < spatial; p++) {
          // dx = gamma / std * (dy - mean(dy) - xhat * mean(dy * xhat)) with batch statistics;
          // just gamma / std * dy with fixed running statistics.
          dx[o + p] = batchStats
            ? scale * (dOut[o + p] - meanDy - xhat[o + p] * meanDyXhat)
            : scale * dOut[o + p];
        }
      }
    }
    return affine ? [dx, undefined, undefined, dgamma, dbeta] : [dx, undefined, undefined];
  },
};
