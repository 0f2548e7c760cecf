/**
 * The shape of an op's definition in the op table: arity, attribute schema, shape rule and
 * semantic checks. Later passes register more rules (gradient, lowering) next to each op.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Layer } from '../../dsl/layer.ts';
import type { LayerRule } from '../../dsl/network.ts';
import type { Shape } from '../../dsl/shape.ts';
import type { Op, OpName } from '../ir.ts';

/** Attribute types the verifier checks. */
export type AttrType = 'int' | 'number' | 'bool' | 'ints' | ReadonlyArray<string>;

/** An op's definition. */
export interface OpDef {
  readonly name: OpName;
  /** Inputs: [min, max]. */
  readonly arity: readonly [number, number];
  /** Attribute schema: required attributes and their types (optional ones end with `?`). */
  readonly attrs: Readonly<Record<string, AttrType>>;
  /** Output shape from the inputs (whose shapes are known) or why not. */
  readonly inferShape: (op: Op, inputs: ReadonlyArray<Op>) => E.Either<string, Shape>;
  /** Problems beyond shapes (parameter shapes, k bounds); empty when valid. */
  readonly check?: (op: Op, inputs: ReadonlyArray<Op>) => ReadonlyArray<string>;
}

/** A layer op's shape rule, taken from the DSL's rule for that layer kind (one source of truth). */
export const layerShape =
  (kind: Layer['kind'], rule: LayerRule<any>) =>
  (op: Op, inputs: ReadonlyArray<Op>): E.Either<string, Shape> =>
    rule.outputShape({ kind, ...op.attrs } as Layer, inputs[0].shape as Shape);

/** Absolute-shaped sources keep the shape they were created with. */
export const ownShape = (op: Op): E.Either<string, Shape> => (op.shape ? E.right(op.shape) : E.left('source op without a shape'));

/** `expected [a, b], got [c]` when a parameter has the wrong shape. */
export const expectShape = (what: string, actual: Shape | undefined, expected: Shape): string[] =>
  actual && actual.length === expected.length && actual.every((d, i) => d === expected[i])
    ? []
    : [`${what} must have shape [${expected.join(', ')}], got [${actual?.join(', ') ?? '?'}]`];
