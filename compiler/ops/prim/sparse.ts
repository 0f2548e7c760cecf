/**
 * Sparse-form primitives: what pass `sparseForms` rewrites k-winners layers and the first layer
 * into for the cpu backend. They compute exactly what the dense primitives they replace compute,
 * in a form whose work follows the number of active values instead of the layer's size.
 *
 * **Compact values.** A compact value lists, per sample, the active elements of a dense vector of
 * `cap` elements (the "expanded" vector): a header of 4 floats `[count, base, 0, 0]`, then `cap`
 * slots of element indices (int32 bit patterns in the float32 memory, increasing), then `cap`
 * slots of values (each run padded to a multiple of 4): `compactStride(cap)` floats per sample. The expanded vector is `base` at every
 * element not listed and `base + value` at the listed ones. k-winners outputs have base 0 (and
 * count k, or more when keys tie at the threshold, or fewer with `relu`); an input compacted
 * around its background value has base = the background (the sample's first element). The
 * capacity is the vector's size, so ties never overflow.
 *
 * - `kwtaCompact(x, dutyCycles, strength)`: the winners of `kwtaThreshold` + `kwtaApply` (same
 *   keys, same threshold, same tie and relu rules), as a compact value. Global k-winners only
 *   (`groups` = 1); `hw` says which duty cycle each element uses, as in the dense ops.
 * - `compactInput(x)`: a dense input compacted around each sample's first value.
 * - `dutyCycleCompact(c, dutyCycles, samplesSeen)`: `dutyCycle` of the expanded k-winners output.
 * - `transpose(W)`: W^T, `[cols, rows]`; with `sums`, one more row holding each row's sum of W.
 * - `gather(c, R)`: per sample, sum over listed j of value_j x row idx_j of R (`[rows, cols]`,
 *   plus the sums row when `base`), plus base x sums row when `base`: the product of the expanded
 *   vector with R. With R = W^T it is the forward `linear` of a compact input; with R = W it is
 *   `linearGradX` of a compact gradient.
 * - `linearGradXAt(g, W, at)`: g W (g dense, or compact when `gCap` > 0) evaluated only at the
 *   elements `at` lists: the gradient reaching a k-winners layer's input, which passes only at its
 *   winners (`kwtaGrad`). A compact value with `at`'s list.
 * - `linearGradWOuter(g, x)`: `linearGradW` (sum over the batch of g^T x) with g and/or x compact
 *   (`gCap`, `xCap` > 0): sums of outer products over the active entries only.
 * - `biasGradCompact(g)`: `biasGrad` of a compact gradient.
 *
 * Compact values never leave a program and no other primitive reads them: the pass pairs every
 * producer with these consumers.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Op } from '../../ir.ts';
import { fromAttrs, kwtaAttrs, size } from './helpers.ts';
import type { OpDef } from '../op-def.ts';

const align4 = (n: number): number => (n + 3) & ~3;

/** Floats per sample of a compact value of capacity `cap`. */
export const compactStride = (cap: number): number => 4 + 2 * align4(cap);

/** Offsets within a sample's compact record: the header, the index slots and the value slots. */
export const compactLayout = (cap: number): { readonly count: 0; readonly base: 1; readonly index: number; readonly value: number; readonly stride: number } => ({
  count: 0,
  base: 1,
  index: 4,
  value: 4 + align4(cap),
  stride: compactStride(cap),
});

/** Problems when input `i` of `op` is not a compact value of capacity `cap`. */
const compactInput = (_op: Op, ins: ReadonlyArray<Op>, i: number, cap: number, what: string): string[] => {
  const v = ins[i];
  return v && v.batched && v.shape?.length === 1 && v.shape[0] === compactStride(cap) ? [] : [`${what} must be a compact value of capacity ${cap} (${compactStride(cap)} floats per sample), got ${v?.batched ? 'b,' : ''}[${v?.shape?.join(', ') ?? '?'}]`];
};

const denseInput = (_op: Op, ins: ReadonlyArray<Op>, i: number, n: number, what: string): string[] =>
  ins[i]?.batched && size(ins[i].shape!) === n ? [] : [`${what} must be a batched value of ${n} elements per sample`];

