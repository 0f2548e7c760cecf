/**
 * Errors that winnow raises for bad input (model files, shapes, flags, data, checkpoints).
 *
 * Every `WinnowError` is a user-facing condition: the CLI prints its message on one line
 * (no stack trace) and exits with code 2. Anything else that escapes is a bug.
 *
 * @example
 * import { WinnowError } from 'winnow/dsl';
 * try { throw new WinnowError('model', 'layers[0].dense.units: must be a positive integer, got 0'); }
 * catch (e) { if (e instanceof WinnowError) console.log(e.kind, e.message); }
 */
export class WinnowError extends Error {
  constructor(
    /** Which kind of input was bad: used by the CLI for the message prefix. */
    readonly kind: 'model' | 'shape' | 'usage' | 'data' | 'checkpoint' | 'backend' | 'training',
    message: string,
    /** Every problem found, one per line, each with its path (model files report all at once). */
    readonly problems: ReadonlyArray<string> = [message],
  ) {
    super(message);
    this.name = 'WinnowError';
  }
}

/**
 * True when `e` is a user-facing winnow error (as opposed to a bug), including one thrown by a
 * separately bundled copy of winnow.
 *
 * @example
 * import { input, isWinnowError } from 'winnow/dsl';
 * try {
 *   input([0]);
 * } catch (e) {
 *   if (isWinnowError(e)) console.log(e.kind); // 'shape'
 * }
 * isWinnowError(new Error('a bug')); // false
 */
export const isWinnowError = (e: unknown): e is WinnowError =>
  e instanceof WinnowError ||
  // A network module bundled separately (winnow inspect net.ts) carries its own copy of this class.
  (e instanceof Error && e.name === 'WinnowError' && typeof (e as { kind?: unknown }).kind === 'string');

/**
 * A shape mismatch or impossible layer setting found while building a network; says which layer.
 *
 * @example
 * import { ShapeError } from 'winnow/dsl';
 * const e = new ShapeError(3, 'dense', 'expects a vector input [n], got [32, 12, 12]');
 * e.message; // "layer 3 (dense): expects a vector input [n], got [32, 12, 12]"
 */
export class ShapeError extends WinnowError {
  constructor(
    /** Index of the layer in the network, or undefined for whole-network limits. */
    readonly layerIndex: number | undefined,
    /** Kind of that layer. */
    readonly layerKind: string | undefined,
    /** What is wrong, without the layer prefix. */
    readonly detail: string,
  ) {
    super('shape', layerIndex === undefined ? `network: ${detail}` : `layer ${layerIndex} (${layerKind}): ${detail}`);
  }
}
