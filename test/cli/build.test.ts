import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compile, lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/read-model-file.ts';
import { createModel } from '../../runtime/backends.ts';
import { loadCheckpoint } from '../../runtime/checkpoint/checkpoint.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { decayBoostStrengths, initModelState, type ModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { requireWebGPU, skipWebGPU } from '../gpu/helpers.ts';
import { winnow } from './helpers.ts';

// Everything the build writes lives outside the repository, so the module cannot lean on its node_modules.
// (Under a folder named node_modules, so that vitest leaves the modules to Node's own loader, as a
// user's program would load them, instead of transforming megabytes of embedded weights.)
const tmp = join(mkdtempSync(join(tmpdir(), 'winnow-build-')), 'node_modules');
mkdirSync(tmp);

interface Built {
  readonly name: string;
  readonly batch: number;
  readonly classes: number;
  readonly inputShape: ReadonlyArray<number>;
  readonly predict: (x: Float32Array, n: number) => Float32Array;
  readonly trainStep?: (x: Float32Array, labels: Uint8Array, batch: number, sgd: { lr: number; momentum: number; weightDecay: number }, samplesSeen: number, seed?: number | { float(): number }) => { loss: number; correct: number };
  readonly endEpoch?: () => void;
  readonly state: () => { tensors: Record<string, { shape: number[]; data: Float32Array }>; momentum: Record<string, Float32Array>; masks: Record<string, Uint8Array> };
}

const build = (args: ReadonlyArray<string>, file: string) => {
  const r = winnow(['build', ...args, '-o', file]);
  expect(r.code, r.stderr).toBe(0);
  return r;
};
const load = async (file: string): Promise<Built> => (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Built;

const test = loadMnist('test', { limit: 100 });
const images = (n: number, from = 0) => normalizeInto(test.pixels, Array.from({ length: n }, (_, i) => from + i), new Float32Array(n * 784));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};
/** The largest difference between the module's state and an in-process state, over tensors and momentum. */
const stateDiff = (built: ReturnType<Built['state']>, state: ModelState) => {
  let d = 0;
  for (const [name, t] of state.tensors) d = Math.max(d, maxDiff(built.tensors[name].data, t.data));
  for (const [name, m] of state.momentum) d = Math.max(d, maxDiff(built.momentum[name], m));
  return d;
};
const sgd = { lr: 0.03, momentum: 0.9, weightDecay: 0.0005 };

