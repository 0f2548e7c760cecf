/**
 * Sparse-weight primitives: a dense layer whose weights are sparse (`dense` with `weightDensity` <
 * 1) computing over the kept weights only, from per-unit index lists. Pass `sparseForms` rewrites
 * a `linear` (and its `linearGradX` and `linearGradW`) into these where its cost model says they
 * pay; they compute exactly what the dense primitives compute (sums over fewer terms: the masked
 * entries of W are exactly 0 at all times, since the optimizer re-zeroes them after every step).
 *
 * - `maskIndex`: a source (no inputs, unbatched, `[units, kept]`, attributes `role: 'weight'`,
 *   `units`, `fanIn`, `kept`, on the layer of its weight): for each output unit u, the `kept`
 *   inputs j its mask keeps (mask[u fanIn + j] != 0), in increasing order. The host derives it from
 *   the layer's mask (`maskIndexData` in `runtime/compiled/host.ts`) when it binds the model state:
 *   it is persistent, never saved (checkpoints hold the mask), and each unit of a sparse `dense`
 *   layer keeps exactly `keptPerUnit` inputs. Encoding: the backend's index encoding (the cpu
 *   backend: int32 bit patterns in its float32 memory, like compact values' indices; gpu.js: the
 *   index as a float, exact below 2^24).
 * - `linearIdx(x, W, idx)`: `[units]` per sample, y[b, u] = sum over t of W[u, idx[u, t]] x
 *   x[b, idx[u, t]]: `linear(x, W)` for W zero off the mask.
 * - `linearIdxGradX(g, W, idx)`: shaped like the forward input (attribute `shape`, as
 *   `linearGradX`), gx[b, j] = sum over the (u, t) with idx[u, t] = j of g[b, u] W[u, j]:
 *   `linearGradX(g, W)` for W zero off the mask.
 * - `linearIdxGradW(g, x, idx)`: unbatched `[units, fanIn]`, the sum over the batch of g[b, u]
 *   x[b, j] at the kept (u, j) and 0 elsewhere: `linearGradW(g, x) x mask`. (The optimizer masks
 *   a sparse weight's momentum buffer, so the dense form stores the same momentum.)
 * - `transposeBatch(x)` (the cpu backend's layout, for the two above): unbatched `[fanIn, stride]`,
 *   x with its samples as columns (element j of sample b at j stride + b), `stride` = the batch
 *   rounded up to 4, the columns past the batch 0. The program is compiled for one batch size, so
 *   its shape is fixed. `linearIdx` and `linearIdxGradW` may take it as a fourth input (the
 *   transpose of their x), and then compute over the samples with SIMD.
 */
import { fromAttrs, size } from './helpers.ts';
import type { Op } from '../../ir.ts';
import { ownShape, type OpDef } from '../op-def.ts';

/** Attributes of the index-list primitives. */
const idxAttrs = { units: 'int', fanIn: 'int', kept: 'int' } as const;

/** Problems when input `i` is not the layer's index lists `[units, kept]`. */
const indexInput = (op: Op, ins: ReadonlyArray<Op>, i: number): string[] => {
  const v = ins[i];
  const { units, kept } = op.attrs as Record<string, number>;
  return v?.op === 'maskIndex' && v.shape?.[0] === units && v.shape?.[1] === kept && v.attrs.fanIn === op.attrs.fanIn
    ? []
    : [`idx must be the maskIndex [${units}, ${kept}] of fanIn ${op.attrs.fanIn}, got ${v?.op ?? '?'} [${v?.shape?.join(', ') ?? '?'}]`];
};

const weightInput = (op: Op, ins: ReadonlyArray<Op>, i: number): string[] => {
  const { units, fanIn } = op.attrs as Record<string, number>;
  const v = ins[i];
  return !v?.batched && v?.shape?.length === 2 && v.shape[0] === units && v.shape[1] === fanIn ? [] : [`W must be an unbatched [${units}, ${fanIn}], got [${v?.shape?.join(', ') ?? '?'}]`];
};

const batchedOf = (ins: ReadonlyArray<Op>, i: number, n: number, what: string): string[] =>
  ins[i]?.batched && size(ins[i].shape!) === n ? [] : [`${what} must be a batched value of ${n} elements per sample`];

