/**
 * The convolution part of pass `sparseForms` (`./sparse-forms.ts`): which convolution and pooling
 * ops next to a compact k-winners layer have compact forms, what they cost in either form (the
 * pass's cost model and units), and how they are rewritten into the primitives of
 * `compiler/ops/prim/sparse-conv.ts`.
 *
 * Around a compact k-winners layer (after max-pooling, or right after a convolution):
 * - forward, the next convolution `conv(a, W)` becomes `convScatter(a, convWeightT(W))`: each
 *   winner adds its value x its F filter taps into the K x K outputs it reaches;
 * - the gradient reaching the layer, `kwtaGrad(convGradX(g, W))`, is computed at the winners only:
 *   `convGradXFrom(g, Wg, a)` when g is itself compact (the next k-winners layer is compact too),
 *   else the dense `convGradX` picked at the winners (`pickAt`);
 * - the layer's own gradient goes back through `maxPoolGradCompact` (each winner's gradient to
 *   its window's maximum), then the convolution before it: `biasGradCompact`, `convGradWFrom`
 *   (outer products of the active gradients with the channel-last input window) and
 *   `convGradXFrom` (a scatter of each active gradient through the flipped filters);
 * - the next convolution's weight gradient with a compact input and a dense gradient expands the
 *   input (`expand`) for the dense kernel.
 *
 * **Pooling gradients.** Without any k-winners layer, a max-pooling gradient reaches one element
 * per window (1 in 4 for 2 x 2): when its readers are the convolution before the pooling, it
 * becomes `maxPoolGradCompact` of the dense incoming gradient, and that convolution's bias, weight
 * and input gradients take the compact forms above, skipping the elements no gradient reaches.
 *
 * **The first layer.** A convolution without padding on the network input becomes
 * `convScatter(compactInput(x), convWeightT(W, sums))`: conv(x) = conv(x - c) + c x sum(W[f]) for
 * each sample's background c, exactly (every output sees a full window), skipping the background.
 *
 * **Costs** (per sample, in the pass's units: one SIMD multiply-add of the blocked dense kernels,
 * i.e. 4 multiply-adds): a dense stride-1 convolution with M multiply-adds costs M / 4 (its SIMD
 * core, compiler/codegen/js/conv.ts), a strided one SCALAR x M (scalar loops); a scatter or gather
 * of m active values through K x K taps of a D-long row costs GATHER x m K K D / 4, plus the
 * channel-last accumulator it clears and reads (its size / 4) and the weight re-layout (TRANSPOSE x
 * its size per call, shared by the batch); per-element work (pooling gradients, bias gradients,
 * duty cycles, kwtaGrad) costs 1 per element, or per active value in compact form.
 */
import type { Op } from '../../ir.ts';
import { convWindow, flippedScatter } from '../../ops/prim/sparse-conv.ts';
import type { Builder } from '../emitter.ts';

type Geometry = Record<'filters' | 'channels' | 'kernel' | 'stride' | 'padding' | 'height' | 'width' | 'outH' | 'outW', number>;
const geometryOf = (op: Op): Geometry => op.attrs as unknown as Geometry;

/** Cost-model constants shared with the pass (see `formCosts` there). */
export interface FormCosts {
  readonly GATHER: number;
  readonly TRANSPOSE: number;
  readonly SCALAR: number;
}

/** Both forms' estimated cost per sample. */
export interface Costs {
  dense: number;
  sparse: number;
}

/** Multiply-adds of a convolution (forward, or either gradient: the same count). */
const macs = (g: Geometry): number => g.filters * g.outH * g.outW * g.channels * g.kernel * g.kernel;

/** Cost of a dense convolution kernel: the SIMD core for stride 1, scalar loops otherwise. */
const denseConv = (g: Geometry, c: FormCosts): number => (g.stride === 1 && g.padding <= g.kernel - 1 ? macs(g) / 4 : c.SCALAR * macs(g));

