/**
 * The `Reader` of generated cpu-backend JavaScript (compiler/codegen/expr.ts): how a kernel body
 * reads a value from memory view `M`, with loop variables `b` (sample), `e` (element in sample)
 * and `o` (flat output index). Shared by every cpu kernel generator (program.ts, conv.ts, sparse.ts).
 */
import type { IR } from '../../ir.ts';
import { size } from '../../ops/prim/helpers.ts';
import { intLit as int, type Reader } from '../expr.ts';

/** Addresses (in floats, within `M`) the backend chose for every materialised value. */
type AddressOf = (value: number) => number;

/** The reader for a kernel over `batch` samples whose output is batched or not. */
export const jsReader = (ir: IR, addr: AddressOf, batch: number, batched: boolean): Reader => ({
  same: (v) => `M[${int(addr(v))} + o]`,
  at: (v, index) => `M[${int(addr(v))} + ${index}]`,
  row: (v, index) => `M[${int(addr(v))} + b * ${int(size(ir.ops[v].shape!))} + ${index}]`,
  scalar: (v) => `M[${int(addr(v))}]`,
  elem: batched ? 'e' : 'o',
  batch: int(batch),
});
