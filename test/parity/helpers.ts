/**
 * Helpers shared by the tests that compare a backend with the float64 reference: the same initial
 * state in another float type, and the norm-wise relative error.
 */
import { allocFloat, type FloatType, type ModelState } from '../../runtime/model-state.ts';

const copyAs = (dtype: FloatType, data: ArrayLike<number>) => {
  const out = allocFloat(dtype, data.length);
  out.set(data);
  return out;
};

/** The same state in another float type (masks shared). */
export const convert = (s: ModelState, dtype: FloatType): ModelState => ({
  dtype,
  tensors: new Map([...s.tensors].map(([k, t]) => [k, { ...t, data: copyAs(dtype, t.data) }])),
  masks: s.masks,
  momentum: new Map([...s.momentum].map(([k, m]) => [k, copyAs(dtype, m)])),
});

/** ||a - b|| / ||b||. */
export const relError = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
};
