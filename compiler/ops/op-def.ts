/**
 * The shape of an op's definition in the op table: arity, attribute schema, shape rule and
 * semantic checks. Later passes register more rules (gradient, lowering) next to each op.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Layer } from '../../dsl/layer.ts';
import type { LayerRule } from '../../dsl/network.ts';
import type { Shape } from '../../dsl/shape.ts';
import type { AttrValue, Op, OpName } from '../ir.ts';

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
  /** The op computes an unbatched (absolute-shaped) value from batched inputs (weight gradients, duty cycles). */
  readonly absolute?: boolean;
  /**
   * Elementwise ops: output element i depends only on element i of input `main` (and on elements
   * of the other inputs at the same or a broadcast index), so the op can be fused into the kernel
   * that produces `main`.
   */
  readonly elementwise?: { readonly main: number };
  /** Layer ops: how the op decomposes into primitives (pass `decompose`). */
  readonly decompose?: DecomposeRule;
  /** Primitives: the vector-Jacobian product (pass `autodiff`): one gradient per input, or undefined. */
  readonly grad?: GradRule;
}

/** What decomposition and gradient rules emit ops with. */
export interface Emitter {
  /** Appends an op (its shape inferred at once) and returns its id. */
  readonly emit: (op: OpName, inputs: ReadonlyArray<number>, attrs?: Readonly<Record<string, AttrValue>>, extra?: Partial<Pick<Op, 'batched' | 'shape' | 'dtype' | 'layer'>>) => number;
  /** The op producing `%id`. */
  readonly op: (id: number) => Op;
}

/** Context of a decomposition rule. */
export interface DecomposeContext extends Emitter {
  /** The program being built: a training step (dropout and DropConnect active) or inference. */
  readonly training: boolean;
  /** The (shared) `scalar` source of a role. */
  readonly scalar: (role: 'lr' | 'momentum' | 'weightDecay' | 'samplesSeen') => number;
  /** Records that the program writes `value` into the source `source`. */
  readonly update: (source: number, value: number) => void;
}

/** A layer op's decomposition: emits primitives for `op` whose inputs are now `inputs`; returns the id of its output. */
export type DecomposeRule = (op: Op, inputs: ReadonlyArray<number>, ctx: DecomposeContext) => number;

/** A primitive's VJP: `g` is d loss / d output; returns d loss / d each input (undefined: none flows or none needed). */
export type GradRule = (op: Op, g: number, ctx: Emitter, needs: ReadonlyArray<boolean>) => ReadonlyArray<number | undefined>;

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
