/**
 * A sparse weight's per-unit index lists (a `maskIndex` source), derived from its mask: the one
 * derivation every backend uses (re-exported by `./host.ts`). No compiler imports, so the gpu.js
 * runner of built modules can use it.
 *
 * @example
 * import { maskIndexData } from 'winnow/runtime/compiled/mask-index';
 * const lists = new Float32Array(2);
 * maskIndexData(Uint8Array.of(0, 1, 1, 0), 2, 2, 1, lists, 'float', 'l0.weight'); // lists = [1, 0]
 */
import { WinnowError } from '../../dsl/errors.ts';

/**
 * How a backend stores the indices of a `maskIndex`: `int32`, the bit patterns of int32 indices in
 * its float32 memory (the cpu backend, as compact values' indices); `float`, the index as a float
 * (the gpu.js backends; exact below 2^24).
 */
export type IndexEncoding = 'int32' | 'float';

/**
 * Writes a sparse weight's per-unit index lists (a `maskIndex` source): for each unit u in turn,
 * the `kept` inputs j with mask[u fanIn + j] != 0, in increasing order, into `into` (`units x kept`
 * floats) in the backend's encoding. A mask with a unit keeping any other number of inputs (a
 * hand-edited checkpoint) is refused with a message naming the tensor.
 */
export const maskIndexData = (mask: ArrayLike<number>, units: number, fanIn: number, kept: number, into: Float32Array, encoding: IndexEncoding, name: string): void => {
  if (mask.length !== units * fanIn) throw new WinnowError('checkpoint', `mask ${name}: has ${mask.length} elements, its weight has ${units} x ${fanIn}`);
  const ints = encoding === 'int32' ? new Int32Array(into.buffer, into.byteOffset, into.length) : undefined;
  for (let u = 0; u < units; u++) {
    let t = 0;
    for (let j = 0; j < fanIn; j++) {
      if (!mask[u * fanIn + j]) continue;
      if (t < kept) {
        if (ints) ints[u * kept + t] = j;
        else into[u * kept + t] = j;
      }
      t++;
    }
    if (t !== kept) throw new WinnowError('checkpoint', `mask ${name}: unit ${u} keeps ${t} of its ${fanIn} inputs, but the layer keeps ${kept} per unit (weightDensity)`);
  }
};

/**
 * `maskIndexData` for sparse weight `name`, its mask looked up in a model state's `masks` (a state
 * without it is refused, naming it); `fanIn` defaults to the mask's length / `units`. Returns `into`.
 */
export const maskIndexFromState = (masks: ReadonlyMap<string, ArrayLike<number>>, name: string, units: number, kept: number, into: Float32Array, encoding: IndexEncoding, fanIn?: number): Float32Array => {
  const mask = masks.get(name);
  if (!mask) throw new WinnowError('checkpoint', `mask ${name}: missing from the model's state (its layer has sparse weights)`);
  maskIndexData(mask, units, fanIn ?? mask.length / units, kept, into, encoding, name);
  return into;
};
