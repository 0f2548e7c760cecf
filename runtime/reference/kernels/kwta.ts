/**
 * Reference k-winners-take-all with boosting and duty cycles (nupic.torch semantics).
 *
 * - Groups: the whole sample (vectors, and global k-winners over C x H x W), or, when `local`,
 *   each spatial position's C channels.
 * - Winners are chosen on boosted values x * exp(-strength * dutyCycle[unit or channel]); the
 *   output keeps the original x at winners and 0 elsewhere (with `relu`, negative winners are 0
 *   too). k at training, kInference at inference.
 * - Ties: without breakTies every unit whose boosted value is >= the k-th largest wins (possibly
 *   more than k); with breakTies exactly k win, lower index first among equals.
 * - Gradient: 1 at (non-zeroed) winners, 0 elsewhere.
 * - Training only: duty cycles (per unit for vectors, per channel for feature maps with counts
 *   divided by H x W) follow dc = (dc x (period - batch) + count(out > 0)) / period with
 *   period = min(dutyCyclePeriod, samples seen so far).
 */
import type { Kernel, KernelContext } from '../kernel.ts';

/** Group layout of one sample: member j of group g sits at `base(g) + j * stride`. */
const layout = (ctx: KernelContext) => {
  const s = ctx.inShapes[0];
  const image = s.length === 3;
  const size = s.reduce((a, b) => a * b, 1);
  const hw = image ? s[1] * s[2] : 1;
  const local = ctx.op.attrs.local as boolean;
  return {
    size,
    hw,
    image,
    groups: local ? hw : 1,
    members: local ? s[0] : size,
    /** element index of member j of group g */
    index: local ? (g: number, j: number) => j * hw + g : (_g: number, j: number) => j,
    /** duty-cycle entry of an element */
    dutyIndex: image ? (e: number) => Math.floor(e / hw) : (e: number) => e,
  };
};

/** Winner mask of one group: writes 1 into `win` at the winners' element indices. */
const selectWinners = (keys: Float64Array, k: number, breakTies: boolean, sorted: Float64Array, mark: (j: number) => void): void => {
  const n = keys.length;
  sorted.set(keys);
  sorted.sort();
  const threshold = sorted[n - k];
  if (!breakTies) {
    for (let j = 0; j < n; j++) if (keys[j] >= threshold) mark(j);
    return;
  }
  let above = 0;
  for (let j = 0; j < n; j++) if (keys[j] > threshold) above++;
  let equalLeft = k - above;
  for (let j = 0; j < n; j++) {
    if (keys[j] > threshold) mark(j);
    else if (keys[j] === threshold && equalLeft > 0) {
      mark(j);
      equalLeft--;
    }
  }
};

/** The reference k-winners kernel. */
export const kwtaKernel: Kernel = {
  forward: (ctx) => {
    const [x, dutyCycles, strengthArr] = ctx.inputs;
    const a = ctx.op.attrs;
    const k = (ctx.training ? a.k : a.kInference) as number;
    const L = layout(ctx);
    const strength = strengthArr[0];
    const boostFactor = new Float64Array(dutyCycles.length);
    for (let i = 0; i < boostFactor.length; i++) boostFactor[i] = Math.exp(-strength * dutyCycles[i]);
    const out = ctx.alloc(x.length);
    const winners = new Uint8Array(x.length);
    const keys = new Float64Array(L.members);
    const sorted = new Float64Array(L.members);
    for (let b = 0; b < ctx.batch; b++) {
      const base = b * L.size;
      for (let g = 0; g < L.groups; g++) {
        for (let j = 0; j < L.members; j++) {
          const e = L.index(g, j);
          keys[j] = x[base + e] * boostFactor[L.dutyIndex(e)];
        }
        selectWinners(keys, k, a.breakTies as boolean, sorted, (j) => {
          const e = base + L.index(g, j);
          if (a.relu && !(x[e] > 0)) return;
          winners[e] = 1;
          out[e] = x[e];
        });
      }
    }
    if (ctx.training) {
      const counts = new Float64Array(dutyCycles.length);
      for (let b = 0; b < ctx.batch; b++) {
        const base = b * L.size;
        for (let e = 0; e < L.size; e++) if (out[base + e] > 0) counts[L.dutyIndex(e)] += 1;
      }
      const period = Math.min(a.dutyCyclePeriod as number, ctx.samplesSeen);
      for (let i = 0; i < dutyCycles.length; i++) {
        dutyCycles[i] = (dutyCycles[i] * (period - ctx.batch) + counts[i] / L.hw) / period;
      }
    }
    return { out, cache: winners };
  },
  backward: (ctx, cache, dOut) => {
    const winners = cache as Uint8Array;
    const dx = ctx.alloc(dOut.length);
    for (let i = 0; i < dOut.length; i++) if (winners[i]) dx[i] = dOut[i];
    return [dx, undefined, undefined];
  },
};