const matrix = (ins: ReadonlyArray<Op>, i: number, rows: number, cols: number, what: string): string[] =>
  !ins[i]?.batched && ins[i]?.shape?.length === 2 && ins[i].shape![0] === rows && ins[i].shape![1] === cols ? [] : [`${what} must be an unbatched [${rows}, ${cols}], got [${ins[i]?.shape?.join(', ') ?? '?'}]`];

/**
 * `kwtaCompact(x, dutyCycles, strength)`, or on the gpujs backend `kwtaCompact(x, dutyCycles,
 * strength, threshold, blockCounts[, keys])`: there each slot of the record is its own thread, which
 * finds its winner from the layer's `kwtaThreshold` and the winners per block of
 * `kwtaBlockCounts` instead of scanning the whole layer (reading the layer's `kwtaKeys` when given).
 */
export const kwtaCompactOp: OpDef = {
  name: 'kwtaCompact',
  arity: [3, 6],
  attrs: { ...kwtaAttrs, cap: 'int' },
  inferShape: fromAttrs((a) => [compactStride(a.cap as number)]),
  check: (op, ins) => [
    ...(op.attrs.groups !== 1 || op.attrs.local ? ['only global k-winners (groups = 1) have a compact form'] : []),
    ...(op.attrs.cap !== op.attrs.members ? [`cap ${op.attrs.cap} must equal members ${op.attrs.members}`] : []),
    ...denseInput(op, ins, 0, op.attrs.members as number, 'x'),
    ...(ins.length === 4 ? ['give both threshold and blockCounts, or neither'] : []),
    ...(ins.length >= 5 && op.attrs.breakTies ? ['the threshold form has no breakTies rule'] : []),
    ...(ins.length >= 5 ? denseInput(op, ins, 4, kwtaBlocks(op.attrs.members as number) + 1, 'blockCounts') : []),
    ...(ins.length === 6 ? denseInput(op, ins, 5, op.attrs.members as number, 'keys') : []),
  ],
};

/** Members per block of `kwtaBlockCounts`. */
export const KWTA_BLOCK = 32;

/** Blocks of `kwtaBlockCounts` for a layer of `members` elements. */
export const kwtaBlocks = (members: number): number => Math.ceil(members / KWTA_BLOCK);

/**
 * `kwtaBlockCounts(x, dutyCycles, strength, threshold[, keys])`: per sample, the number of winners (key >=
 * threshold, and x > 0 with relu; no breakTies) in each block of `KWTA_BLOCK` consecutive members,
 * then the sample's total (keys read from the layer's `kwtaKeys` when given)
 * (the gpujs backend's compaction: each slot of `kwtaCompact` then finds its block by a prefix sum
 * of these counts and its winner within the block).
 */
export const kwtaBlockCountsOp: OpDef = {
  name: 'kwtaBlockCounts',
  arity: [4, 5],
  attrs: kwtaAttrs,
  inferShape: fromAttrs((a) => [kwtaBlocks(a.members as number) + 1]),
  check: (op, ins) => [
    ...(op.attrs.groups !== 1 || op.attrs.local || op.attrs.breakTies ? ['only global k-winners (groups = 1) without breakTies have block counts'] : []),
    ...denseInput(op, ins, 0, op.attrs.members as number, 'x'),
    ...(ins.length === 5 ? denseInput(op, ins, 4, op.attrs.members as number, 'keys') : []),
  ],
};

/** `compactInput(x)`: x compacted around each sample's first value. */
export const compactInputOp: OpDef = {
  name: 'compactInput',
  arity: [1, 1],
  attrs: { cap: 'int' },
  inferShape: fromAttrs((a) => [compactStride(a.cap as number)]),
  check: (op, ins) => denseInput(op, ins, 0, op.attrs.cap as number, 'x'),
};

