/**
 * Reference kernels that act elementwise or not at all: `relu`, `flatten` (a reshape: same
 * memory), `dropout` (inverted dropout at training), and the head `softmaxCrossEntropy`, whose
 * forward passes the logits through (the loss is computed by `softmaxCrossEntropyLoss`).
 */
import type { Arr, Kernel } from '../kernel.ts';

/** max(x, 0); gradient 1 where x > 0. */
export const reluKernel: Kernel = {
  forward: (ctx) => {
    const x = ctx.inputs[0];
    const out = ctx.alloc(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
    return { out };
  },
  backward: (ctx, _cache, dOut) => {
    const x = ctx.inputs[0];
    const dx = ctx.alloc(x.length);
    for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dOut[i] : 0;
    return [dx];
  },
};

/** Identity on memory (shapes differ only in the IR). */
export const identityKernel: Kernel = {
  forward: (ctx) => ({ out: ctx.inputs[0] }),
  backward: (_ctx, _cache, dOut) => [dOut],
};

/** Inverted dropout: keep with probability 1 - rate, scale survivors by 1 / (1 - rate). */
export const dropoutKernel: Kernel = {
  forward: (ctx) => {
    const x = ctx.inputs[0];
    const rate = ctx.op.attrs.rate as number;
    if (!ctx.training || rate === 0) return { out: x };
    const scale = 1 / (1 - rate);
    const out = ctx.alloc(x.length);
    const keep = new Uint8Array(x.length);
    for (let i = 0; i < x.length; i++) {
      keep[i] = ctx.rng.float() >= rate ? 1 : 0;
      out[i] = keep[i] ? x[i] * scale : 0;
    }
    return { out, cache: keep };
  },
  backward: (ctx, cache, dOut) => {
    const keep = cache as Uint8Array | undefined;
    if (!keep) return [dOut];
    const scale = 1 / (1 - (ctx.op.attrs.rate as number));
    const dx = ctx.alloc(dOut.length);
    for (let i = 0; i < dOut.length; i++) dx[i] = keep[i] ? dOut[i] * scale : 0;
    return [dx];
  },
};

/** Result of the loss on a batch. */
export interface LossResult {
  /** Mean cross-entropy over the batch. */
  readonly loss: number;
  /** d loss / d logits, `batch x classes`. */
  readonly dLogits: Arr;
  /** Samples whose arg-max logit equals the label. */
  readonly correct: number;
}

/**
 * Mean softmax cross-entropy of `logits` (`batch x classes`) against integer labels, computed
 * stably (log-sum-exp with the row maximum subtracted), with its gradient (softmax - onehot) / batch.
 */
export const softmaxCrossEntropyLoss = (logits: Arr, labels: ArrayLike<number>, batch: number, classes: number, alloc: (n: number) => Arr): LossResult => {
  const dLogits = alloc(batch * classes);
  let total = 0;
  let correct = 0;
  for (let i = 0; i < batch; i++) {
    const o = i * classes;
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < classes; c++) if (logits[o + c] > max) { max = logits[o + c]; arg = c; }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c] - max);
    const logSum = Math.log(sum) + max;
    const label = labels[i];
    total += logSum - logits[o + label];
    if (arg === label) correct++;
    for (let c = 0; c < classes; c++) dLogits[o + c] = (Math.exp(logits[o + c] - logSum) - (c === label ? 1 : 0)) / batch;
  }
  return { loss: total / batch, dLogits, correct };
};

/** Arg-max per row (predictions). */
export const argmaxRows = (logits: Arr, batch: number, classes: number, out: Int32Array = new Int32Array(batch)): Int32Array => {
  for (let i = 0; i < batch; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
};
