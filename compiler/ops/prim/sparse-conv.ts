/**
 * Sparse-form primitives of convolution layers: what pass `sparseForms` rewrites convolutions and
 * max-pooling next to compact k-winners layers into, for the cpu backend. Compact values are the
 * ones of `./sparse.ts` (per sample `[count, base, 0, 0]`, `cap` index slots, `cap` value slots),
 * over the flat `[channels, height, width]` index of a feature map. Each primitive computes
 * exactly what the dense one it replaces computes (up to float32 rounding order), with work that
 * follows the number of active values.
 *
 * - `convWeightT(W)`: W `[F, C, K, K]` laid out for scatters: order `ckkf` gives `[C K K, F]`
 *   (row (c, ky, kx) holds the F filters' taps; with `sums`, one more row of each filter's sum of
 *   W), `ckkfFlip` the same with each row of taps reversed along x (row (c, ky, j) holds tap
 *   kx = K - 1 - j), order `fkkc` gives `[F K K, C]` (row (f, ky, kx) holds the C channels' taps).
 * - `convScatter(x, Wt)`: `conv` of a compact input: every active input (c, iy, ix) adds value x
 *   row (c, ky, kx) of Wt (`ckkf`, or `ckkfFlip` with stride 1) into each output position it reaches. With `base` (an input
 *   compacted around its background, padding 0 only), base x the sums row is added to every output.
 * - `convGradXFrom(g, Wg[, at])`: `convGradX` of a compact output gradient: every active (f, oy, ox)
 *   adds g x row (f, ky, kx) of Wg (`fkkc`) into the input positions its window covers. Dense
 *   `[C, H, W]`, or with `at` (a compact value over the input, a k-winners layer's winners) only at
 *   `at`'s elements, as a compact value with `at`'s list: the gradient kwtaGrad lets through.
 * - `channelLast(v)`: a dense or compact feature map `[C, H, W]` as `[rows, cols, C]`, zero-padded
 *   by `pad` on the top and left (rows and cols cover what the convolution reads).
 * - `convGradWFrom(g, xe)`: `convGradW` with a compact output gradient: for every active (f, oy, ox),
 *   g x the input window of the channel-last input `xe` (`channelLast(x)`, or x itself when it has
 *   one channel and no padding), summed over the batch.
 * - `maxPoolGradCompact(g, y)`: `maxPoolGrad` as a compact value over y's elements: each active
 *   pooled element's gradient (every pooled element when g is dense, `gCap` 0) moves to its
 *   window's first maximum of y.
 * - `expand(c)`: a compact value as the dense value it stands for (`shape`).
 * - `pickAt(v, at)`: a dense value's elements at `at`'s list, as a compact value.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Op } from '../../ir.ts';
import { convAttrs, fromAttrs, poolAttrs, size } from './helpers.ts';
import { compactStride } from './sparse.ts';
import type { OpDef } from '../op-def.ts';

/** Problems when input `i` is not a compact value of capacity `cap`. */
const compact = (ins: ReadonlyArray<Op>, i: number, cap: number, what: string): string[] => {
  const v = ins[i];
  return v && v.batched && v.shape?.length === 1 && v.shape[0] === compactStride(cap)
    ? []
    : [`${what} must be a compact value of capacity ${cap} (${compactStride(cap)} floats per sample), got ${v?.batched ? 'b,' : ''}[${v?.shape?.join(', ') ?? '?'}]`];
};

const batchedOf = (ins: ReadonlyArray<Op>, i: number, n: number, what: string): string[] =>
  ins[i]?.batched && size(ins[i].shape!) === n ? [] : [`${what} must be a batched value of ${n} elements per sample`];

const matrix = (ins: ReadonlyArray<Op>, i: number, rows: number, cols: number, what: string): string[] =>
  !ins[i]?.batched && ins[i]?.shape?.length === 2 && ins[i].shape![0] === rows && ins[i].shape![1] === cols
    ? []
    : [`${what} must be an unbatched [${rows}, ${cols}], got [${ins[i]?.shape?.join(', ') ?? '?'}]`];

type Geometry = Record<'filters' | 'channels' | 'kernel' | 'stride' | 'padding' | 'height' | 'width' | 'outH' | 'outW', number>;
const geometry = (op: Op): Geometry => op.attrs as unknown as Geometry;

