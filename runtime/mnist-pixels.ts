/**
 * MNIST pixels: normalisation and the paper's pixel-noise protocol, on images already in memory
 * (`MnistSet`). Pure computation, no files: usable in a browser. Loading the IDX files is
 * runtime/mnist.ts (Node), which re-exports everything here.
 *
 * @example
 * import { normalizeInto, noisyImages } from 'winnow/runtime/mnist-pixels';
 * const set = { pixels: new Uint8Array(2 * 784), labels: new Uint8Array([3, 7]), count: 2 };
 * const batch = normalizeInto(set.pixels, [0, 1], new Float32Array(2 * 784));
 * const noisy = noisyImages(set, 0.25, 42); // 196 pixels of each image set to NOISE_VALUE, then normalised
 */
import { WinnowError } from '../dsl/errors.ts';
import { Rng } from './rng.ts';

/** Pixels per MNIST image (28 x 28). */
const PIXELS = 28 * 28;

/**
 * A loaded MNIST split: `count` images of 784 raw pixels (0..255) each, row-major, one after another,
 * and their labels (0..9). The arrays may be shared with the loader's cache: treat them as read-only.
 *
 * @example
 * const set: MnistSet = { pixels: new Uint8Array(784), labels: new Uint8Array([5]), count: 1 };
 * const firstPixelOfImage0 = set.pixels[0]; // label: set.labels[0]
 */
export interface MnistSet {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/**
 * Mean of the MNIST training pixels in [0, 1] units.
 * @example const z = (0.5 - MNIST_MEAN) / MNIST_STD;
 */
export const MNIST_MEAN = 0.1307;

/**
 * Standard deviation of the MNIST training pixels in [0, 1] units.
 * @example const z = (0.5 - MNIST_MEAN) / MNIST_STD;
 */
export const MNIST_STD = 0.3081;

/**
 * The value (in [0, 1] pixel units, before normalisation) that noisy pixels are set to.
 * @example const normalisedNoise = (NOISE_VALUE - MNIST_MEAN) / MNIST_STD;
 */
export const NOISE_VALUE = 0.7469;

/**
 * The paper's noise levels: the fractions 0, 0.05, ..., 0.5 of pixels replaced per image.
 * Each is i * 0.05 rounded to two decimals, so e.g. 0.15 is exactly the literal 0.15.
 *
 * @example
 * for (const level of NOISE_LEVELS) console.log(level, noisePixelCount(level)); // 0 0, 0.05 39, ...
 */
export const NOISE_LEVELS: readonly number[] = Object.freeze(
  Array.from({ length: 11 }, (_, i) => Math.round(i * 0.05 * 100) / 100),
);

/** Normalises a value in [0, 1] pixel units, rounded to float32 like every value we store. */
const normalise = (v: number): number => Math.fround((v - MNIST_MEAN) / MNIST_STD);

/** Normalised value of each byte 0..255: a lookup table is cheaper than dividing per pixel. */
const NORMALISED = Float32Array.from({ length: 256 }, (_, p) => normalise(p / 255));

/** Normalised value of a noisy pixel. */
const NORMALISED_NOISE = normalise(NOISE_VALUE);

/**
 * Normalises the listed samples of `pixels` (raw bytes, 784 per sample) into `out`: sample
 * `sampleIndices[j]` goes to `out[j * 784 .. (j + 1) * 784)` as `((p / 255) - MNIST_MEAN) / MNIST_STD`.
 * Used to build batches. Returns `out`.
 *
 * @throws WinnowError('usage') when `out` is shorter than `sampleIndices.length * 784` or an index is
 *   not a sample of `pixels`.
 *
 * @example
 * const set = loadMnist('train');
 * const batch = normalizeInto(set.pixels, [17, 4, 99], new Float32Array(3 * 784));
 */
export function normalizeInto(pixels: Uint8Array, sampleIndices: ArrayLike<number>, out: Float32Array): Float32Array {
  const n = sampleIndices.length;
  if (out.length < n * PIXELS) {
    throw new WinnowError('usage', `normalizeInto: out holds ${out.length} values, need ${n} x ${PIXELS} = ${n * PIXELS}`);
  }
  const available = Math.floor(pixels.length / PIXELS);
  for (let j = 0; j < n; j++) {
    const s = sampleIndices[j];
    if (!Number.isInteger(s) || s < 0 || s >= available) {
      throw new WinnowError('usage', `normalizeInto: sample index ${s} (at position ${j}) is not in [0, ${available})`);
    }
    const src = s * PIXELS;
    const dst = j * PIXELS;
    for (let i = 0; i < PIXELS; i++) out[dst + i] = NORMALISED[pixels[src + i]];
  }
  return out;
}

/**
 * How many pixels per image the noise protocol replaces at `level`: int(784 * level), with a tiny
 * epsilon so that float error cannot lose a pixel (0.05 -> 39, 0.1 -> 78, 0.5 -> 392).
 *
 * @throws WinnowError('usage') when `level` is not in [0, 1].
 *
 * @example
 * noisePixelCount(0.25); // 196
 */
export function noisePixelCount(level: number): number {
  if (!Number.isFinite(level) || level < 0 || level > 1) {
    throw new WinnowError('usage', `noise level must be a number in [0, 1], got ${level}`);
  }
  return Math.floor(PIXELS * level + 1e-9);
}

/**
 * The paper's noise protocol: in every image of `set`, `noisePixelCount(level)` distinct pixels
 * chosen at random are set to `NOISE_VALUE` (in [0, 1] units); then every pixel is normalised as in
 * `normalizeInto`. Returns `set.count * 784` normalised float32 values.
 *
 * Deterministic: the pixels are drawn from `Rng.fromSeed(seed, Math.round(level * 100) + 1000)`,
 * so a (seed, level) pair always gives the same images, and different levels use independent streams.
 * Level 0 gives exactly the normalised clean images.
 *
 * @throws WinnowError('usage') for a level outside [0, 1] or a non-integer seed;
 *   WinnowError('data') when `set.pixels` holds fewer than `set.count * 784` bytes.
 *
 * @example
 * const test = loadMnist('test');
 * const x = noisyImages(test, 0.3, 1); // each image has 235 pixels replaced
 */
export function noisyImages(set: MnistSet, level: number, seed: number): Float32Array {
  const k = noisePixelCount(level);
  if (!Number.isInteger(seed)) throw new WinnowError('usage', `noise seed must be an integer, got ${seed}`);
  const { pixels, count } = set;
  if (pixels.length < count * PIXELS) {
    throw new WinnowError('data', `noisyImages: set has ${count} samples but only ${pixels.length} pixels (need ${count * PIXELS})`);
  }

  const out = new Float32Array(count * PIXELS);
  const all = Array.from({ length: count }, (_, i) => i);
  normalizeInto(pixels, all, out);
  if (k === 0) return out;

  const rng = Rng.fromSeed(seed, Math.round(level * 100) + 1000);
  const scratch = new Int32Array(PIXELS); // reused by every draw: sample() refills it each time
  for (let s = 0; s < count; s++) {
    const chosen = rng.sample(PIXELS, k, scratch);
    const base = s * PIXELS;
    for (let j = 0; j < k; j++) out[base + chosen[j]] = NORMALISED_NOISE;
  }
  return out;
}