const keptRange = (op: Op): string[] => {
  const { fanIn, kept } = op.attrs as Record<string, number>;
  return kept >= 1 && kept <= fanIn ? [] : [`kept ${kept} must be between 1 and fanIn ${fanIn}`];
};

/** `maskIndex`: a sparse weight's per-unit index lists (a source the host derives from the mask). */
export const maskIndexOp: OpDef = {
  name: 'maskIndex',
  arity: [0, 0],
  attrs: { role: ['weight'], ...idxAttrs },
  inferShape: ownShape,
  check: (op) => [
    ...keptRange(op),
    ...(op.shape?.length === 2 && op.shape[0] === op.attrs.units && op.shape[1] === op.attrs.kept && !op.batched ? [] : [`shape must be the unbatched [units, kept] = [${op.attrs.units}, ${op.attrs.kept}]`]),
  ],
};

/** Problems when the optional input `i` is not `transposeBatch` of input `x`. */
const transposedInput = (op: Op, ins: ReadonlyArray<Op>, i: number, x: number): string[] =>
  ins.length <= i || (ins[i].op === 'transposeBatch' && ins[i].inputs[0] === op.inputs[x]) ? [] : [`xT must be transposeBatch of %${op.inputs[x]}`];

/** `linearIdx(x, W, idx, xT?)`: `[units]` per sample. */
export const linearIdxOp: OpDef = {
  name: 'linearIdx',
  arity: [3, 4],
  attrs: idxAttrs,
  inferShape: fromAttrs((a) => [a.units as number]),
  check: (op, ins) => [...keptRange(op), ...batchedOf(ins, 0, op.attrs.fanIn as number, 'x'), ...weightInput(op, ins, 1), ...indexInput(op, ins, 2), ...transposedInput(op, ins, 3, 0)],
};

/** Columns of `transposeBatch` for a batch: the batch rounded up to 4. */
export const batchStride = (batch: number): number => (batch + 3) & ~3;

/** `transposeBatch(x)`: unbatched `[fanIn, stride]`. */
export const transposeBatchOp: OpDef = {
  name: 'transposeBatch',
  arity: [1, 1],
  attrs: { fanIn: 'int', batch: 'int', stride: 'int' },
  absolute: true,
  inferShape: fromAttrs((a) => [a.fanIn as number, a.stride as number]),
  check: (op, ins) => [
    ...batchedOf(ins, 0, op.attrs.fanIn as number, 'x'),
    ...(op.attrs.stride === batchStride(op.attrs.batch as number) ? [] : [`stride ${op.attrs.stride} must be the batch ${op.attrs.batch} rounded up to 4`]),
  ],
};

/** `linearIdxGradX(g, W, idx)`: shaped like the forward input (attribute `shape`, default `[fanIn]`). */
export const linearIdxGradXOp: OpDef = {
  name: 'linearIdxGradX',
  arity: [3, 3],
  attrs: { ...idxAttrs, 'shape?': 'ints' },
  inferShape: fromAttrs((a) => (a.shape as number[] | undefined) ?? [a.fanIn as number]),
  check: (op, ins) => [
    ...keptRange(op),
    ...batchedOf(ins, 0, op.attrs.units as number, 'g'),
    ...weightInput(op, ins, 1),
    ...indexInput(op, ins, 2),
    ...(op.attrs.shape !== undefined && size(op.attrs.shape as number[]) !== op.attrs.fanIn ? [`shape must have ${op.attrs.fanIn} elements`] : []),
  ],
};

/** `linearIdxGradW(g, x, idx, xT?)`: `[units, fanIn]`, zero off the mask. */
export const linearIdxGradWOp: OpDef = {
  name: 'linearIdxGradW',
  arity: [3, 4],
  attrs: idxAttrs,
  absolute: true,
  inferShape: fromAttrs((a) => [a.units as number, a.fanIn as number]),
  check: (op, ins) => [
    ...keptRange(op),
    ...batchedOf(ins, 0, op.attrs.units as number, 'g'),
    ...batchedOf(ins, 1, op.attrs.fanIn as number, 'x'),
    ...indexInput(op, ins, 2),
    ...transposedInput(op, ins, 3, 1),
  ],
};
