/**
 * Which kernel-source idioms a neural-net kernel generator may emit: each kernel is built from a
 * source string with the generator's settings and must give the plain-JS answer on gpu.js's cpu,
 * webasm and webgpu modes (webgpu through runtime/gpu/node-webgpu.ts; Mesa llvmpipe in CI).
 * The last block pins the idioms that do NOT behave the same, with the workaround for each, so a
 * gpu.js upgrade that changes them fails here.
 */
import { GPU } from 'gpu.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, flat, input, maxError, modes, requireWebGPU, settings, values } from './helpers.ts';

interface Case {
  readonly name: string;
  readonly source: string;
  readonly output: number[];
  readonly args: () => unknown[];
  readonly want: ArrayLike<number>;
  /** Relative tolerance (f32 against f64 sums); 0 when every mode must match JS exactly. */
  readonly tol: number;
}

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);

// 2-D output [cols, rows]: this.thread.x is the column, this.thread.y the row; 1-D Float32Array input.
{
  const a = values(12, 1);
  const want = Float32Array.from({ length: 12 }, (_, i) => a[i] + 10 * Math.floor(i / 4) + (i % 4));
  add({ name: '2-D output, flat 1-D Float32Array input', source: 'function (a) { return a[this.thread.y * 4 + this.thread.x] + 10 * this.thread.y + this.thread.x; }', output: [4, 3], args: () => [a], want, tol: 0 });
}
// 2-D input(flat, [cols, rows]) read as a[row][col].
{
  const a = values(12, 2);
  add({ name: '2-D input() read as a[y][x]', source: 'function (a) { return a[this.thread.y][this.thread.x] * 2.0; }', output: [4, 3], args: () => [input(a, [4, 3])], want: a.map((v) => v * 2), tol: 0 });
}
// A dense layer: literal-bound loop accumulating a float, weights stored one output per row.
{
  const rows = 8;
  const cols = 32;
  const a = values(rows * 784, 3);
  const w = values(cols * 784, 4);
  const want = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) for (let i = 0; i < 784; i++) want[r * cols + c] += a[r * 784 + i] * w[c * 784 + i];
  const args = () => [input(a, [784, rows]), input(w, [784, cols])];
  add({ name: 'dense: let s = 0.0; for i < 784: s += a[y][i] * w[x][i]', source: 'function (a, w) { let s = 0.0; for (let i = 0; i < 784; i++) { s += a[this.thread.y][i] * w[this.thread.x][i]; } return s; }', output: [cols, rows], args, want, tol: 1e-4 });
  add({ name: 'dense with an integer-initialised accumulator (let s = 0)', source: 'function (a, w) { let s = 0; for (let i = 0; i < 784; i++) { s += a[this.thread.y][i] * w[this.thread.x][i]; } return s; }', output: [cols, rows], args, want, tol: 1e-4 });
}
// Conv/pool index arithmetic on a [4][12][12] feature map stored flat.
{
  const n = 4 * 144;
  const a = values(n, 5);
  const want = Float32Array.from({ length: n }, (_, t) => {
    const c = Math.floor(t / 144);
    const y = Math.floor((t % 144) / 12);
    const x = t % 12;
    return a[c * 144 + y * 12 + x] * (c + 1) + y * 0.5 + x * 0.25;
  });
  add({ name: 'index arithmetic c * 144 + y * 12 + x from Math.floor(e / 144) and %', source: 'function (a) { const e = this.thread.x; const c = Math.floor(e / 144); const y = Math.floor((e % 144) / 12); const x = e % 12; return a[c * 144 + y * 12 + x] * (c + 1) + y * 0.5 + x * 0.25; }', output: [n], args: () => [a], want, tol: 1e-6 });
  // 2x2 max pool [4][12][12] -> [4][6][6]
  const pooled = Float32Array.from({ length: 4 * 36 }, (_, t) => {
    const c = Math.floor(t / 36);
    const y = Math.floor((t % 36) / 6);
    const x = t % 6;
    const at = (dy: number, dx: number) => a[c * 144 + (2 * y + dy) * 12 + 2 * x + dx];
    return Math.max(Math.max(at(0, 0), at(0, 1)), Math.max(at(1, 0), at(1, 1)));
  });
  add({ name: '2x2 max pool with flat floor/% indexing and nested literal loops', source: 'function (a) { const e = this.thread.x; const c = Math.floor(e / 36); const y = Math.floor((e % 36) / 6); const x = e % 6; let m = -1000.0; for (let dy = 0; dy < 2; dy++) { for (let dx = 0; dx < 2; dx++) { m = Math.max(m, a[c * 144 + (2 * y + dy) * 12 + 2 * x + dx]); } } return m; }', output: [4 * 36], args: () => [a], want: pooled, tol: 0 });
}
// 5x5 convolution, 1 x 28 x 28 -> 4 x 24 x 24, ReLU: flat indices and 3-D output with input().
{
  const img = values(784, 6);
  const w = values(100, 7);
  const b = values(4, 8);
  const want = new Float32Array(4 * 576);
  for (let t = 0; t < want.length; t++) {
    const c = Math.floor(t / 576);
    const y = Math.floor((t % 576) / 24);
    const x = t % 24;
    let s = b[c];
    for (let dy = 0; dy < 5; dy++) for (let dx = 0; dx < 5; dx++) s += img[(y + dy) * 28 + x + dx] * w[c * 25 + dy * 5 + dx];
    want[t] = Math.max(s, 0);
  }
  add({ name: 'conv 5x5: nested literal loops, flat indices', source: 'function (img, w, b) { const e = this.thread.x; const c = Math.floor(e / 576); const y = Math.floor((e % 576) / 24); const x = e % 24; let s = b[c]; for (let dy = 0; dy < 5; dy++) { for (let dx = 0; dx < 5; dx++) { s += img[(y + dy) * 28 + x + dx] * w[c * 25 + dy * 5 + dx]; } } return Math.max(s, 0.0); }', output: [want.length], args: () => [img, w, b], want, tol: 1e-5 });
  add({ name: 'conv 5x5: 3-D output [24, 24, 4] and 2-D input() reads', source: 'function (img, w, b) { const c = this.thread.z; let s = b[c]; for (let dy = 0; dy < 5; dy++) { for (let dx = 0; dx < 5; dx++) { s += img[this.thread.y + dy][this.thread.x + dx] * w[c][dy * 5 + dx]; } } return Math.max(s, 0.0); }', output: [24, 24, 4], args: () => [input(img, [28, 28]), input(w, [25, 4]), b], want, tol: 1e-5 });
}
// Control flow.
{
  const a = values(16, 9);
  add({ name: 'if / else if with early returns', source: 'function (a) { const v = a[this.thread.x]; if (v > 0.5) { return v; } else if (v < -0.5) { return -1.0; } return 0.0; }', output: [16], args: () => [a], want: a.map((v) => (v > 0.5 ? v : v < -0.5 ? -1 : 0)), tol: 0 });
  add({ name: 'ternary', source: 'function (a) { const v = a[this.thread.x]; return v > 0.0 ? v * 2.0 : v * 0.5; }', output: [16], args: () => [a], want: a.map((v) => (v > 0 ? v * 2 : v * 0.5)), tol: 0 });
  add({ name: 'comparison to a 0/1 float via ternary, against a scalar argument', source: 'function (a, t) { return a[this.thread.x] >= t ? 1.0 : 0.0; }', output: [16], args: () => [a, 0.25], want: a.map((v) => (v >= 0.25 ? 1 : 0)), tol: 0 });
  add({ name: 'comparison to 0/1 with integer literals (a > 0 ? 1 : 0)', source: 'function (a) { return a[this.thread.x] > 0 ? 1 : 0; }', output: [16], args: () => [a], want: a.map((v) => (v > 0 ? 1 : 0)), tol: 0 });
  add({ name: 'boolean variables with && and ||', source: 'function (a) { const v = a[this.thread.x]; const keep = v > 0.0 && v < 0.5; return keep || v < -0.9 ? v : 0.0; }', output: [16], args: () => [a], want: a.map((v) => ((v > 0 && v < 0.5) || v < -0.9 ? v : 0)), tol: 0 });
  const first = (x: number) => {
    for (let i = 0; i < 16; i++) if (a[i] > Math.fround(0.9 - x * 0.1)) return i;
    return -1;
  };
  add({ name: 'return inside a loop', source: 'function (a) { for (let i = 0; i < 16; i++) { if (a[i] > 0.9 - this.thread.x * 0.1) { return i; } } return -1; }', output: [8], args: () => [a], want: Array.from({ length: 8 }, (_, x) => first(x)), tol: 0 });
  add({ name: 'break out of a loop', source: 'function (a) { let r = -1; for (let i = 0; i < 16; i++) { if (a[i] > 0.9 - this.thread.x * 0.1) { r = i; break; } } return r; }', output: [8], args: () => [a], want: Array.from({ length: 8 }, (_, x) => first(x)), tol: 0 });
  add({ name: 'argmax: int index kept in a variable initialised to -1', source: 'function (a) { let best = -1; let bv = -1000.0; for (let i = 0; i < 16; i++) { if (a[i] > bv) { bv = a[i]; best = i; } } return best; }', output: [1], args: () => [a], want: [a.indexOf(Math.max(...a))], tol: 0 });
}
// Math and scalar arguments.
{
  const a = values(16, 10);
  add({ name: 'Math.exp, Math.max and float scalar arguments', source: 'function (a, k, b) { return Math.exp(Math.max(a[this.thread.x], 0.1) * k) + b; }', output: [16], args: () => [a, 1.5, 0.25], want: a.map((v) => Math.exp(Math.max(v, 0.1) * 1.5) + 0.25), tol: 1e-6 });
  add({ name: 'an integer-valued scalar argument used as a float and as an index', source: 'function (a, k) { return a[this.thread.x + k] * k; }', output: [8], args: () => [a, 3], want: Array.from({ length: 8 }, (_, x) => a[x + 3] * 3), tol: 0 });
  add({ name: 'Math.fround threshold keys', source: 'function (a, t) { return Math.fround(a[this.thread.x] * 3.0) >= t ? 1.0 : 0.0; }', output: [16], args: () => [a, Math.fround(0.3)], want: a.map((v) => (Math.fround(v * 3) >= Math.fround(0.3) ? 1 : 0)), tol: 0 });
  add({ name: 'Math.abs, min, sqrt, log, pow, tanh', source: 'function (a) { const v = a[this.thread.x]; return Math.abs(v) + Math.min(v, 0.0) + Math.sqrt(Math.abs(v)) + Math.log(1.0 + Math.abs(v)) + Math.pow(Math.abs(v), 1.5) + Math.tanh(v); }', output: [16], args: () => [a], want: a.map((v) => Math.abs(v) + Math.min(v, 0) + Math.sqrt(Math.abs(v)) + Math.log(1 + Math.abs(v)) + Math.pow(Math.abs(v), 1.5) + Math.tanh(v)), tol: 1e-5 });
  add({ name: 'float literals 1e-7 and -1.5e3, unary minus', source: 'function (a) { const v = a[this.thread.x]; return -v * 1e-7 + -1.5e3; }', output: [16], args: () => [a], want: a.map((v) => -v * 1e-7 - 1500), tol: 1e-6 });
}
// Integer/float mixing: WGSL refuses i32 * f32, so gpu.js must convert (it types `let j = 0` as f32
// unless it is only counted with ++; loop variables and ++ counters are i32, cast where mixed).
{
  const a = values(16, 11);
  const cnt = a.filter((v) => v >= 0).length;
  add({ name: 'loop variable times a float', source: 'function (a) { let s = 0.0; for (let j = 0; j < 4; j++) { s += a[this.thread.x] * j; } return s; }', output: [16], args: () => [a], want: a.map((v) => v * 6), tol: 1e-6 });
  add({ name: 'let j = 0; j = j + 7; float * j', source: 'function (a) { let j = 0; j = j + 7; return a[this.thread.x] * j; }', output: [16], args: () => [a], want: a.map((v) => v * 7), tol: 1e-6 });
  add({ name: 'integer variable later assigned a float', source: 'function (a) { let m = 0; if (a[this.thread.x] < 0.0) { m = a[this.thread.x]; } return m; }', output: [16], args: () => [a], want: a.map((v) => (v < 0 ? v : 0)), tol: 0 });
  add({ name: 'float variable later assigned an integer literal', source: 'function (a) { let m = a[this.thread.x]; if (m < 0.0) { m = 0; } return m; }', output: [16], args: () => [a], want: a.map((v) => (v < 0 ? 0 : v)), tol: 0 });
  add({ name: 'cnt++ counter: * 0.5, / 3, + float, Math.max with a float', source: 'function (a) { let cnt = 0; for (let i = 0; i < 16; i++) { if (a[i] >= 0.0) { cnt++; } } return cnt * 0.5 + cnt / 3 + Math.max(cnt, 0.5) + a[0]; }', output: [1], args: () => [a], want: [cnt * 0.5 + cnt / 3 + Math.max(cnt, 0.5) + a[0]], tol: 1e-6 });
  add({ name: 'cnt++ counter compared with a float, assigned to a float variable', source: 'function (a) { let cnt = 0; let f = 0.25; for (let i = 0; i < 16; i++) { if (a[i] >= 0.0) { cnt++; } } f = cnt; return cnt >= 7.5 ? f : -f; }', output: [1], args: () => [a], want: [cnt >= 7.5 ? cnt : -cnt], tol: 0 });
  add({ name: 'ternary with an i32 and a float branch', source: 'function (a) { let s = 0.0; for (let i = 0; i < 4; i++) { s += a[i] > 0.0 ? i : 0.5; } return s; }', output: [1], args: () => [a], want: [[0, 1, 2, 3].reduce((p, i) => p + (a[i] > 0 ? i : 0.5), 0)], tol: 0 });
  add({ name: 'Math.floor(i / 4), i % 4 and i * 4 + j as indices; === on integers', source: 'function (a) { let s = 0.0; for (let i = 0; i < 16; i++) { if (i % 2 === 0) { s += a[Math.floor(i / 4)] + a[i % 4]; } } for (let i = 0; i < 4; i++) { for (let j = 0; j < 4; j++) { s += a[i * 4 + j] * (i - j); } } return s; }', output: [1], args: () => [a], want: [(() => { let s = 0; for (let i = 0; i < 16; i += 2) s += a[Math.floor(i / 4)] + a[i % 4]; for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += a[i * 4 + j] * (i - j); return s; })()], tol: 1e-5 });
  add({ name: 'negative % and float %', source: 'function (a) { const t = this.thread.x - 5; return t % 3 + (a[this.thread.x] * 10.0) % 3.0; }', output: [10], args: () => [a], want: Array.from({ length: 10 }, (_, x) => ((x - 5) % 3) + (Math.fround(a[x] * 10) % 3)), tol: 1e-5 });
}
// k-winners selection: per-row bisection on the threshold (64 steps), counting key >= mid over 1000.
{
  const rows = 64;
  const keys = values(rows * 1000, 12);
  const want = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let lo = -1;
    let hi = 1;
    for (let it = 0; it < 64; it++) {
      const mid = Math.fround((lo + hi) * 0.5);
      let n = 0;
      for (let i = 0; i < 1000; i++) if (keys[r * 1000 + i] >= mid) n++;
      if (n >= 50) lo = mid;
      else hi = mid;
    }
    want[r] = lo;
  }
  const args = () => [input(keys, [1000, rows])];
  add({ name: 'bisection selection: 64 steps x count(key >= mid) over 1000, cnt++', source: 'function (keys) { let lo = -1.0; let hi = 1.0; for (let it = 0; it < 64; it++) { const mid = Math.fround((lo + hi) * 0.5); let cnt = 0; for (let i = 0; i < 1000; i++) { if (keys[this.thread.x][i] >= mid) { cnt++; } } if (cnt >= 50) { lo = mid; } else { hi = mid; } } return lo; }', output: [rows], args, want, tol: 0 });
  add({ name: 'bisection selection, counting with cnt += (cmp ? 1.0 : 0.0)', source: 'function (keys) { let lo = -1.0; let hi = 1.0; for (let it = 0; it < 64; it++) { const mid = Math.fround((lo + hi) * 0.5); let cnt = 0.0; for (let i = 0; i < 1000; i++) { cnt += keys[this.thread.x][i] >= mid ? 1.0 : 0.0; } if (cnt >= 50.0) { lo = mid; } else { hi = mid; } } return lo; }', output: [rows], args, want, tol: 0 });
}