describe('winnow build', () => {
  const full = join(tmp, 'sparse-mlp.mjs');

  it('bundles kernels, wasm and weights into one module with no compiler, wabt or io-ts inside', () => {
    const r = build(['examples/models/sparse-mlp.json', '--backend', 'cpu'], full);
    expect(r.stdout).toMatch(/^wrote .*sparse-mlp\.mjs \([\d.]+ MB\): sparse_mlp from sparse-mlp\.json, fresh weights \(seed 1\), cpu, batch 64, inference and training\n$/);
    const text = readFileSync(full, 'utf8');
    for (const marker of ['parseWat', 'wabt', 'io-ts', 'fp-ts', 'generateJs', 'planBuffers', 'esbuild', 'new Function', 'eval(']) expect(text, marker).not.toContain(marker);
    expect(text).toMatch(/function k0_\w+\(M\d*(, lo\d* = 0, hi\d* = \d+)?\) \{/); // kernels are code, not strings
    expect(text).toContain('WebAssembly.instantiate');
    // written atomically: no temporary file left next to it
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('loads with plain node from a directory outside the repository', () => {
    const script = join(tmp, 'use.mjs');
    writeFileSync(script, "import { predict, classes, inputShape, batch, name } from './sparse-mlp.mjs';\nconst y = predict(new Float32Array(3 * 784), 3);\nconsole.log(JSON.stringify({ name, batch, classes, inputShape, n: y.length, finite: y.every(Number.isFinite) }));\n");
    const r = spawnSync(process.execPath, [script], { cwd: tmp, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'sparse_mlp', batch: 64, classes: 10, inputShape: [784], n: 30, finite: true });
  });

  it('predicts and trains exactly as the in-process cpu model (fresh weights, seed 1)', async () => {
    const m = await load(full);
    expect([m.name, m.batch, m.classes, [...m.inputShape]]).toEqual(['sparse_mlp', 64, 10, [784]]);
    const lowered = lower(trace(readModelFile('examples/models/sparse-mlp.json')));
    const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
    const model = await createModel('cpu', lowered, state);
    const x = images(100);
    // 100 samples: a full chunk of 64 and a zero-padded one of 36
    expect(maxDiff(m.predict(x, 100), await model.predict(x, 100))).toBeLessThanOrEqual(1e-6);
    expect(m.predict(x, 0)).toHaveLength(0);
    expect(stateDiff(m.state(), state)).toBe(0);
    for (const [step, from] of [[1, 0], [2, 36]]) {
      const xb = images(64, from);
      const labels = test.labels.slice(from, from + 64);
      const a = await model.trainStep(xb, labels, 64, sgd, 64 * step, Rng.fromSeed(1, 2));
      const b = m.trainStep!(xb, labels, 64, sgd, 64 * step);
      expect(b.correct).toBe(a.correct);
      expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6);
      expect(stateDiff(m.state(), state)).toBeLessThanOrEqual(1e-6);
    }
    expect(maxDiff(m.predict(x, 100), await model.predict(x, 100))).toBeLessThanOrEqual(1e-6);
    m.endEpoch!();
    decayBoostStrengths(lowered, state);
    expect(m.state().tensors['l1.boostStrength'].data[0]).toBe(state.tensors.get('l1.boostStrength')!.data[0]);
    expect(stateDiff(m.state(), state)).toBe(0);
    expect(() => m.trainStep!(images(32), test.labels, 32, sgd, 32)).toThrow(/compiled for batch 64, got 32 \(rebuild with --batch 32\)/);
    expect(() => m.predict(new Float32Array(10), 1)).toThrow(/x holds 10 values, a batch of 1 needs 784/);
    model.dispose?.();
  });

  it('carries sparse weights as index lists where the program reads them (a 30%-weight first layer at --batch 8)', async () => {
    const model = {
      format: 'winnow.model/1',
      name: 'sparse_first',
      input: [784],
      layers: [{ dense: { units: 64, weightDensity: 0.3 } }, { relu: {} }, { dense: { units: 10 } }, { softmaxCrossEntropy: {} }],
      training: { epochs: 1, batchSize: 8, lr: 0.03, momentum: 0.9, weightDecay: 0 },
    };
    const json = join(tmp, 'sparse-first.json');
    writeFileSync(json, JSON.stringify(model));
    const file = join(tmp, 'sparse-first.mjs');
    build([json, '--batch', '8'], file);
    const m = await load(file);
    const lowered = lower(trace(readModelFile(json)));
    expect(compile(lowered, { program: 'train', batch: 8, sparse: {} }).forms!.find((f) => f.layer === 0)!.subject).toBe('weights');
    const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
    const cpu = await createModel('cpu', lowered, state);
    expect(maxDiff(m.predict(images(20), 20), await cpu.predict(images(20), 20))).toBeLessThanOrEqual(1e-6); // the module runs 20 as batches of 8
    for (const from of [0, 8]) {
      const a = await cpu.trainStep(images(8, from), test.labels.slice(from), 8, sgd, 8 + from, Rng.fromSeed(1, 2));
      const b = m.trainStep!(images(8, from), test.labels.slice(from), 8, sgd, 8 + from);
      expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6);
    }
    expect(stateDiff(m.state(), state)).toBeLessThanOrEqual(1e-6);
    expect(Object.keys(m.state().masks)).toEqual(['l0.weight']);
    cpu.dispose?.();
  });

  it('draws dropout masks from the training stream as the in-process model does (--batch, --seed)', async () => {
    const file = join(tmp, 'dropout.mjs');
    build(['examples/models/dropout-mlp.json', '--batch', '32', '--seed', '3'], file);
    const m = await load(file);
    expect(m.batch).toBe(32);
    const lowered = lower(trace(readModelFile('examples/models/dropout-mlp.json')));
    const state = initModelState(lowered, { seed: 3, dtype: 'float32' });
    const model = await createModel('cpu', lowered, state);
    const x = images(100);
    expect(maxDiff(m.predict(x, 100), await model.predict(x, 100))).toBeLessThanOrEqual(1e-6);
    const rng = Rng.fromSeed(3, 2); // winnow train's dropout stream for seed 3, which the module starts from
    for (const from of [0, 32]) {
      const a = await model.trainStep(images(32, from), test.labels.slice(from), 32, sgd, 32 + from, rng);
      const b = m.trainStep!(images(32, from), test.labels.slice(from), 32, sgd, 32 + from);
      expect(b.correct).toBe(a.correct);
      expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6);
    }
    expect(stateDiff(m.state(), state)).toBeLessThanOrEqual(1e-6);
    // a number restarts the stream; an object is drawn from
    const restarted = Rng.fromSeed(9, 2);
    const a = await model.trainStep(images(32), test.labels, 32, sgd, 96, restarted);
    expect(m.trainStep!(images(32), test.labels, 32, sgd, 96, 9).loss).toBeCloseTo(a.loss, 6);
    const other = Rng.fromSeed(5);
    const c = await model.trainStep(images(32), test.labels, 32, sgd, 128, other.clone());
    expect(m.trainStep!(images(32), test.labels, 32, sgd, 128, other).loss).toBeCloseTo(c.loss, 6);
    expect(stateDiff(m.state(), state)).toBeLessThanOrEqual(1e-6);
    model.dispose?.();
  });

  it('builds a checkpoint with its weights and training stream', async () => {
    const run = join(tmp, 'run');
    const t = winnow(['train', 'examples/models/sparse-mlp.json', '--epochs', '1', '--train-limit', '256', '--test-limit', '64', '--backend', 'cpu', '--out', run]);
    expect(t.code, t.stderr).toBe(0);
    const file = join(tmp, 'trained.mjs');
    const r = build([run], file);
    expect(r.stdout).toMatch(/from checkpoint run \(epoch 1, seed 1\), cpu, batch 64/);
    const m = await load(file);
    const loaded = loadCheckpoint(run);
    const model = await createModel('cpu', loaded.lowered, loaded.state);
    const x = images(100);
    const expected = await model.predict(x, 100);
    expect(maxDiff(m.predict(x, 100), expected)).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(m.predict(x, 100), (await load(full)).predict(x, 100))).toBeGreaterThan(0.01); // trained weights, not fresh ones
    const labels = test.labels.slice(0, 64);
    const a = await model.trainStep(images(64), labels, 64, sgd, 320, Rng.fromState(loaded.meta.rng.dropout));
    const b = m.trainStep!(images(64), labels, 64, sgd, 320);
    expect(b.correct).toBe(a.correct);
    expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6);
    expect(stateDiff(m.state(), loaded.state)).toBeLessThanOrEqual(1e-6);
    const masks = m.state().masks;
    for (const [name, mask] of loaded.state.masks) expect(maxDiff(masks[name], mask)).toBe(0);
    model.dispose?.();

    // --inference-only: predict and state, no training programs, momentum or masks; smaller
    const small = join(tmp, 'trained-inference.mjs');
    expect(build([run, '--inference-only'], small).stdout).toMatch(/inference only\n$/);
    const i = await load(small);
    expect(i.trainStep).toBeUndefined();
    expect(i.endEpoch).toBeUndefined();
    expect(maxDiff(i.predict(x, 100), expected)).toBeLessThanOrEqual(1e-6);
    expect(Object.keys(i.state().momentum)).toEqual([]);
    expect(statSync(small).size).toBeLessThan(statSync(file).size);

    const seeded = winnow(['build', run, '--seed', '2', '-o', join(tmp, 'x.mjs')]);
    expect(seeded.code).toBe(2);
    expect(seeded.stderr).toMatch(/^winnow build: --seed sets fresh weights; .* is a checkpoint/);
  });

  it('refuses bad flags with one line naming the flag, exit code 2, and writes nothing', () => {
    const cases: Array<[string[], RegExp]> = [
      [['examples/models/sparse-mlp.json'], /--out is required/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.mjs'), '--backend', 'reference'], /--backend reference cannot be built into a module: winnow build supports --backend cpu, gpujs:webgpu, gpujs:webgl2, gpujs:headlessgl, gpujs:webasm, gpujs:cpu/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.mjs'), '--backend', 'tpu'], /--backend must be one of auto, reference, cpu/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.mjs'), '--batch', '0'], /--batch must be a positive integer, got 0/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.mjs'), '--seed=-1'], /--seed must be a non-negative integer/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'no-such-dir', 'g.mjs')], /--out .*: directory .*no-such-dir does not exist/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.txt')], /--out must name a \.mjs or \.js file/],
      [['examples/models/sparse-mlp.json', '-o', tmp], /--out .* is a directory/],
      [['examples/models/sparse-mlp.json', '-o', join(tmp, 'g.mjs'), '--batchsize', '3'], /--batchsize/],
      [['examples/models/no-such.json', '-o', join(tmp, 'g.mjs')], /no-such\.json: no such file/],
    ];
    for (const [args, message] of cases) {
      const r = winnow(['build', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(readdirSync(tmp).filter((f) => f.startsWith('g.'))).toEqual([]);
    expect(winnow(['build', '--help']).stdout).toMatch(/-o, --out <value>/);
  });
});

