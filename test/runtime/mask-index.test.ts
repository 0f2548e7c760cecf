/**
 * `maskIndexData` (runtime/compiled/host.ts): a sparse weight's per-unit index lists, derived from
 * its mask in both backends' encodings, and the refusal of a mask whose units keep the wrong count;
 * `maskIndexFromState`, the same from a model state's masks, refusing a state without the mask.
 */
import { describe, expect, it } from 'vitest';
import { maskIndexData, maskIndexFromState } from '../../runtime/compiled/host.ts';

// 3 units x 5 inputs, 2 kept per unit
const mask = Uint8Array.from([0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]);

describe('maskIndexData', () => {
  it('lists each unit\'s kept inputs in increasing order, as int32 bit patterns or as floats', () => {
    const ints = new Float32Array(6);
    maskIndexData(mask, 3, 5, 2, ints, 'int32', 'l0.weight');
    expect([...new Int32Array(ints.buffer)]).toEqual([1, 4, 0, 1, 2, 3]);
    const floats = new Float32Array(6);
    maskIndexData(mask, 3, 5, 2, floats, 'float', 'l0.weight');
    expect([...floats]).toEqual([1, 4, 0, 1, 2, 3]);
  });

  it('writes at the offset of a view into a larger memory', () => {
    const memory = new Float32Array(16);
    maskIndexData(mask, 3, 5, 2, memory.subarray(8, 14), 'int32', 'l0.weight');
    expect([...new Int32Array(memory.buffer, 32, 6)]).toEqual([1, 4, 0, 1, 2, 3]);
    expect([...memory.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('refuses a mask whose unit keeps another count, naming the tensor and the unit', () => {
    const edited = mask.slice();
    edited[7] = 1; // unit 1 now keeps 3
    expect(() => maskIndexData(edited, 3, 5, 2, new Float32Array(6), 'int32', 'l2.weight')).toThrow('mask l2.weight: unit 1 keeps 3 of its 5 inputs, but the layer keeps 2 per unit (weightDensity)');
    expect(() => maskIndexData(mask.subarray(0, 10), 3, 5, 2, new Float32Array(6), 'float', 'l2.weight')).toThrow('mask l2.weight: has 10 elements, its weight has 3 x 5');
  });
});

describe('maskIndexFromState', () => {
  it('reads the mask by name (fan-in from its length, or given) and refuses a state without it', () => {
    const masks = new Map([['l0.weight', mask]]);
    expect([...maskIndexFromState(masks, 'l0.weight', 3, 2, new Float32Array(6), 'float')]).toEqual([1, 4, 0, 1, 2, 3]);
    expect(() => maskIndexFromState(masks, 'l0.weight', 3, 2, new Float32Array(6), 'float', 4)).toThrow('mask l0.weight: has 15 elements, its weight has 3 x 4');
    expect(() => maskIndexFromState(masks, 'l1.weight', 3, 2, new Float32Array(6), 'int32')).toThrow("mask l1.weight: missing from the model's state (its layer has sparse weights)");
  });
});