describe.each(modes)('kernel idioms that work on %s', (mode) => {
  let gpu: GPU;
  beforeAll(async () => {
    if (mode === 'webgpu') await requireWebGPU();
    gpu = new GPU({ mode });
  });
  afterAll(async () => {
    await gpu?.destroy();
  });

  it.each(cases)('$name', async ({ source, output, args, want, tol }) => {
    const kernel = gpu.createKernel(source, settings(output));
    expect(maxError(flat(await call(kernel, ...args())), want)).toBeLessThanOrEqual(tol);
  });

  it('a pipeline: true result (2-D) feeds a second kernel that reads it as h[y][i]', async () => {
    const a = values(6, 13);
    const first = gpu.createKernel('function (a) { return a[this.thread.y][this.thread.x] + 1.0; }', settings([3, 2], { pipeline: true }));
    const second = gpu.createKernel('function (h) { let s = 0.0; for (let i = 0; i < 3; i++) { s += h[this.thread.x][i]; } return s; }', settings([2]));
    const handle = await call(first, input(a, [3, 2]));
    const rowSum = (r: number) => a[r * 3] + a[r * 3 + 1] + a[r * 3 + 2] + 3;
    expect(maxError(flat(await call(second, handle)), [rowSum(0), rowSum(1)])).toBeLessThanOrEqual(1e-6);
  });
});

