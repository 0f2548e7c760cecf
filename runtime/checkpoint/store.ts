/**
 * The low-level, crash-safe on-disk format of a winnow checkpoint directory.
 *
 * A checkpoint is ONE directory holding:
 *
 * - `manifest.json` — `{ format: "winnow.checkpoint/1", data: { file, bytes, sha256 },
 *   tensors: [{ name, dtype, shape, offset, length, sha256 }], meta }`;
 * - one binary file `tensors-<generation>.bin` with every tensor's elements concatenated,
 *   little-endian, each tensor starting at an offset that is a multiple of 8 bytes.
 *
 * Writes are atomic: the new binary is written under a fresh generation name (temp file,
 * fsync, rename), then the manifest is replaced the same way — that rename is the commit point —
 * and only after the directory is fsynced are the old binary and stray temp files removed.
 * A process killed at any moment therefore leaves either the previous complete checkpoint or the
 * new one, never a mix. Reads verify everything (structure, sizes, sha256 of the file and of each
 * tensor) and refuse a bad checkpoint with a `WinnowError('checkpoint', ...)` naming the problem.
 *
 * @example
 * import { writeCheckpoint, readCheckpoint } from 'winnow/runtime/checkpoint/store';
 * writeCheckpoint('runs/a/ckpt', { step: 10 }, { w: { data: new Float32Array(6), shape: [2, 3] } });
 * const { meta, tensors } = readCheckpoint('runs/a/ckpt'); // meta.step === 10
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { WinnowError } from '../../dsl/errors.ts';

/** The `format` string every manifest written by this module carries. */
export const CHECKPOINT_FORMAT = 'winnow.checkpoint/1';

/** The element types a checkpoint can store. */
export type TensorDtype = 'float32' | 'float64' | 'int32' | 'uint8' | 'uint32';

/**
 * The typed arrays a checkpoint can store (one per {@link TensorDtype}).
 *
 * @example
 * const d: TensorData = new Int32Array([1, 2, 3]);
 */
export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array;

/**
 * One tensor as stored in a checkpoint: its elements (row-major) and its shape.
 * The product of `shape` must equal `data.length` (`[]` is a scalar with one element).
 *
 * @example
 * const bias: StoredTensor = { data: new Float32Array([0.1, 0.2]), shape: [2] };
 */
export interface StoredTensor {
  data: TensorData;
  shape: readonly number[];
}

/**
 * What {@link readCheckpoint} returns: the caller's `meta` object and every tensor by name.
 *
 * @example
 * const ck: LoadedCheckpoint = readCheckpoint('runs/a/ckpt');
 * const w = ck.tensors.get('layer1.weight');
 */
export interface LoadedCheckpoint {
  meta: Record<string, unknown>;
  tensors: Map<string, StoredTensor>;
}

const MANIFEST = 'manifest.json';
const MANIFEST_TMP = 'manifest.json.tmp';
const ALIGN = 8;
const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Per dtype: bytes per element, typed-array constructor, and DataView accessors (big-endian hosts). */
const DTYPES: Record<
  TensorDtype,
  {
    bytes: number;
    make: (n: number) => TensorData;
    get: (v: DataView, at: number) => number;
    set: (v: DataView, at: number, x: number) => void;
  }
> = {
  float32: {
    bytes: 4,
    make: (n) => new Float32Array(n),
    get: (v, at) => v.getFloat32(at, true),
    set: (v, at, x) => v.setFloat32(at, x, true),
  },
  float64: {
    bytes: 8,
    make: (n) => new Float64Array(n),
    get: (v, at) => v.getFloat64(at, true),
    set: (v, at, x) => v.setFloat64(at, x, true),
  },
  int32: {
    bytes: 4,
    make: (n) => new Int32Array(n),
    get: (v, at) => v.getInt32(at, true),
    set: (v, at, x) => v.setInt32(at, x, true),
  },
  uint8: {
    bytes: 1,
    make: (n) => new Uint8Array(n),
    get: (v, at) => v.getUint8(at),
    set: (v, at, x) => v.setUint8(at, x),
  },
  uint32: {
    bytes: 4,
    make: (n) => new Uint32Array(n),
    get: (v, at) => v.getUint32(at, true),
    set: (v, at, x) => v.setUint32(at, x, true),
  },
};

const isDtype = (s: string): s is TensorDtype => Object.prototype.hasOwnProperty.call(DTYPES, s);

