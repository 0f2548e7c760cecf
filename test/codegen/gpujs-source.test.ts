import * as gpujs from 'gpu.js';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { at2, checkKernelSource, f32, float, forRange, id, int, kernelSettings, kernelSource } from '../../compiler/codegen/gpujs/source.ts';

// gpu.js's typings declare `input` only as a type; the function is there at run time.
const input = (gpujs as unknown as { input: (value: Float32Array, size: number[]) => Float32Array }).input;

const modes = ['cpu', 'webasm'] as const;
const gpus = new Map(modes.map((mode) => [mode, new GPU({ mode })]));
afterAll(() => gpus.forEach((g) => g.destroy()));

describe('gpu.js kernel source: only compiler identifiers and validated numbers', () => {
  it('refuses identifiers and numbers the compiler did not make', () => {
    expect(() => id('weights; require')).toThrow(/is not a compiler identifier/);
    expect(() => id('constructor')).toThrow(/is not a compiler identifier/);
    expect(() => id('Layer1')).toThrow(/is not a compiler identifier/);
    expect(() => int(1.5)).toThrow(/not a safe integer/);
    expect(() => float(NaN)).toThrow(/not a finite number/);
    expect(float(2)).toBe('2.0');
    expect(float(1e-7)).toBe('1e-7');
  });

  it('refuses whole sources with strings, comments or words it did not make', () => {
    expect(() => checkKernelSource('function (a) { return a["x"]; }')).toThrow(/string, escape or comment/);
    expect(() => checkKernelSource('function (a) { /* hi */ return a[0]; }')).toThrow(/string, escape or comment/);
    expect(() => checkKernelSource('function (a) { return process.exit(1); }')).toThrow(/"process"/);
    expect(() => checkKernelSource('function (a) { return a.constructor; }')).toThrow(/"constructor"/);
    expect(() => checkKernelSource('function (a) { let s = a[0] * 1e-7; return s; }')).not.toThrow();
    expect(() => checkKernelSource('function (a) { return a[0] @ 1; }')).toThrow(/unexpected character/);
    expect(checkKernelSource('function (a) { return Math.fround(a[this.thread.x]); }')).toContain('Math.fround');
  });

  it('refuses Math.random: random masks come from the seeded host stream (gpu.js seeds are unreliable)', () => {
    expect(() => checkKernelSource('function (a) { return a[this.thread.x] * Math.random(); }')).toThrow(/Math\.random; random masks must come from the seeded host stream/);
  });
});

describe('gpu.js traps, cpu mode (computes in f64)', () => {
  it('threshold keys: Math.fround makes in-kernel keys compare like the f32 threshold the host computed', () => {
    const gpu = gpus.get('cpu')!;
    const rows = 64;
    const n = 50;
    const k = 5;
    const x = Float32Array.from({ length: rows * n }, (_, i) => Math.sin(i * 12.9898) * 43.7585 % 1);
    const dc = Float32Array.from({ length: n }, (_, j) => ((j * 7) % 11) / 20);
    const strength = 1.5;
    // the host's k-th largest boosted key per row, as f32 (what a selection kernel would store)
    const thresholds = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const keys = Array.from({ length: n }, (_, j) => Math.fround(x[r * n + j] * Math.exp(-strength * dc[j]))).sort((a, b) => b - a);
      thresholds[r] = keys[k - 1];
    }
    const count = (key: string) =>
      Array.from(gpu.createKernel(
        kernelSource(['x', 'dc', 'thr'], ['let c = 0.0;', ...forRange('j', n, [`if (${key} >= thr[this.thread.x]) { c += 1.0; }`])], 'c'),
        kernelSettings([rows]),
      )(input(x, [n, rows]), dc, thresholds) as Float32Array);
    const boosted = `x[this.thread.x][j] * Math.exp(${float(-strength)} * dc[j])`;
    expect(count(f32(boosted))).toEqual(new Array(rows).fill(k));
    // without fround, f64 keys just below their rounded-up f32 threshold lose: some rows count k - 1
    expect(count(boosted).some((c) => c !== k)).toBe(true);
  });
});

describe.each(modes)('gpu.js traps, %s mode', (mode) => {
  const gpu = gpus.get(mode)!;

  it('loop cap: forRange loops run to their literal bound (a non-literal bound stops at 1000)', () => {
    const a = new Float32Array(2000).fill(1);
    const body = forRange('i', 2000, ['s += a[i];']);
    const k = gpu.createKernel(kernelSource(['a'], ['let s = 0.0;', ...body], 's'), kernelSettings([1]));
    expect(Array.from(k(a) as Float32Array)).toEqual([2000]);
    // the trap itself, so this test fails loudly if gpu.js stops having it or forRange stops avoiding it
    const trap = gpu.createKernel('function (a, n) { let s = 0.0; for (let i = 0; i < n; i++) { s += a[i]; } return s; }', { output: [1] });
    expect(Array.from(trap(a, 2000) as Float32Array)).toEqual([1000]);
  });

  it('float32 indices: reads past element 2^24 are exact through 2-D indexing', () => {
    const cols = 4200;
    const rows = 4096; // 17,203,200 elements > 2^24
    const flat = new Float32Array(cols * rows);
    for (let i = 0; i < flat.length; i++) flat[i] = i % 1000;
    const wanted = [16_777_215, 16_777_217, 16_777_219, 17_203_199];
    // row and column are each small (exact in f32); only their flat product is past 2^24
    const k = gpu.createKernel(kernelSource(['a', 'rows', 'cols'], ['let r = rows[this.thread.x];', 'let c = cols[this.thread.x];'], at2('a', 'r', 'c')), kernelSettings([wanted.length]));
    const got = Array.from(k(input(flat, [cols, rows]), Float32Array.from(wanted, (i) => Math.floor(i / cols)), Float32Array.from(wanted, (i) => i % cols)) as Float32Array);
    expect(got).toEqual(wanted.map((i) => i % 1000));
  });
});
