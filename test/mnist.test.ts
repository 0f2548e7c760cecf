import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WinnowError } from '../dsl/errors.ts';
import {
  MNIST_MEAN,
  MNIST_STD,
  NOISE_LEVELS,
  NOISE_VALUE,
  loadMnist,
  mnistDir,
  noisePixelCount,
  noisyImages,
  normalizeInto,
  readIdx,
  readMnistFiles,
} from '../runtime/mnist.ts';
import type { MnistSet } from '../runtime/mnist.ts';

const P = 784;

/** Normalised float32 value of a pixel given in [0, 1] units, computed the way the module does. */
const norm = (v: number): number => Math.fround((v - MNIST_MEAN) / MNIST_STD);

/** A regex matching `s` literally (temp paths contain '.', '/', etc.). */
const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Index of the first element where two float arrays differ bit-wise (-1 if identical, length if sizes differ). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Builds an IDX unsigned-byte file: magic 0x0000 08 ndims, BE uint32 dims, then the data. */
function idx(dims: number[], data: ArrayLike<number>, magic?: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  Buffer.from(magic ?? [0, 0, 0x08, dims.length]).copy(head, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(Array.from(data))]);
}

/** Asserts that `f` throws a WinnowError of kind 'data' whose message matches `re`. */
function expectDataError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WinnowError);
  expect((err as WinnowError).kind).toBe('data');
  expect(f).toThrow(re);
}