/** Rows and columns a convolution reads from its input padded by `padding` on the top and left. */
export const convWindow = (g: Pick<Geometry, 'kernel' | 'stride' | 'outH' | 'outW'>): { rows: number; cols: number } => ({
  rows: (g.outH - 1) * g.stride + g.kernel,
  cols: (g.outW - 1) * g.stride + g.kernel,
});

/**
 * Whether a convScatter reads its weights flipped along x (`ckkfFlip`): stride 1 and at most 256
 * filters, where the cpu kernel adds each active input as K contiguous runs of K x F taps (its
 * read-out is unrolled over the filters); otherwise `ckkf`, tap by tap.
 */
export const flippedScatter = (g: { readonly filters: number; readonly stride: number }): boolean => g.stride === 1 && g.filters <= 256;

/** `convWeightT(W)`. */
export const convWeightTOp: OpDef = {
  name: 'convWeightT',
  arity: [1, 1],
  attrs: { filters: 'int', channels: 'int', kernel: 'int', order: ['ckkf', 'ckkfFlip', 'fkkc'], sums: 'bool' },
  absolute: true,
  inferShape: fromAttrs((a) => {
    const [F, C, K] = [a.filters, a.channels, a.kernel] as number[];
    return a.order === 'fkkc' ? [F * K * K, C] : [C * K * K + (a.sums ? 1 : 0), F];
  }),
  check: (op, ins) => {
    const { filters: F, channels: C, kernel: K } = op.attrs as Record<string, number>;
    const w = ins[0]?.shape;
    return [
      ...(!ins[0]?.batched && w?.length === 4 && w[0] === F && w[1] === C && w[2] === K && w[3] === K ? [] : [`W must be an unbatched [${F}, ${C}, ${K}, ${K}], got [${w?.join(', ') ?? '?'}]`]),
      ...(op.attrs.sums && op.attrs.order === 'fkkc' ? ['sums only with orders ckkf and ckkfFlip'] : []),
    ];
  },
};

/** `convScatter(x, Wt)`: `[F, outH, outW]` per sample. */
export const convScatterOp: OpDef = {
  name: 'convScatter',
  arity: [2, 2],
  attrs: { ...convAttrs, cap: 'int', base: 'bool' },
  inferShape: fromAttrs((a) => [a.filters as number, a.outH as number, a.outW as number]),
  check: (op, ins) => {
    const g = geometry(op);
    const cap = op.attrs.cap as number;
    const rows = g.channels * g.kernel * g.kernel;
    return [
      ...compact(ins, 0, cap, 'x'),
      ...(cap !== g.channels * g.height * g.width ? [`cap ${cap} must equal channels x height x width ${g.channels * g.height * g.width}`] : []),
      ...matrix(ins, 1, rows + (op.attrs.base ? 1 : 0), g.filters, 'Wt'),
      ...(op.attrs.base && g.padding !== 0 ? ['base (an input compacted around its background) needs padding 0'] : []),
    ];
  },
};

/** `convGradXFrom(g, Wg[, at])`: `[C, H, W]` per sample, or compact with `at`'s list. */
export const convGradXFromOp: OpDef = {
  name: 'convGradXFrom',
  arity: [2, 3],
  attrs: { ...convAttrs, gCap: 'int', cap: 'int' },
  inferShape: (op, ins) => {
    const g = geometry(op);
    return E.right(ins.length === 3 ? [compactStride(op.attrs.cap as number)] : [g.channels, g.height, g.width]);
  },
  check: (op, ins) => {
    const g = geometry(op);
    const { gCap, cap } = op.attrs as Record<string, number>;
    return [
      ...compact(ins, 0, gCap, 'g'),
      ...(gCap !== g.filters * g.outH * g.outW ? [`gCap ${gCap} must equal filters x outH x outW ${g.filters * g.outH * g.outW}`] : []),
      ...matrix(ins, 1, g.filters * g.kernel * g.kernel, g.channels, 'Wg'),
      ...(ins.length === 3 ? [...compact(ins, 2, cap, 'at'), ...(cap !== g.channels * g.height * g.width ? [`cap ${cap} must equal channels x height x width`] : [])] : []),
    ];
  },
};

