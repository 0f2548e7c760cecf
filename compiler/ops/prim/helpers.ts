/**
 * Small helpers for primitive op definitions: shape rules that copy an input's shape or read a
 * shape from attributes.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Shape } from '../../../dsl/shape.ts';
import type { Op } from '../../ir.ts';

/** Output shape = shape of input `i`. */
export const sameAs =
  (i: number) =>
  (_op: Op, ins: ReadonlyArray<Op>): E.Either<string, Shape> =>
    ins[i]?.shape ? E.right(ins[i].shape!) : E.left(`input ${i} has no shape`);

/** Output shape from a function of the attributes. */
export const fromAttrs =
  (f: (a: Op['attrs']) => Shape) =>
  (op: Op): E.Either<string, Shape> =>
    E.right(f(op.attrs));

/** Elements of a shape. */
export const size = (s: ReadonlyArray<number>): number => s.reduce((a, b) => a * b, 1);

/** Convolution geometry attributes (shared by conv, convGradX and convGradW). */
export const convAttrs = {
  filters: 'int', kernel: 'int', stride: 'int', padding: 'int', channels: 'int', height: 'int', width: 'int', outH: 'int', outW: 'int',
} as const;

/** Pooling geometry attributes (shared by maxPool and maxPoolGrad). */
export const poolAttrs = { size: 'int', channels: 'int', height: 'int', width: 'int', outH: 'int', outW: 'int' } as const;

/** k-winners group attributes (shared by the k-winners primitives). */
export const kwtaAttrs = { k: 'int', groups: 'int', members: 'int', hw: 'int', local: 'bool', relu: 'bool', breakTies: 'bool' } as const;