describe('real MNIST files', () => {
  let train: MnistSet;
  let test: MnistSet;
  beforeAll(() => {
    train = loadMnist('train');
    test = loadMnist('test');
  });

  it('load with the right counts and sizes', () => {
    expect(train.count).toBe(60000);
    expect(train.pixels.length).toBe(60000 * P);
    expect(train.labels.length).toBe(60000);
    expect(test.count).toBe(10000);
    expect(test.pixels.length).toBe(10000 * P);
    expect(test.labels.length).toBe(10000);
    expect(train.labels[0]).toBe(5);
    expect(test.labels[0]).toBe(7);
  });

  it('have the expected IDX dims', () => {
    expect(readIdx(join(mnistDir(), 'train-images-idx3-ubyte')).dims).toEqual([60000, 28, 28]);
    expect(readIdx(join(mnistDir(), 't10k-labels-idx1-ubyte')).dims).toEqual([10000]);
  });

  it('have pixels spanning 0..255 with the published mean and std', () => {
    let min = 255, max = 0, sum = 0, sumSq = 0;
    const px = train.pixels;
    for (let i = 0; i < px.length; i++) {
      const p = px[i];
      if (p < min) min = p;
      if (p > max) max = p;
      sum += p;
      sumSq += p * p;
    }
    expect(min).toBe(0);
    expect(max).toBe(255);
    const mean = sum / px.length / 255;
    const std = Math.sqrt(sumSq / px.length / (255 * 255) - mean * mean);
    expect(mean).toBeCloseTo(MNIST_MEAN, 3);
    expect(std).toBeCloseTo(MNIST_STD, 3);
    // every label is a digit, and all ten occur
    const seen = new Set(train.labels);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('caches: repeated loads share the parsed data', () => {
    expect(loadMnist('train').pixels).toBe(train.pixels);
    const small = loadMnist('train', { limit: 100 });
    expect(small.count).toBe(100);
    expect(small.pixels.length).toBe(100 * P);
    expect(small.labels.length).toBe(100);
    expect(small.pixels.buffer).toBe(train.pixels.buffer);
    expect(small.labels[0]).toBe(5);
  });

  it('validates limit', () => {
    for (const limit of [0, -1, 2.5, 10001, Number.NaN]) {
      expect(() => loadMnist('test', { limit })).toThrow(WinnowError);
    }
    expect(() => loadMnist('test', { limit: 10001 })).toThrow(/limit must be a positive integer no larger than 10000/);
    expect(loadMnist('test', { limit: 10000 }).count).toBe(10000);
  });

  it('normalizeInto applies ((p/255) - mean) / std, sample by sample', () => {
    // find a pixel with a known non-zero value in test image 3
    const s = 3;
    let i = 0;
    while (test.pixels[s * P + i] === 0) i++;
    const p = test.pixels[s * P + i];
    const out = new Float32Array(2 * P + 5).fill(99);
    normalizeInto(test.pixels, [0, s], out);
    expect(out[P + i]).toBe(norm(p / 255));
    expect(out[P + i]).toBeCloseTo((p / 255 - 0.1307) / 0.3081, 6);
    expect(out[0]).toBe(norm(test.pixels[0] / 255));
    expect(out[2 * P]).toBe(99); // nothing written past n * 784
    // a zero pixel maps to -mean/std
    expect(norm(0)).toBeCloseTo(-0.1307 / 0.3081, 6);
    expect(() => normalizeInto(test.pixels, [0, 1], new Float32Array(P))).toThrow(WinnowError);
    expect(() => normalizeInto(test.pixels, [10000], new Float32Array(P))).toThrow(WinnowError);
  });
});

describe('noise protocol', () => {
  let set: MnistSet;
  let clean: Float32Array;
  beforeAll(() => {
    set = loadMnist('test', { limit: 300 });
    clean = normalizeInto(set.pixels, Array.from({ length: set.count }, (_, i) => i), new Float32Array(set.count * P));
  });

  it('levels and pixel counts follow int(784 * level)', () => {
    expect(NOISE_LEVELS).toHaveLength(11);
    expect(NOISE_LEVELS[0]).toBe(0);
    expect(NOISE_LEVELS[3]).toBe(0.15);
    expect(NOISE_LEVELS[7]).toBe(0.35);
    expect(NOISE_LEVELS[10]).toBe(0.5);
    expect(NOISE_LEVELS.map(noisePixelCount)).toEqual([0, 39, 78, 117, 156, 196, 235, 274, 313, 352, 392]);
    expect(() => noisePixelCount(1.5)).toThrow(WinnowError);
    expect(() => noisePixelCount(-0.1)).toThrow(WinnowError);
  });

  it('level 0 returns exactly the normalised clean images', () => {
    expect(firstDiff(noisyImages(set, 0, 7), clean)).toBe(-1);
  });

  it('changes exactly k distinct pixels per image, to the normalised noise value', () => {
    const noiseNorm = norm(NOISE_VALUE);
    // a byte never normalises to the noise value: 0.7469 * 255 is not an integer
    for (let b = 0; b < 256; b++) expect(norm(b / 255)).not.toBe(noiseNorm);
    for (const level of [0.05, 0.25, 0.5]) {
      const k = noisePixelCount(level);
      const noisy = noisyImages(set, level, 123);
      expect(noisy.length).toBe(set.count * P);
      // per image: [pixels changed, changed pixels not at the noise value, pixels at the noise value]
      const bad: string[] = [];
      for (let s = 0; s < set.count; s++) {
        let changed = 0, wrong = 0, atNoise = 0;
        for (let i = s * P; i < (s + 1) * P; i++) {
          if (noisy[i] !== clean[i]) {
            changed++;
            if (noisy[i] !== noiseNorm) wrong++;
          }
          if (noisy[i] === noiseNorm) atNoise++;
        }
        if (changed !== k || wrong !== 0 || atNoise !== k) bad.push(`image ${s}: ${changed} changed, ${wrong} wrong, ${atNoise} at noise`);
      }
      expect(bad).toEqual([]);
    }
  });

  it('is deterministic per seed and differs across seeds and levels', () => {
    const a = noisyImages(set, 0.2, 5);
    const b = noisyImages(set, 0.2, 5);
    const c = noisyImages(set, 0.2, 6);
    expect(firstDiff(b, a)).toBe(-1);
    expect(firstDiff(c, a)).not.toBe(-1);
    // the same seed at another level must not just extend the same choice of pixels
    const d = noisyImages(set, 0.25, 5);
    let sharedPrefix = true;
    const noiseNorm = norm(NOISE_VALUE);
    for (let i = 0; i < P && sharedPrefix; i++) if (a[i] === noiseNorm && d[i] !== noiseNorm) sharedPrefix = false;
    expect(sharedPrefix).toBe(false);
  });

  it('rejects bad levels and seeds', () => {
    expect(() => noisyImages(set, 2, 1)).toThrow(WinnowError);
    expect(() => noisyImages(set, 0.1, 1.5)).toThrow(WinnowError);
  });
});

describe('corrupted files', () => {
  let dir: string;
  const n = 3;
  const pixels = Array.from({ length: n * P }, (_, i) => i % 256);
  const labels = [1, 2, 3];

  /** Writes `content` to `name` in the temp dir and returns its path. */
  const put = (name: string, content: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'winnow-mnist-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts well-formed files', () => {
    const img = put('ok-images', idx([n, 28, 28], pixels));
    const lab = put('ok-labels', idx([n], labels));
    const r = readMnistFiles(img, lab, n);
    expect(r.count).toBe(n);
    expect(Array.from(r.labels)).toEqual(labels);
    expect(r.images[P + 5]).toBe((P + 5) % 256);
  });

  it('loads a split from a custom dir, with the standard names', () => {
    const sub = mkdtempSync(join(dir, 'split-'));
    writeFileSync(join(sub, 't10k-images-idx3-ubyte'), idx([n, 28, 28], pixels));
    writeFileSync(join(sub, 't10k-labels-idx1-ubyte'), idx([n], labels));
    // the standard split must have 10000 items
    expectDataError(() => loadMnist('test', { dir: sub }), new RegExp(`${lit(join(sub, 't10k-images-idx3-ubyte'))}: expected 10000 images, found 3`));
  });

  it('refuses a missing file', () => {
    const path = join(dir, 'does-not-exist');
    expectDataError(() => readIdx(path), new RegExp(`${lit(path)}: no such file`));
    const lab = put('lab-for-missing', idx([n], labels));
    expectDataError(() => readMnistFiles(path, lab), new RegExp(lit(path)));
  });

  it('refuses a bad magic number', () => {
    const path = put('bad-magic', idx([n], labels, [0x12, 0x34, 0x08, 1]));
    expectDataError(() => readIdx(path), new RegExp(`${lit(path)}: bad magic number 0x12340801, expected 0x00000801 or 0x00000803`));
  });

  it('refuses a non-unsigned-byte data type', () => {
    const path = put('bad-type', idx([n], labels, [0, 0, 0x0d, 1]));
    expectDataError(() => readIdx(path), new RegExp(`${lit(path)}: bad magic number 0x00000d01.*only 0x08`));
  });

  it('refuses a short header and a zero dimension', () => {
    const short = put('short-header', Buffer.from([0, 0, 8]));
    expectDataError(() => readIdx(short), new RegExp(`${lit(short)}: truncated header`));
    const shortDims = put('short-dims', Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]));
    expectDataError(() => readIdx(shortDims), new RegExp(`${lit(shortDims)}: truncated header`));
    const zero = put('zero-dim', idx([0, 28, 28], []));
    expectDataError(() => readIdx(zero), new RegExp(`${lit(zero)}: dimension 0 has size 0`));
  });

  it('refuses truncated data', () => {
    const path = put('truncated', idx([n, 28, 28], pixels.slice(0, n * P - 10)));
    expectDataError(() => readIdx(path), new RegExp(`${lit(path)}: truncated: expected ${n * P} bytes of data, found ${n * P - 10}`));
  });

  it('refuses trailing bytes', () => {
    const path = put('trailing', idx([n], [...labels, 0, 0]));
    expectDataError(() => readIdx(path), new RegExp(`${lit(path)}: trailing bytes: expected 3 bytes of data, found 5`));
  });

  it('refuses wrong kinds and shapes of files', () => {
    const lab = put('labels-as-images', idx([n], labels));
    const img = put('images-ok', idx([n, 28, 28], pixels));
    expectDataError(() => readMnistFiles(lab, lab), new RegExp(`${lit(lab)}: not an images file`));
    expectDataError(() => readMnistFiles(img, img), new RegExp(`${lit(img)}: not a labels file`));
    const small = put('images-14', idx([n, 14, 14], pixels.slice(0, n * 196)));
    expectDataError(() => readMnistFiles(small, lab), new RegExp(`${lit(small)}: images must be 28x28, found 14x14`));
  });

  it('refuses mismatched counts', () => {
    const img = put('mm-images', idx([n, 28, 28], pixels));
    const lab = put('mm-labels', idx([n - 1], labels.slice(0, n - 1)));
    expectDataError(
      () => readMnistFiles(img, lab),
      new RegExp(`${lit(img)} has 3 images but ${lit(lab)} has 2 labels`),
    );
    const lab3 = put('mm-labels3', idx([n], labels));
    expectDataError(() => readMnistFiles(img, lab3, 4), new RegExp(`${lit(img)}: expected 4 images, found 3`));
  });

  it('refuses a label outside 0..9, naming its index', () => {
    const img = put('l12-images', idx([n, 28, 28], pixels));
    const lab = put('l12-labels', idx([n], [4, 12, 0]));
    expectDataError(() => readMnistFiles(img, lab), new RegExp(`${lit(lab)}: label at index 1 is 12, expected 0\\.\\.9`));
  });
});