/** Cost of convGradX from m active gradients (a scatter of K rows of K x C per active value, the accumulator cleared and read). */
const scatterGradX = (g: Geometry, m: number, c: FormCosts): number => {
  const { rows, cols } = convWindow(g);
  return (c.GATHER * m * g.kernel * g.kernel * g.channels) / 4 + (rows * cols * g.channels) / 4 + g.channels * g.height * g.width;
};

/** A reader of k-winners output `a` with a compact form: the next convolution (its input) or that convolution's weight gradient (its x). */
export const convConsumer = (u: Op, a: number): boolean =>
  (u.op === 'conv' && u.inputs[0] === a && u.inputs[1] !== a) || (u.op === 'convGradW' && u.inputs[1] === a && u.inputs[0] !== a);

/** Costs of a consumer admitted by `convConsumer`, for a layer of n members with k active. */
export const convConsumerCost = (u: Op, n: number, k: number, batch: number, c: FormCosts): Costs => {
  const g = geometryOf(u);
  if (u.op === 'conv') {
    const taps = g.channels * g.kernel * g.kernel;
    return { dense: denseConv(g, c), sparse: (c.GATHER * k * g.kernel * g.kernel * g.filters) / 4 + (2 * g.filters * g.outH * g.outW) / 4 + (c.TRANSPOSE * taps * g.filters) / batch };
  }
  // convGradW with a compact x and (taken as) a dense gradient: the input is expanded for the dense kernel.
  return { dense: denseConv(g, c), sparse: denseConv(g, c) + n / 4 };
};

/** Whether `gx` (the gradient reaching a k-winners layer) is a convolution's input gradient with a compact form. */
export const convGradReaching = (gx: Op): boolean => gx.op === 'convGradX';

/** Costs of the gradient reaching a layer through `gx` (convGradX, its g taken as dense), then kwtaGrad, for n members with k active. */
export const convGradReachingCost = (gx: Op, n: number, k: number, c: FormCosts): Costs => {
  const g = geometryOf(gx);
  return { dense: denseConv(g, c) + n, sparse: denseConv(g, c) + k };
};

/** Readers of a compact gradient that the convolution forms cover: the bias gradient and both gradients of a convolution. */
const convGradUser = (u: Op, v: number): boolean => (u.op === 'biasGrad' || u.op === 'convGradW' || u.op === 'convGradX') && u.inputs[0] === v && u.inputs[1] !== v;

/**
 * Why the gradient a k-winners layer passes back (`kg`, its kwtaGrad) has no convolution form
 * when read by `u`, or undefined when it has: a max-pooling gradient whose readers are the
 * convolution before it (`convGradUser`), or that convolution directly.
 */
export const convGradUserProblem = (u: Op, kg: number, users: ReadonlyArray<ReadonlyArray<Op>>, external: ReadonlySet<number>): string | undefined => {
  if (convGradUser(u, kg)) return undefined;
  if (u.op !== 'maxPoolGrad' || u.inputs[0] !== kg || u.inputs[1] === kg) return `its gradient goes on to ${u.op}`;
  if (external.has(u.id)) return 'its pooling gradient leaves the program';
  const other = users[u.id].find((w) => !convGradUser(w, u.id));
  return other ? `its gradient goes from max-pooling on to ${other.op}` : undefined;
};

/** Costs of a reader `u` (admitted by `convGradUserProblem`) of a gradient with k active values (k x the pooling's window when `u` routes through it). */
export const convGradUserCost = (u: Op, k: number, users: ReadonlyArray<ReadonlyArray<Op>>, c: FormCosts): Costs => {
  const total: Costs = { dense: 0, sparse: 0 };
  const add = (x: Costs) => {
    total.dense += x.dense;
    total.sparse += x.sparse;
  };
  const conv = (w: Op, m: number) => {
    if (w.op === 'biasGrad') {
      const hw = w.attrs.hw as number;
      add({ dense: (w.attrs.units as number) * hw, sparse: m });
      return;
    }
    const g = geometryOf(w);
    if (w.op === 'convGradW') {
      const { rows, cols } = convWindow(g);
      const expand = g.channels === 1 && g.padding === 0 ? 0 : (rows * cols * g.channels) / 4;
      add({ dense: denseConv(g, c), sparse: (c.GATHER * m * g.kernel * g.kernel * g.channels) / 4 + expand });
    } else add({ dense: denseConv(g, c), sparse: scatterGradX(g, m, c) });
  };
  if (u.op === 'maxPoolGrad') {
    const { size: P, channels: C, height: H, width: W, outH, outW } = u.attrs as Record<string, number>;
    add({ dense: C * H * W + C * outH * outW * P * P, sparse: k * P * P });
    for (const w of users[u.id]) conv(w, k);
  } else conv(u, k);
  return total;
};