/** The dtype of a typed array, or undefined for anything that is not a supported typed array. */
function dtypeOf(data: unknown): TensorDtype | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint32Array) return 'uint32';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Manifest codec
// ---------------------------------------------------------------------------------------------

interface NonNegIntBrand {
  readonly NonNegInt: unique symbol;
}
const NonNegInt = t.brand(
  t.number,
  (n): n is t.Branded<number, NonNegIntBrand> => Number.isSafeInteger(n) && n >= 0,
  'NonNegInt',
);

interface Sha256HexBrand {
  readonly Sha256Hex: unique symbol;
}
const Sha256Hex = t.brand(
  t.string,
  (s): s is t.Branded<string, Sha256HexBrand> => /^[0-9a-f]{64}$/.test(s),
  'Sha256Hex',
);

const TensorEntryCodec = t.type({
  name: t.string,
  dtype: t.string,
  shape: t.array(NonNegInt),
  offset: NonNegInt,
  length: NonNegInt,
  sha256: Sha256Hex,
});

const ManifestCodec = t.type({
  format: t.string,
  data: t.type({ file: t.string, bytes: NonNegInt, sha256: Sha256Hex }),
  tensors: t.array(TensorEntryCodec),
  meta: t.UnknownRecord,
});

type Manifest = t.TypeOf<typeof ManifestCodec>;

/** Human wording for the codec type names that appear in validation errors. */
const EXPECTED: Record<string, string> = {
  NonNegInt: 'a non-negative integer',
  Sha256Hex: 'a 64-digit lowercase hex sha256',
  string: 'a string',
  UnknownRecord: 'a JSON object',
};

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** One readable line per io-ts error: the field path, what was expected and what was found. */
function describeErrors(errors: t.Errors): string[] {
  const lines: string[] = [];
  for (const err of errors) {
    let path = '';
    for (let i = 1; i < err.context.length; i++) {
      const entry = err.context[i]!;
      const parent = err.context[i - 1]!.type;
      path += parent instanceof t.ArrayType ? `[${entry.key}]` : path === '' ? entry.key : `.${entry.key}`;
    }
    const last = err.context[err.context.length - 1]!;
    const expected =
      EXPECTED[last.type.name] ??
      (last.type instanceof t.ArrayType ? 'an array' : last.type instanceof t.InterfaceType ? 'an object' : last.type.name);
    const field = path === '' ? 'the manifest' : `field '${path}'`;
    lines.push(
      err.value === undefined
        ? `${field} is missing (expected ${expected})`
        : `${field} must be ${expected}, got ${describeValue(err.value)}`,
    );
  }
  return [...new Set(lines)];
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function fail(dir: string, problem: string): never {
  throw new WinnowError('checkpoint', `checkpoint ${dir}: ${problem}`);
}

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const errCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;

const alignUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

const showShape = (shape: readonly number[]): string => `[${shape.join(',')}]`;

/** The tensor's elements as little-endian bytes (a view when the host is little-endian). */
function leBytes(dtype: TensorDtype, data: TensorData): Uint8Array {
  if (LITTLE_ENDIAN_HOST || DTYPES[dtype].bytes === 1) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  const spec = DTYPES[dtype];
  for (let i = 0; i < data.length; i++) spec.set(view, i * spec.bytes, data[i]!);
  return out;
}

/** A fresh, aligned typed array holding `length` little-endian elements read from `bytes`. */
function fromLeBytes(dtype: TensorDtype, bytes: Uint8Array, length: number): TensorData {
  const spec = DTYPES[dtype];
  const out = spec.make(length);
  if (LITTLE_ENDIAN_HOST || spec.bytes === 1) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < length; i++) out[i] = spec.get(view, i * spec.bytes);
  }
  return out;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** fsync a directory so renames/creations in it are durable; a no-op where the OS cannot. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    // Windows cannot open or fsync directories; some filesystems refuse directory fsync.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF', 'EACCES', 'ENOTSUP'].includes(errCode(e) ?? '')) throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function tryUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone or not removable: stale files are harmless, they are never referenced.
  }
}

/** Throws unless `meta` is plain JSON (objects, arrays, strings, finite numbers, booleans, null). */
function checkJson(dir: string, value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(dir, `meta${path}: ${value} cannot be stored in JSON`);
    return;
  }
  if (typeof value !== 'object') fail(dir, `meta${path}: a ${typeof value} cannot be stored in JSON`);
  const obj = value as object;
  if (seen.has(obj)) fail(dir, `meta${path}: circular reference cannot be stored in JSON`);
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => checkJson(dir, v, `${path}[${i}]`, seen));
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      fail(dir, `meta${path}: a ${proto?.constructor?.name ?? 'non-plain'} object cannot be stored in JSON`);
    }
    for (const [k, v] of Object.entries(obj)) checkJson(dir, v, `${path}.${k}`, seen);
  }
  seen.delete(obj);
}

