import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WinnowError } from '../dsl/errors.ts';
import {
  CHECKPOINT_FORMAT,
  isCheckpointDir,
  readCheckpoint,
  writeCheckpoint,
  type StoredTensor,
  type TensorData,
} from '../runtime/checkpoint/store.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

let tmp: string;
let counter = 0;
/** A fresh (not yet existing) checkpoint directory path under the test's temp dir. */
const freshDir = (): string => join(tmp, `ck-${++counter}`);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-ckpt-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const bytesOf = (d: TensorData): Uint8Array => new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** Runs `f`, expects a WinnowError('checkpoint'), and returns its message. */
function checkpointError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WinnowError);
    expect((e as WinnowError).kind).toBe('checkpoint');
    return (e as WinnowError).message;
  }
  throw new Error('expected a WinnowError, but nothing was thrown');
}

function sampleTensors(): Map<string, StoredTensor> {
  const f32 = new Float32Array(7);
  const f32bits = new Uint32Array(f32.buffer);
  f32.set([1.5, -0, 0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
  f32bits[5] = 0x7fc00001; // NaN with a payload
  f32bits[6] = 0xffa00000; // negative signalling-ish NaN
  const f64 = new Float64Array(6);
  const f64view = new DataView(f64.buffer);
  f64.set([Math.PI, -0, 5e-324, -Infinity]);
  f64view.setUint32(32, 0x00000001, true); // NaN 0x7ff8000000000001
  f64view.setUint32(36, 0x7ff80000, true);
  f64view.setUint32(40, 0xdeadbeef, true); // NaN 0xfff12345deadbeef
  f64view.setUint32(44, 0xfff12345, true);
  return new Map<string, StoredTensor>([
    ['w.f32', { data: f32, shape: [7] }],
    ['w.f64', { data: f64, shape: [2, 3] }],
    ['idx.i32', { data: new Int32Array([-2147483648, -1, 0, 1, 2147483647]), shape: [5] }],
    ['mask.u8', { data: new Uint8Array([0, 1, 127, 128, 255]), shape: [5, 1] }],
    ['rng.u32', { data: new Uint32Array([0, 1, 0x80000000, 0xffffffff]), shape: [2, 2] }],
    ['scalar', { data: new Float64Array([42]), shape: [] }],
    ['empty', { data: new Float32Array(0), shape: [3, 0] }],
  ]);
}

describe('checkpoint store: round trip', () => {
  it('round-trips every dtype bit-exactly (NaN payloads, -0, infinities, denormals)', () => {
    const dir = freshDir();
    const tensors = sampleTensors();
    writeCheckpoint(dir, { step: 3 }, tensors);
    const back = readCheckpoint(dir);
    expect([...back.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const got = back.tensors.get(name)!;
      expect(got.data.constructor, name).toBe(t.data.constructor);
      expect(got.shape, name).toEqual(t.shape);
      expect(got.data.length, name).toBe(t.data.length);
      expect([...bytesOf(got.data)], name).toEqual([...bytesOf(t.data)]);
      expect(got.data.byteOffset % 8).toBe(0);
    }
    expect(Object.is(back.tensors.get('w.f32')!.data[1], -0)).toBe(true);
    expect(Object.is(back.tensors.get('w.f64')!.data[1], -0)).toBe(true);
  });

  it('round-trips meta and accepts a plain object of tensors', () => {
    const dir = freshDir();
    const meta = { step: 12, lr: 0.001, name: 'mnist', nested: { a: [1, 'two', null, true], b: {} }, none: null };
    writeCheckpoint(dir, meta, { a: { data: new Int32Array([1, 2, 3]), shape: [3] } });
    const back = readCheckpoint(dir);
    expect(back.meta).toEqual(meta);
    expect([...back.tensors.get('a')!.data]).toEqual([1, 2, 3]);
  });

  it('writes only the viewed range of a typed-array view with a byte offset', () => {
    const dir = freshDir();
    const big = new Float32Array([9, 1, 2, 3, 9]);
    const view = big.subarray(1, 4);
    writeCheckpoint(dir, {}, { v: { data: view, shape: [3] } });
    const got = readCheckpoint(dir).tensors.get('v')!;
    expect([...got.data]).toEqual([1, 2, 3]);
    expect(got.data.buffer).not.toBe(big.buffer);
  });

  it('writes the documented manifest with 8-byte aligned offsets', () => {
    const dir = freshDir();
    writeCheckpoint(dir, { k: 1 }, sampleTensors());
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe(CHECKPOINT_FORMAT);
    expect(manifest.data.file).toMatch(/^tensors-\d+\.bin$/);
    expect(manifest.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, manifest.data.file)).length).toBe(manifest.data.bytes);
    for (const t of manifest.tensors) {
      expect(t.offset % 8).toBe(0);
      expect(Object.keys(t).sort()).toEqual(['dtype', 'length', 'name', 'offset', 'sha256', 'shape']);
    }
    expect(manifest.meta).toEqual({ k: 1 });
  });

  it('overwriting leaves exactly one .bin file and no .tmp files', () => {
    const dir = freshDir();
    for (let g = 1; g <= 4; g++) {
      writeCheckpoint(dir, { g }, { x: { data: new Float64Array(100).fill(g), shape: [10, 10] } });
    }
    const files = readdirSync(dir).sort();
    expect(files.filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.tmp'))).toHaveLength(0);
    expect(files).toHaveLength(2);
    const back = readCheckpoint(dir);
    expect(back.meta).toEqual({ g: 4 });
    expect(back.tensors.get('x')!.data.every((v) => v === 4)).toBe(true);
  });

  it('ignores and later removes debris of an interrupted write', () => {
    const dir = freshDir();
    writeCheckpoint(dir, { g: 1 }, { x: { data: new Uint8Array([1]), shape: [1] } });
    // Debris as a kill -9 could leave it: an orphan binary, a half-written binary, a manifest temp.
    writeFileSync(join(dir, 'tensors-7.bin'), 'orphan');
    writeFileSync(join(dir, 'tensors-8.bin.tmp'), 'half');
    writeFileSync(join(dir, 'manifest.json.tmp'), '{"format": "winnow.chec');
    writeFileSync(join(dir, 'notes.txt'), 'not ours');
    expect(readCheckpoint(dir).meta).toEqual({ g: 1 });
    writeCheckpoint(dir, { g: 2 }, { x: { data: new Uint8Array([2]), shape: [1] } });
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['manifest.json', 'notes.txt', 'tensors-9.bin']);
    expect(readCheckpoint(dir).meta).toEqual({ g: 2 });
  });

  it('isCheckpointDir is true only where manifest.json exists', () => {
    const dir = freshDir();
    expect(isCheckpointDir(dir)).toBe(false);
    writeCheckpoint(dir, {}, {});
    expect(isCheckpointDir(dir)).toBe(true);
    expect(isCheckpointDir(tmp)).toBe(false);
    expect(readCheckpoint(dir).tensors.size).toBe(0);
  });
});

describe('checkpoint store: refusing bad input on write', () => {
  it('refuses a shape that does not match the data and keeps the previous checkpoint', () => {
    const dir = freshDir();
    writeCheckpoint(dir, { g: 1 }, { x: { data: new Float32Array(6), shape: [2, 3] } });
    const msg = checkpointError(() =>
      writeCheckpoint(dir, { g: 2 }, { x: { data: new Float32Array(5), shape: [2, 3] } }),
    );
    expect(msg).toContain(dir);
    expect(msg).toMatch(/tensor 'x': shape \[2,3\] has 6 elements but data has 5/);
    expect(readCheckpoint(dir).meta).toEqual({ g: 1 });
  });

  it('refuses bad shapes, unsupported arrays and meta that JSON cannot hold', () => {
    const dir = freshDir();
    expect(checkpointError(() => writeCheckpoint(dir, {}, { x: { data: new Float32Array(2), shape: [-1, -2] } }))).toMatch(
      /shape must be an array of non-negative integers/,
    );
    expect(
      checkpointError(() =>
        writeCheckpoint(dir, {}, { x: { data: new Int16Array(2) as unknown as Int32Array, shape: [2] } }),
      ),
    ).toMatch(/tensor 'x': data must be/);
    expect(checkpointError(() => writeCheckpoint(dir, { lr: NaN }, {}))).toMatch(/meta\.lr: NaN/);
    expect(checkpointError(() => writeCheckpoint(dir, { d: new Date() }, {}))).toMatch(/meta\.d: a Date object/);
    expect(checkpointError(() => writeCheckpoint(dir, [] as unknown as Record<string, unknown>, {}))).toMatch(
      /meta must be a JSON object/,
    );
    expect(existsSync(dir)).toBe(false);
  });
});

describe('checkpoint store: refusing corrupted checkpoints', () => {
  /** A fresh valid checkpoint; returns its dir, data file path and a manifest editor. */
  function valid() {
    const dir = freshDir();
    writeCheckpoint(dir, { step: 1 }, {
      'layer1.weight': { data: new Float32Array(64).fill(0.5), shape: [8, 8] },
      'layer1.mask': { data: new Uint8Array(10).fill(1), shape: [10] },
    });
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    const dataPath = join(dir, manifest.data.file as string);
    const editManifest = (edit: (m: any) => void): void => {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
      edit(m);
      writeFileSync(manifestPath, JSON.stringify(m));
    };
    return { dir, dataPath, manifestPath, file: manifest.data.file as string, editManifest };
  }

  it('a flipped byte in the data file: checksum mismatch', () => {
    const { dir, dataPath, file } = valid();
    const bytes = readFileSync(dataPath);
    bytes[17] ^= 0x01;
    writeFileSync(dataPath, bytes);
    const msg = checkpointError(() => readCheckpoint(dir));
    expect(msg).toContain(dir);
    expect(msg).toContain(file);
    expect(msg).toMatch(/checksum mismatch/);
  });

  it('a truncated data file: size mismatch', () => {
    const { dir, dataPath, file } = valid();
    truncateSync(dataPath, 100);
    const msg = checkpointError(() => readCheckpoint(dir));
    expect(msg).toContain(file);
    expect(msg).toMatch(/is 100 bytes but manifest\.json says \d+/);
  });

  it('a deleted data file: missing', () => {
    const { dir, dataPath, file } = valid();
    unlinkSync(dataPath);
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(new RegExp(`data file ${file}.*missing`));
  });

  it('a garbage manifest: not valid JSON', () => {
    const { dir, manifestPath } = valid();
    writeFileSync(manifestPath, '{"format": "winnow.checkpoint/1", \u0000garbage');
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(/manifest\.json is not valid JSON/);
    writeFileSync(manifestPath, '[1, 2]');
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(/manifest\.json is not a JSON object/);
  });

  it('a manifest with a missing or mistyped field: the error names the field', () => {
    const a = valid();
    a.editManifest((m) => delete m.data.sha256);
    expect(checkpointError(() => readCheckpoint(a.dir))).toMatch(/field 'data\.sha256' is missing/);

    const b = valid();
    b.editManifest((m) => delete m.tensors[1].shape);
    expect(checkpointError(() => readCheckpoint(b.dir))).toMatch(/field 'tensors\[1\]\.shape' is missing/);

    const c = valid();
    c.editManifest((m) => (m.tensors[0].offset = -8));
    expect(checkpointError(() => readCheckpoint(c.dir))).toMatch(
      /field 'tensors\[0\]\.offset' must be a non-negative integer, got -8/,
    );

    const d = valid();
    d.editManifest((m) => {
      delete m.meta;
      m.tensors = 'none';
    });
    const msg = checkpointError(() => readCheckpoint(d.dir));
    expect(msg).toMatch(/field 'tensors' must be an array/);
    expect(msg).toMatch(/and 1 more problem/);
  });

  it('a wrong format string: unsupported format', () => {
    const { dir, editManifest } = valid();
    editManifest((m) => (m.format = 'winnow.checkpoint/99'));
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(
      /unsupported format "winnow\.checkpoint\/99" \(expected "winnow\.checkpoint\/1"\)/,
    );
  });

  it('an unknown dtype, a bad shape, an out-of-range tensor, a duplicate name', () => {
    const a = valid();
    a.editManifest((m) => (m.tensors[0].dtype = 'float16'));
    expect(checkpointError(() => readCheckpoint(a.dir))).toMatch(/'layer1\.weight'.*unknown dtype "float16"/);

    const b = valid();
    b.editManifest((m) => (m.tensors[0].shape = [8, 9]));
    expect(checkpointError(() => readCheckpoint(b.dir))).toMatch(/shape \[8,9\] has 72 elements but length is 64/);

    const c = valid();
    c.editManifest((m) => (m.tensors[1].offset = 4096));
    expect(checkpointError(() => readCheckpoint(c.dir))).toMatch(/'layer1\.mask'.*outside the \d+-byte data file/);

    const d = valid();
    d.editManifest((m) => (m.tensors[1].name = 'layer1.weight'));
    expect(checkpointError(() => readCheckpoint(d.dir))).toMatch(/duplicate tensor name 'layer1\.weight'/);

    const e = valid();
    e.editManifest((m) => (m.tensors[1].offset = 260));
    expect(checkpointError(() => readCheckpoint(e.dir))).toMatch(/offset 260 is not a multiple of 8/);
  });

  it('a per-tensor checksum that does not match', () => {
    const { dir, editManifest } = valid();
    editManifest((m) => (m.tensors[1].sha256 = '0'.repeat(64)));
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(/tensor 'layer1\.mask' checksum mismatch/);
  });

  it('a data file name that escapes the directory', () => {
    const { dir, editManifest } = valid();
    editManifest((m) => (m.data.file = '../elsewhere.bin'));
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(/not a plain file name/);
  });

  it('a missing directory or manifest', () => {
    const dir = freshDir();
    expect(checkpointError(() => readCheckpoint(dir))).toMatch(/directory does not exist/);
    const { dir: d2, manifestPath } = valid();
    unlinkSync(manifestPath);
    expect(checkpointError(() => readCheckpoint(d2))).toMatch(/manifest\.json is missing/);
  });
});

describe('checkpoint store: kill -9 during writes', () => {
  let bundle: string;

  beforeAll(async () => {
    bundle = join(tmp, 'store.bundle.mjs');
    await build({
      entryPoints: [join(root, 'runtime', 'checkpoint', 'store.ts')],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
    });
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** Spawns the writer; resolves once it reports its first complete write. */
  function startWriter(dir: string, first: number) {
    const child = spawn(process.execPath, [join(here, 'fixtures', 'checkpoint-writer.mjs'), bundle, dir, String(first)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | number | null>((res) => child.on('exit', (code, sig) => res(sig ?? code)));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const ready = new Promise<void>((res, rej) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += String(d);
        if (out.includes('ready')) res();
      });
      child.on('exit', (code) => rej(new Error(`writer exited (${code}) before its first write: ${stderr}`)));
    });
    return { child, ready, exited };
  }

  it('leaves a complete, consistent checkpoint after SIGKILL at random moments', async () => {
    const dir = freshDir();
    const kills = 8;
    const generations: number[] = [];
    for (let i = 0; i < kills; i++) {
      const first = i * 100_000 + 1;
      const w = startWriter(dir, first);
      await w.ready;
      await sleep(5 + Math.random() * 145);
      w.child.kill('SIGKILL');
      expect(await w.exited).toBe('SIGKILL');

      const { meta, tensors } = readCheckpoint(dir);
      const g = meta.generation as number;
      expect(Number.isInteger(g)).toBe(true);
      expect(g).toBeGreaterThanOrEqual(first);
      expect(meta).toEqual({ generation: g, note: 'kill test', list: [g, 'x'] });
      expect([...tensors.keys()].sort()).toEqual(
        ['layer1.bias', 'layer1.mask', 'layer1.weight', 'layer2.index', 'rng.state', 'step'].sort(),
      );
      for (const [name, t] of tensors) {
        const want = name === 'layer1.mask' ? g & 255 : g;
        const bad = t.data.findIndex((v) => v !== want);
        expect(bad, `${name}[${bad}] in generation ${g}`).toBe(-1);
      }
      expect(tensors.get('layer1.weight')!.shape).toEqual([400, 1000]);
      // At most the committed binary plus one orphan of the interrupted write.
      expect(readdirSync(dir).filter((f) => f.endsWith('.bin')).length).toBeLessThanOrEqual(2);
      generations.push(g - first + 1);
    }
    // Each writer got its first checkpoint out; most got further before being killed.
    expect(generations.every((n) => n >= 1)).toBe(true);

    // A clean write afterwards removes any debris left by the kills.
    writeCheckpoint(dir, { generation: 0 }, {});
    expect(readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.tmp'))).toHaveLength(1);
  });
});