describe.each(modes)('kernel idioms that differ or fail on %s, and their workarounds', (mode) => {
  let gpu: GPU;
  beforeAll(async () => {
    if (mode === 'webgpu') await requireWebGPU();
    gpu = new GPU({ mode });
  });
  afterAll(async () => {
    await gpu?.destroy();
  });

  it('a comparison used as a number, (v > 0.0) * 1.0, does not build anywhere: use v > 0.0 ? 1.0 : 0.0', async () => {
    const kernel = gpu.createKernel('function (a) { return (a[this.thread.x] > 0.0) * 1.0; }', settings([4]));
    await expect(async () => call(kernel, values(4, 14))).rejects.toThrow(/Boolean/);
  });

  it('a fractional index: cpu reads undefined (NaN), webasm and webgpu truncate: index with Math.floor', async () => {
    const a = values(4, 15);
    const fractional = flat(await call(gpu.createKernel('function (a) { return a[this.thread.x / 2]; }', settings([4])), a));
    if (mode === 'cpu') expect(fractional.filter(Number.isNaN)).toHaveLength(2);
    else expect(fractional).toEqual([a[0], a[0], a[1], a[1]]);
    expect(flat(await call(gpu.createKernel('function (a) { return a[Math.floor(this.thread.x / 2)]; }', settings([4])), a))).toEqual([a[0], a[0], a[1], a[1]]);
  });

  it('a pipeline: true handle is overwritten by the next call on cpu and webgpu (not webasm): immutable: true keeps it', async () => {
    const reader = gpu.createKernel('function (h) { return h[this.thread.x] * 1.0; }', settings([2]));
    const source = 'function (a) { return a[this.thread.x] + 1.0; }';
    const shared = gpu.createKernel(source, settings([2], { pipeline: true }));
    const h1 = await call(shared, Float32Array.from([1, 2]));
    await call(shared, Float32Array.from([10, 20]));
    expect(flat(await call(reader, h1))).toEqual(mode === 'webasm' ? [2, 3] : [11, 21]);
    const immutable = gpu.createKernel(source, settings([2], { pipeline: true, immutable: true }));
    const i1 = await call(immutable, Float32Array.from([1, 2]));
    const i2 = await call(immutable, Float32Array.from([10, 20]));
    expect(flat(await call(reader, i1))).toEqual([2, 3]);
    expect(flat(await call(reader, i2))).toEqual([11, 21]);
  });

  it('an array argument that changes length: cpu takes it, webasm and webgpu throw: dynamicArguments: true', async () => {
    const source = 'function (a) { return a[this.thread.x] * 2.0; }';
    const fixed = gpu.createKernel(source, settings([2]));
    await call(fixed, Float32Array.from([1, 2, 3]));
    const grown = async () => call(fixed, Float32Array.from([4, 5, 6, 7, 8]));
    if (mode === 'cpu') expect(flat(await grown())).toEqual([8, 10]);
    else await expect(grown).rejects.toThrow(/dynamicArguments/);
    const dynamic = gpu.createKernel(source, settings([2], { dynamicArguments: true }));
    await call(dynamic, Float32Array.from([1, 2, 3]));
    expect(flat(await call(dynamic, Float32Array.from([4, 5, 6, 7, 8])))).toEqual([8, 10]);
  });

  it('integer arithmetic on a scalar argument is f32 on webasm and webgpu (f64 on cpu): flat indices past 2^24 round, so read large arrays through 2-D input()', async () => {
    const kernel = gpu.createKernel('function (o) { return (o + this.thread.x) % 8.0; }', settings([4]));
    expect(flat(await call(kernel, 16_777_216))).toEqual(mode === 'cpu' ? [0, 1, 2, 3] : [0, 0, 2, 4]);
  });
});