/** The highest generation number among `tensors-<n>.bin` (and their temp files) in `dir`. */
function lastGeneration(names: readonly string[]): number {
  let max = 0;
  for (const name of names) {
    const m = /^tensors-(\d+)\.bin(?:\.tmp)?$/.exec(name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// Write
// ---------------------------------------------------------------------------------------------

interface PlannedTensor {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  bytes: Uint8Array;
  offset: number;
  length: number;
}

function planTensors(
  dir: string,
  tensors: ReadonlyMap<string, StoredTensor> | Record<string, StoredTensor>,
): { planned: PlannedTensor[]; total: number } {
  const entries: [string, StoredTensor][] =
    tensors instanceof Map ? [...(tensors as ReadonlyMap<string, StoredTensor>).entries()] : Object.entries(tensors);
  const planned: PlannedTensor[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const [name, tensor] of entries) {
    if (typeof name !== 'string' || name === '') fail(dir, `tensor names must be non-empty strings, got ${JSON.stringify(name)}`);
    if (names.has(name)) fail(dir, `duplicate tensor name '${name}'`);
    names.add(name);
    if (typeof tensor !== 'object' || tensor === null) fail(dir, `tensor '${name}': expected { data, shape }`);
    const dtype = dtypeOf(tensor.data);
    if (dtype === undefined) {
      fail(dir, `tensor '${name}': data must be a Float32Array, Float64Array, Int32Array, Uint8Array or Uint32Array`);
    }
    const { shape } = tensor;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(dir, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const n = product(shape);
    if (n !== tensor.data.length) {
      fail(dir, `tensor '${name}': shape ${showShape(shape)} has ${n} elements but data has ${tensor.data.length}`);
    }
    offset = alignUp(offset);
    const bytes = leBytes(dtype, tensor.data);
    planned.push({ name, dtype: dtype, shape: [...shape], bytes, offset, length: tensor.data.length });
    offset += bytes.length;
  }
  return { planned, total: offset };
}

/** Writes `bytes`-producing `body` to `tmp`, fsyncs, and renames it to `final`. */
function writeFileAtomic(tmp: string, final: string, body: (fd: number) => void): void {
  const fd = openSync(tmp, 'w');
  try {
    body(fd);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, final);
}

/**
 * Creates `dir` and any missing parents one level at a time. (Node's `mkdirSync(dir, { recursive:
 * true })` never returns for some paths, such as one under /proc; one level at a time fails fast.)
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  while (statSync(d, { throwIfNoEntry: false }) === undefined) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const m of missing) mkdirSync(m);
}

/**
 * Makes sure `dir` can hold a checkpoint: creates it (and its parents) if missing, or throws a
 * `WinnowError('checkpoint')` at once if it cannot be created or is not a directory. Training
 * calls it before the first step, so a bad `--out` costs no work.
 *
 * @example
 * ensureCheckpointDir('runs/sparse-mlp');
 */
export function ensureCheckpointDir(dir: string): void {
  let created = false;
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st === undefined) {
      makeDirs(resolve(dir));
      created = true;
    } else if (!st.isDirectory()) {
      fail(dir, 'exists but is not a directory');
    }
  } catch (e) {
    if (e instanceof WinnowError) throw e;
    fail(dir, `cannot create the directory: ${errMessage(e)}`);
  }
  if (created) fsyncDir(dirname(resolve(dir)));
}

/**
 * Writes a checkpoint to `dir` atomically, replacing any checkpoint already there.
 *
 * The directory is created if needed. The tensors go to a new `tensors-<generation>.bin`
 * (through a `.tmp` file, fsync and rename), then `manifest.json` is replaced the same way — the
 * commit point — the directory is fsynced, and only then are the previous binary and any stale
 * temp files deleted. A crash or `kill -9` at any moment leaves the previous complete checkpoint
 * or the new one readable.
 *
 * `meta` must be plain JSON (finite numbers, strings, booleans, null, arrays, plain objects).
 * Every tensor's shape product must equal its data length. Throws `WinnowError('checkpoint')`
 * for bad input and for I/O failures (the previous checkpoint is then left untouched).
 *
 * @example
 * writeCheckpoint('runs/mnist/ckpt', { step: 1200, seed: 7 }, new Map([
 *   ['layer1.weight', { data: new Float32Array(784 * 128), shape: [784, 128] }],
 *   ['layer1.mask', { data: new Uint8Array(784 * 128), shape: [784, 128] }],
 * ]));
 */
export function writeCheckpoint(
  dir: string,
  meta: Record<string, unknown>,
  tensors: ReadonlyMap<string, StoredTensor> | Record<string, StoredTensor>,
): void {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) fail(dir, 'meta must be a JSON object');
  checkJson(dir, meta, '', new Set());
  if (typeof tensors !== 'object' || tensors === null) fail(dir, 'tensors must be a Map or an object of { data, shape }');
  const { planned, total } = planTensors(dir, tensors);

  ensureCheckpointDir(dir);

  const generation = lastGeneration(readdirSync(dir)) + 1;
  const dataFile = `tensors-${generation}.bin`;
  const dataTmp = join(dir, `${dataFile}.tmp`);
  const manifestTmp = join(dir, MANIFEST_TMP);

  let fileSha = '';
  const entries: { name: string; dtype: TensorDtype; shape: number[]; offset: number; length: number; sha256: string }[] =
    [];
  try {
    writeFileAtomic(dataTmp, join(dir, dataFile), (fd) => {
      const hash = createHash('sha256');
      const zeros = new Uint8Array(ALIGN);
      let at = 0;
      for (const p of planned) {
        if (p.offset > at) {
          const pad = zeros.subarray(0, p.offset - at);
          writeAll(fd, pad);
          hash.update(pad);
          at = p.offset;
        }
        writeAll(fd, p.bytes);
        hash.update(p.bytes);
        at += p.bytes.length;
        entries.push({
          name: p.name,
          dtype: p.dtype,
          shape: p.shape,
          offset: p.offset,
          length: p.length,
          sha256: sha256(p.bytes),
        });
      }
      fileSha = hash.digest('hex');
    });
    // Make the binary's rename durable before the manifest can point at it.
    fsyncDir(dir);

    const manifest = {
      format: CHECKPOINT_FORMAT,
      data: { file: dataFile, bytes: total, sha256: fileSha },
      tensors: entries,
      meta,
    };
    const text = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
    writeFileAtomic(manifestTmp, join(dir, MANIFEST), (fd) => writeAll(fd, text)); // commit point
    fsyncDir(dir);
  } catch (e) {
    tryUnlink(dataTmp);
    tryUnlink(manifestTmp);
    if (e instanceof WinnowError) throw e;
    fail(dir, `cannot write the checkpoint: ${errMessage(e)}`);
  }

  // Committed: remove binaries and temp files the new manifest does not reference.
  for (const name of readdirSync(dir)) {
    if (name === dataFile) continue;
    if (/^tensors-.+\.bin$/.test(name) || /^tensors-.+\.tmp$/.test(name) || name === MANIFEST_TMP) {
      tryUnlink(join(dir, name));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Read
// ---------------------------------------------------------------------------------------------

/** Reads and validates `dir/manifest.json` (everything that can be checked without the binary). */
function readManifest(dir: string): Manifest {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) fail(dir, 'directory does not exist');
  if (!st.isDirectory()) fail(dir, 'is not a directory');

  const manifestPath = join(dir, MANIFEST);
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (e) {
    if (errCode(e) === 'ENOENT') fail(dir, `${MANIFEST} is missing (not a checkpoint directory?)`);
    return fail(dir, `cannot read ${MANIFEST}: ${errMessage(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(dir, `${MANIFEST} is not valid JSON (${errMessage(e)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(dir, `${MANIFEST} is not a JSON object`);
  const format = (raw as { format?: unknown }).format;
  if (typeof format === 'string' && format !== CHECKPOINT_FORMAT) {
    fail(dir, `${MANIFEST}: unsupported format ${JSON.stringify(format)} (expected "${CHECKPOINT_FORMAT}")`);
  }
  const decoded = ManifestCodec.decode(raw);
  if (isLeft(decoded)) {
    const problems = describeErrors(decoded.left).map((p) => `checkpoint ${dir}: ${MANIFEST}: ${p}`);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new WinnowError('checkpoint', `${problems[0]}${more}`, problems);
  }
  const manifest = decoded.right;

  const file = manifest.data.file;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file) || file === MANIFEST || file === MANIFEST_TMP) {
    fail(dir, `${MANIFEST}: data.file ${JSON.stringify(file)} is not a plain file name in the checkpoint directory`);
  }

  const names = new Set<string>();
  for (const [i, entry] of manifest.tensors.entries()) {
    const label = `${MANIFEST}: tensors[${i}]${entry.name === '' ? '' : ` ('${entry.name}')`}`;
    if (entry.name === '') fail(dir, `${label}: empty tensor name`);
    if (names.has(entry.name)) fail(dir, `${MANIFEST}: duplicate tensor name '${entry.name}'`);
    names.add(entry.name);
    if (!isDtype(entry.dtype)) {
      fail(dir, `${label}: unknown dtype ${JSON.stringify(entry.dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`);
    }
    const spec = DTYPES[entry.dtype as TensorDtype];
    const n = product(entry.shape);
    if (n !== entry.length) {
      fail(dir, `${label}: shape ${showShape(entry.shape)} has ${n} elements but length is ${entry.length}`);
    }
    if (entry.offset % ALIGN !== 0) fail(dir, `${label}: offset ${entry.offset} is not a multiple of ${ALIGN}`);
    const end = entry.offset + entry.length * spec.bytes;
    if (end > manifest.data.bytes) {
      fail(dir, `${label}: bytes ${entry.offset}..${end} lie outside the ${manifest.data.bytes}-byte data file`);
    }
  }
  return manifest;
}

/**
 * Reads and fully verifies the checkpoint in `dir`.
 *
 * Throws `WinnowError('checkpoint')` naming the directory and the problem for: a missing
 * directory; a missing, unparseable or structurally wrong `manifest.json` (the message names the
 * field); a wrong `format`; a missing, wrongly sized or corrupted data file (sha256 mismatch);
 * a tensor with an unknown dtype, an out-of-range offset/length, a shape that does not match its
 * length, a duplicate name, or a sha256 mismatch. Every tensor is copied into a fresh, aligned
 * typed array, so the result shares no memory with the file buffer.
 *
 * @example
 * const { meta, tensors } = readCheckpoint('runs/mnist/ckpt');
 * const w = tensors.get('layer1.weight'); // { data: Float32Array, shape: [784, 128] }
 * console.log(meta.step, w?.shape);
 */
export function readCheckpoint(dir: string): LoadedCheckpoint {
  const manifest = readManifest(dir);
  const { file, bytes, sha256: fileSha } = manifest.data;
  const dataPath = join(dir, file);

  const st = statSync(dataPath, { throwIfNoEntry: false });
  if (st === undefined) fail(dir, `data file ${file} named by ${MANIFEST} is missing`);
  if (!st.isFile()) fail(dir, `data file ${file} is not a regular file`);
  if (st.size !== bytes) {
    fail(dir, `data file ${file} is ${st.size} bytes but ${MANIFEST} says ${bytes} (truncated or overwritten?)`);
  }
  let buf: Buffer;
  try {
    buf = readFileSync(dataPath);
  } catch (e) {
    return fail(dir, `cannot read data file ${file}: ${errMessage(e)}`);
  }
  if (buf.length !== bytes) fail(dir, `data file ${file} is ${buf.length} bytes but ${MANIFEST} says ${bytes}`);
  if (sha256(buf) !== fileSha) fail(dir, `data file ${file} checksum mismatch (file corrupted?)`);

  const tensors = new Map<string, StoredTensor>();
  for (const entry of manifest.tensors) {
    const dtype = entry.dtype as TensorDtype;
    const slice = buf.subarray(entry.offset, entry.offset + entry.length * DTYPES[dtype].bytes);
    if (sha256(slice) !== entry.sha256) fail(dir, `tensor '${entry.name}' checksum mismatch (file corrupted?)`);
    tensors.set(entry.name, { data: fromLeBytes(dtype, slice, entry.length), shape: [...entry.shape] });
  }
  return { meta: manifest.meta, tensors };
}

/**
 * True when `dir` looks like a checkpoint directory (it contains a `manifest.json` file).
 * Does not verify the checkpoint; use {@link readCheckpoint} for that.
 *
 * @example
 * if (isCheckpointDir('runs/mnist/ckpt')) resumeFrom(readCheckpoint('runs/mnist/ckpt'));
 */
export function isCheckpointDir(dir: string): boolean {
  try {
    return statSync(join(dir, MANIFEST), { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}
