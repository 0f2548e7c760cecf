/**
 * The few matrix products the reference kernels need, written plainly. Everything reduces to one
 * product, C = A B^T, whose inner loop reads both operands contiguously (transposes are cheap next
 * to the products). Loops accumulate in float64 (JavaScript numbers) and store into the output
 * array's type, always in the same order, so results are deterministic.
 */
import type { Arr } from './kernel.ts';

/**
 * C[m, n] = sum_k A[m, k] * B[n, k]  (C = A B^T; A is m x k, B is n x k, both row-major).
 * Blocked 4 rows of A by 2 rows of B so each loaded value is used several times.
 */
export const matmulABt = (a: Arr, b: Arr, c: Arr, m: number, n: number, k: number): void => {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = i * k, a1 = a0 + k, a2 = a1 + k, a3 = a2 + k;
    const c0 = i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      const b0 = j * k, b1 = b0 + k;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let t = 0; t < k; t++) {
        const w0 = b[b0 + t], w1 = b[b1 + t];
        const x0 = a[a0 + t], x1 = a[a1 + t], x2 = a[a2 + t], x3 = a[a3 + t];
        s00 += x0 * w0; s01 += x0 * w1;
        s10 += x1 * w0; s11 += x1 * w1;
        s20 += x2 * w0; s21 += x2 * w1;
        s30 += x3 * w0; s31 += x3 * w1;
      }
      c[c0 + j] = s00; c[c0 + j + 1] = s01;
      c[c1 + j] = s10; c[c1 + j + 1] = s11;
      c[c2 + j] = s20; c[c2 + j + 1] = s21;
      c[c3 + j] = s30; c[c3 + j + 1] = s31;
    }
    for (; j < n; j++) {
      const b0 = j * k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let t = 0; t < k; t++) {
        const w0 = b[b0 + t];
        s0 += a[a0 + t] * w0; s1 += a[a1 + t] * w0; s2 += a[a2 + t] * w0; s3 += a[a3 + t] * w0;
      }
      c[c0 + j] = s0; c[c1 + j] = s1; c[c2 + j] = s2; c[c3 + j] = s3;
    }
  }
  for (; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += a[ai + t] * b[bj + t];
      c[i * n + j] = s;
    }
  }
};

/** A zeroed array of the same type as `like`. */
const allocLike = (like: Arr, n: number): Arr => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/** The transpose of a rows x cols matrix (a new array of the same type). */
export const transpose = (src: Arr, rows: number, cols: number): Arr => {
  const dst = allocLike(src, rows * cols);
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) dst[j * rows + i] = src[r + j];
  }
  return dst;
};

const addInto = (c: Arr, tmp: Arr): void => {
  for (let i = 0; i < c.length; i++) c[i] += tmp[i];
};

/** C[m, k] += sum_n A[m, n] * B[n, k]  (C += A B; A is m x n, B is n x k). */
export const matmulABAccumulate = (a: Arr, b: Arr, c: Arr, m: number, n: number, k: number): void => {
  const tmp = allocLike(c, m * k);
  matmulABt(a, transpose(b, n, k), tmp, m, k, n);
  addInto(c, tmp);
};

/** C[n, k] += sum_m A[m, n] * B[m, k]  (C += A^T B; A is m x n, B is m x k). */
export const matmulAtBAccumulate = (a: Arr, b: Arr, c: Arr, m: number, n: number, k: number): void => {
  const tmp = allocLike(c, n * k);
  matmulABt(transpose(a, m, n), transpose(b, m, k), tmp, n, k, m);
  addInto(c, tmp);
};