/** `dutyCycleCompact(c, dutyCycles, samplesSeen)`: `[units]`. */
export const dutyCycleCompactOp: OpDef = {
  name: 'dutyCycleCompact',
  arity: [3, 3],
  attrs: { period: 'int', hw: 'int', units: 'int', cap: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
  check: (op, ins) => compactInput(op, ins, 0, op.attrs.cap as number, 'c'),
};

/** `transpose(W)`: `[cols (+1 with sums), rows]`. */
export const transposeOp: OpDef = {
  name: 'transpose',
  arity: [1, 1],
  attrs: { rows: 'int', cols: 'int', sums: 'bool' },
  absolute: true,
  inferShape: fromAttrs((a) => [(a.cols as number) + (a.sums ? 1 : 0), a.rows as number]),
  check: (op, ins) => matrix(ins, 0, op.attrs.rows as number, op.attrs.cols as number, 'W'),
};

/** `gather(c, R)`: `[cols]` per sample (or the `shape` attribute). */
export const gatherOp: OpDef = {
  name: 'gather',
  arity: [2, 2],
  attrs: { rows: 'int', cols: 'int', cap: 'int', base: 'bool', 'shape?': 'ints' },
  inferShape: (op) => E.right((op.attrs.shape as number[] | undefined) ?? [op.attrs.cols as number]),
  check: (op, ins) => {
    const { rows, cols, cap, base } = op.attrs as { rows: number; cols: number; cap: number; base: boolean };
    return [
      ...compactInput(op, ins, 0, cap, 'c'),
      ...(cap !== rows ? [`cap ${cap} must equal rows ${rows}`] : []),
      ...matrix(ins, 1, rows + (base ? 1 : 0), cols, 'R'),
      ...(op.attrs.shape !== undefined && size(op.attrs.shape as number[]) !== cols ? [`shape must have ${cols} elements`] : []),
    ];
  },
};

/** `linearGradXAt(g, W, at)`: compact, with `at`'s list. */
export const linearGradXAtOp: OpDef = {
  name: 'linearGradXAt',
  arity: [3, 3],
  attrs: { units: 'int', fanIn: 'int', cap: 'int', gCap: 'int' },
  inferShape: fromAttrs((a) => [compactStride(a.cap as number)]),
  check: (op, ins) => {
    const { units, fanIn, cap, gCap } = op.attrs as Record<string, number>;
    return [
      ...(gCap > 0 ? [...compactInput(op, ins, 0, gCap, 'g'), ...(gCap !== units ? [`gCap ${gCap} must equal units ${units}`] : [])] : denseInput(op, ins, 0, units, 'g')),
      ...matrix(ins, 1, units, fanIn, 'W'),
      ...compactInput(op, ins, 2, cap, 'at'),
      ...(cap !== fanIn ? [`cap ${cap} must equal fanIn ${fanIn}`] : []),
    ];
  },
};

/** `linearGradWOuter(g, x)`: `[units, fanIn]`. */
export const linearGradWOuterOp: OpDef = {
  name: 'linearGradWOuter',
  arity: [2, 2],
  attrs: { units: 'int', fanIn: 'int', gCap: 'int', xCap: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number, a.fanIn as number]),
  check: (op, ins) => {
    const { units, fanIn, gCap, xCap } = op.attrs as Record<string, number>;
    return [
      ...(gCap > 0 ? [...compactInput(op, ins, 0, gCap, 'g'), ...(gCap !== units ? [`gCap ${gCap} must equal units ${units}`] : [])] : denseInput(op, ins, 0, units, 'g')),
      ...(xCap > 0 ? [...compactInput(op, ins, 1, xCap, 'x'), ...(xCap !== fanIn ? [`xCap ${xCap} must equal fanIn ${fanIn}`] : [])] : denseInput(op, ins, 1, fanIn, 'x')),
      ...(gCap === 0 && xCap === 0 ? ['at least one of g and x must be compact (else use linearGradW)'] : []),
    ];
  },
};

/** `biasGradCompact(g)`: `[units]`, element e of the expanded gradient going to unit floor(e / hw). */
export const biasGradCompactOp: OpDef = {
  name: 'biasGradCompact',
  arity: [1, 1],
  attrs: { units: 'int', hw: 'int', cap: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number]),
  check: (op, ins) => compactInput(op, ins, 0, op.attrs.cap as number, 'g'),
};