/**
 * Why a max-pooling gradient `u` whose incoming gradient is dense has no compact form, or
 * undefined when it has one: its readers must be the convolution before the pooling (bias gradient,
 * weight gradient, input gradient). Compact, it lists the one element per window the gradient
 * reaches (1 in P x P), so that convolution's gradients skip the rest.
 */
export const poolGradProblem = (u: Op, users: ReadonlyArray<ReadonlyArray<Op>>, external: ReadonlySet<number>): string | undefined => {
  if (external.has(u.id)) return 'its gradient leaves the program';
  const other = users[u.id].find((w) => !convGradUser(w, u.id));
  return other ? `its gradient goes on to ${other.op}` : undefined;
};

/** Costs of a compact max-pooling gradient `u` (one value per window) and of its readers. */
export const poolGradCost = (u: Op, users: ReadonlyArray<ReadonlyArray<Op>>, c: FormCosts): Costs => {
  const { channels: C, outH, outW } = u.attrs as Record<string, number>;
  return convGradUserCost(u, C * outH * outW, users, c);
};

/** Whether a first-layer convolution on the network input can skip the input's background exactly (no padding). */
export const convSkipsBackground = (l: Op, input: number): boolean => l.op === 'conv' && l.inputs[0] === input && l.attrs.padding === 0;

/** Costs of a first-layer convolution with the background skipped, the input's density being rho. */
export const convInputCost = (l: Op, rho: number, batch: number, c: FormCosts): Costs => {
  const g = geometryOf(l);
  const inputs = g.channels * g.height * g.width;
  const taps = g.channels * g.kernel * g.kernel;
  return {
    dense: denseConv(g, c),
    sparse: (c.GATHER * rho * inputs * g.kernel * g.kernel * g.filters) / 4 + (2 * g.filters * g.outH * g.outW) / 4 + (c.TRANSPOSE * (taps + 1) * g.filters) / batch + inputs,
  };
};

/** What the rewrite of a convolution or pooling op needs from the pass. */
export interface ConvRewrite {
  readonly b: Builder;
  /** Readers of every old value. */
  readonly users: ReadonlyArray<ReadonlyArray<Op>>;
  /** New compact values and their capacities (the rewrite adds its own). */
  readonly capOf: Map<number, number>;
  /** Old kwtaGrad ops replaced by compact gradients. */
  readonly dropped: ReadonlySet<number>;
  /** Old kwtaThreshold id -> the old id of its compact kwtaApply. */
  readonly applyOfThreshold: ReadonlyMap<number, number>;
  /** Old id -> new id (the rewrite maps a dropped kwtaGrad to the gradient that replaces it). */
  readonly ids: Map<number, number>;
  /** Old ids of first-layer ops that skip the input's background. */
  readonly skip: ReadonlySet<number>;
  /** Old ids of max-pooling gradients made compact from a dense incoming gradient. */
  readonly poolGrads: ReadonlySet<number>;
  /** Weight re-layouts already emitted, by key. */
  readonly layouts: Map<string, number>;
}