/** A gpujs module's API: a cpu build's, with Promises. */
interface BuiltGpujs {
  readonly name: string;
  readonly backend: string;
  readonly batch: number;
  readonly predict: (x: Float32Array, n: number) => Promise<Float32Array>;
  readonly trainStep: (x: Float32Array, labels: Uint8Array, batch: number, sgd: { lr: number; momentum: number; weightDecay: number }, samplesSeen: number, seed?: number | { float(): number }) => Promise<{ loss: number; correct: number }>;
  readonly endEpoch: () => Promise<void>;
  readonly state: () => Promise<ReturnType<Built['state']>>;
  readonly dispose: () => void;
}

describe('winnow build --backend gpujs:*', () => {
  // gpu.js (and Dawn) are imports of a gpujs module, not part of it: make them resolvable next to the modules
  for (const dep of ['gpu.js', 'webgpu']) symlinkSync(join(process.cwd(), 'node_modules', dep), join(tmp, dep), 'dir');

  /** Builds `model` for `backend` at `batch` and checks it against the in-process model on the same backend. */
  const sameAsInProcess = async (backend: string, model: string, batch: number) => {
    const file = join(tmp, `${model}-${backend.replace(':', '-')}.mjs`);
    const r = build([`examples/models/${model}.json`, '--backend', backend, '--batch', String(batch)], file);
    expect(r.stdout).toMatch(new RegExp(`, ${backend}, batch ${batch}, inference and training\\n$`));
    const text = readFileSync(file, 'utf8');
    for (const marker of ['parseWat', 'wabt', 'io-ts', 'fp-ts', 'generateJs', 'planBuffers', 'gpujsKernels', 'esbuild', 'new Function', 'eval(']) expect(text, marker).not.toContain(marker);
    expect(text).toMatch(/import\("gpu\.js"\)/); // gpu.js is imported where the module runs, not bundled
    const m = (await load(file)) as unknown as BuiltGpujs;
    expect([m.backend, m.batch]).toEqual([backend, batch]);
    const lowered = lower(trace(readModelFile(`examples/models/${model}.json`)));
    const state = initModelState(lowered, { seed: 1, dtype: 'float32' });
    const inProcess = await createModel(backend, lowered, state);
    try {
      // batch + 3 samples: a full chunk and a zero-padded one
      const x = images(batch + 3);
      expect(maxDiff(await m.predict(x, batch + 3), await inProcess.predict(x, batch + 3))).toBeLessThanOrEqual(1e-6);
      expect(stateDiff(await m.state(), state)).toBe(0);
      const rng = Rng.fromSeed(1, 2); // the module's own stream for seed 1
      for (const step of [1, 2, 3]) {
        const from = (step - 1) * batch;
        const xb = images(batch, from);
        const labels = test.labels.slice(from, from + batch);
        const a = await inProcess.trainStep(xb, labels, batch, sgd, batch * step, rng);
        const b = await m.trainStep(xb, labels, batch, sgd, batch * step);
        expect(b.correct).toBe(a.correct);
        expect(Math.abs(b.loss - a.loss)).toBeLessThanOrEqual(1e-6);
      }
      await m.endEpoch();
      await inProcess.endEpoch();
      await inProcess.sync?.();
      expect(stateDiff(await m.state(), state)).toBeLessThanOrEqual(1e-6);
      expect(maxDiff(await m.predict(x, batch + 3), await inProcess.predict(x, batch + 3))).toBeLessThanOrEqual(1e-6);
      await expect(m.trainStep(images(2), test.labels, 2, sgd, 2)).rejects.toThrow(new RegExp(`compiled for batch ${batch}, got 2 \\(rebuild with --batch 2\\)`));
    } finally {
      inProcess.dispose?.();
      m.dispose();
    }
  };

  it('gpujs:webasm: the module predicts, trains and decays boost strengths as the in-process model does', async () => {
    await sameAsInProcess('gpujs:webasm', 'sparse-mlp', 16);
  });

  it.skipIf(skipWebGPU)('gpujs:webgpu: the module predicts, trains and decays boost strengths as the in-process model does', async () => {
    await requireWebGPU();
    await sameAsInProcess('gpujs:webgpu', 'sparse-mlp', 8);
  });

  it('loads with plain node where gpu.js is installed (--inference-only)', () => {
    const file = join(tmp, 'dense-gpujs-cpu.mjs');
    expect(build(['examples/models/dense-mlp.json', '--backend', 'gpujs:cpu', '--inference-only', '--batch', '4'], file).stdout).toMatch(/gpujs:cpu, batch 4, inference only\n$/);
    const script = join(tmp, 'use-gpujs.mjs');
    writeFileSync(script, "import * as m from './dense-gpujs-cpu.mjs';\nconst y = await m.predict(new Float32Array(5 * 784), 5);\nconsole.log(JSON.stringify({ name: m.name, backend: m.backend, n: y.length, finite: y.every(Number.isFinite), train: typeof m.trainStep }));\nm.dispose();\n");
    const r = spawnSync(process.execPath, [script], { cwd: tmp, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'dense_mlp', backend: 'gpujs:cpu', n: 50, finite: true, train: 'undefined' });
  });
});