/** `channelLast(v)`: `[rows, cols, channels]` per sample. */
export const channelLastOp: OpDef = {
  name: 'channelLast',
  arity: [1, 1],
  attrs: { channels: 'int', height: 'int', width: 'int', pad: 'int', rows: 'int', cols: 'int', cap: 'int' },
  inferShape: fromAttrs((a) => [a.rows as number, a.cols as number, a.channels as number]),
  check: (op, ins) => {
    const { channels: C, height: H, width: W, cap, rows, cols, pad } = op.attrs as Record<string, number>;
    return [
      ...(cap > 0 ? [...compact(ins, 0, cap, 'v'), ...(cap !== C * H * W ? [`cap ${cap} must equal channels x height x width`] : [])] : batchedOf(ins, 0, C * H * W, 'v')),
      ...(rows > H + 2 * pad || cols > W + 2 * pad ? [`rows x cols ${rows} x ${cols} must fit the padded input ${H + 2 * pad} x ${W + 2 * pad}`] : []),
    ];
  },
};

/** `convGradWFrom(g, xe)`: `[F, C, K, K]`. */
export const convGradWFromOp: OpDef = {
  name: 'convGradWFrom',
  arity: [2, 2],
  attrs: { ...convAttrs, gCap: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.filters as number, a.channels as number, a.kernel as number, a.kernel as number]),
  check: (op, ins) => {
    const g = geometry(op);
    const gCap = op.attrs.gCap as number;
    const { rows, cols } = convWindow(g);
    const xe = ins[1]?.shape;
    const raw = g.channels === 1 && g.padding === 0 && xe?.length === 3 && xe[0] === 1 && xe[1] === g.height && xe[2] === g.width;
    const expanded = xe?.length === 3 && xe[0] === rows && xe[1] === cols && xe[2] === g.channels;
    return [
      ...compact(ins, 0, gCap, 'g'),
      ...(gCap !== g.filters * g.outH * g.outW ? [`gCap ${gCap} must equal filters x outH x outW`] : []),
      ...(ins[1]?.batched && (raw || expanded) ? [] : [`xe must be channelLast(x) [${rows}, ${cols}, ${g.channels}] (or x with one channel and no padding), got [${xe?.join(', ') ?? '?'}]`]),
    ];
  },
};

/** `maxPoolGradCompact(g, y)`: compact over y's elements. */
export const maxPoolGradCompactOp: OpDef = {
  name: 'maxPoolGradCompact',
  arity: [2, 2],
  attrs: { ...poolAttrs, gCap: 'int', cap: 'int' },
  inferShape: fromAttrs((a) => [compactStride(a.cap as number)]),
  check: (op, ins) => {
    const { channels: C, height: H, width: W, outH, outW, gCap, cap } = op.attrs as Record<string, number>;
    return [
      ...(gCap > 0 ? [...compact(ins, 0, gCap, 'g'), ...(gCap !== C * outH * outW ? [`gCap ${gCap} must equal channels x outH x outW`] : [])] : batchedOf(ins, 0, C * outH * outW, 'g')),
      ...(cap !== C * H * W ? [`cap ${cap} must equal channels x height x width`] : []),
      ...batchedOf(ins, 1, C * H * W, 'y'),
    ];
  },
};

/** `expand(c)`: the dense value (`shape`) a compact value stands for. */
export const expandOp: OpDef = {
  name: 'expand',
  arity: [1, 1],
  attrs: { cap: 'int', shape: 'ints' },
  inferShape: fromAttrs((a) => a.shape as number[]),
  check: (op, ins) => [...compact(ins, 0, op.attrs.cap as number, 'c'), ...(size(op.attrs.shape as number[]) !== op.attrs.cap ? ['shape must have cap elements'] : [])],
};

/** `pickAt(v, at)`: compact, with `at`'s list. */
export const pickAtOp: OpDef = {
  name: 'pickAt',
  arity: [2, 2],
  attrs: { cap: 'int' },
  inferShape: fromAttrs((a) => [compactStride(a.cap as number)]),
  check: (op, ins) => [...batchedOf(ins, 0, op.attrs.cap as number, 'v'), ...compact(ins, 1, op.attrs.cap as number, 'at')],
};