/** The new id of `op` rewritten into a convolution sparse form (inputs `ins`, already mapped), or undefined when it has none. */
export const rewriteConvOp = (op: Op, ins: ReadonlyArray<number>, r: ConvRewrite): number | undefined => {
  const { b, capOf } = r;
  const at = op.layer !== undefined ? { layer: op.layer } : {};
  const cap = (v: number) => capOf.get(v);
  const layout = (w: number, order: 'ckkf' | 'ckkfFlip' | 'fkkc', sums: boolean): number => {
    const key = `${w}:${order}:${sums}`;
    let id = r.layouts.get(key);
    if (id === undefined) {
      const [filters, channels, kernel] = b.op(w).shape!;
      r.layouts.set(key, (id = b.emit('convWeightT', [w], { filters, channels, kernel, order, sums }, { batched: false, ...at })));
    }
    return id;
  };
  const compactOut = (id: number, capacity: number): number => {
    capOf.set(id, capacity);
    return id;
  };
  switch (op.op) {
    case 'conv': {
      const g = geometryOf(op);
      // the scatter adds runs of K taps with weights reversed along x when it can (stride 1)
      const order = flippedScatter(g) ? 'ckkfFlip' : 'ckkf';
      if (cap(ins[0]) !== undefined) return b.emit('convScatter', [ins[0], layout(ins[1], order, false)], { ...op.attrs, cap: cap(ins[0])!, base: false }, at);
      if (!r.skip.has(op.id)) return undefined;
      const inputs = g.channels * g.height * g.width;
      const c = compactOut(b.emit('compactInput', [ins[0]], { cap: inputs }, at), inputs);
      return b.emit('convScatter', [c, layout(ins[1], order, true)], { ...op.attrs, cap: inputs, base: true }, at);
    }
    case 'convGradX': {
      const g = geometryOf(op);
      const gCap = cap(ins[0]);
      const only = r.users[op.id].length === 1 ? r.users[op.id][0] : undefined;
      if (only && r.dropped.has(only.id)) {
        // kwtaGrad(convGradX(g, W), ...) of a compact layer: the gradient at its winners only.
        const a = r.ids.get(r.applyOfThreshold.get(only.inputs[2])!)!;
        const atCap = cap(a)!;
        const id =
          gCap !== undefined
            ? b.emit('convGradXFrom', [ins[0], layout(ins[1], 'fkkc', false), a], { ...op.attrs, gCap, cap: atCap }, at)
            : b.emit('pickAt', [b.emit('convGradX', ins, op.attrs, at), a], { cap: atCap }, at);
        r.ids.set(only.id, id);
        return compactOut(id, atCap);
      }
      if (gCap === undefined) return undefined;
      return b.emit('convGradXFrom', [ins[0], layout(ins[1], 'fkkc', false)], { ...op.attrs, gCap, cap: g.channels * g.height * g.width }, at);
    }
    case 'convGradW': {
      const g = geometryOf(op);
      const gCap = cap(ins[0]);
      const xCap = cap(ins[1]);
      if (gCap !== undefined) {
        const { rows, cols } = convWindow(g);
        const raw = xCap === undefined && g.channels === 1 && g.padding === 0;
        const xe = raw
          ? ins[1]
          : b.emit('channelLast', [ins[1]], { channels: g.channels, height: g.height, width: g.width, pad: g.padding, rows, cols, cap: xCap ?? 0 }, at);
        return b.emit('convGradWFrom', [ins[0], xe], { ...op.attrs, gCap }, { batched: false, ...at });
      }
      if (xCap === undefined) return undefined;
      const x = b.emit('expand', [ins[1]], { cap: xCap, shape: [g.channels, g.height, g.width] }, at);
      return b.emit('convGradW', [ins[0], x], op.attrs, { batched: false, ...at });
    }
    case 'maxPoolGrad': {
      const gCap = cap(ins[0]);
      if (gCap === undefined && !r.poolGrads.has(op.id)) return undefined;
      const { channels: C, height: H, width: W } = op.attrs as Record<string, number>;
      return compactOut(b.emit('maxPoolGradCompact', ins, { ...op.attrs, gCap: gCap ?? 0, cap: C * H * W }, at), C * H * W);
    }
    default:
      return undefined;
  }
};
