/**
 * The cpu backend's worker threads (runtime/cpu/threads.ts): a model run on several threads must
 * give results bit-identical to the same model on one thread (kernels are split by whole outputs,
 * never inside a sum), across memory growth; bad thread settings and failing workers must become
 * one-line WinnowErrors, never a hang.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import type { Lowered } from '../../compiler/stages.ts';
import { readModelFile, WinnowError } from '../../dsl/index.ts';
import { createCpuModel, type CpuModel } from '../../runtime/cpu/model.ts';
import { chunkCount, resolveThreads, splitPoint, startPool } from '../../runtime/cpu/threads.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { oddNetwork } from '../fixtures/odd-network.ts';

const batch = 8;
const set = loadMnist('train', { limit: 64 });
const xOf = (n: number) => normalizeInto(set.pixels, Array.from({ length: n }, (_, i) => i), new Float32Array(n * 784));
const x = xOf(batch);
const labels = set.labels.slice(0, batch);

const models: CpuModel[] = [];
afterEach(() => {
  for (const m of models.splice(0)) m.dispose();
});
/** A model on `threads` threads; `split: 'all'` splits every kernel that can be split, `workersOnly` leaves every chunk to the workers. */
const open = async (lowered: Lowered, threads: number, how: { split?: 'all'; workersOnly?: boolean } = {}) => {
  const options = { threads, minSplitWork: how.split === 'all' ? 0 : undefined, pool: { workersOnly: how.workersOnly } };
  const m = await createCpuModel(lowered, initModelState(lowered, { seed: 5, dtype: 'float32' }), options);
  models.push(m);
  return m;
};

/** Everything a run produces, as bytes: a small predict (little memory), three training steps (the memory grows: workers must see it), an epoch end, a larger predict. */
const run = async (model: CpuModel): Promise<Buffer[]> => {
  const out: Buffer[] = [];
  const bytes = (a: Float32Array | Float64Array) => Buffer.from(a.slice().buffer);
  const memoryBytes = () => [...model.state.tensors.values()][0].data.buffer.byteLength; // state tensors are views of the model's memory
  out.push(bytes(await model.predict(x, 2)));
  const before = memoryBytes();
  const rng = Rng.fromSeed(3, 2);
  const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };
  for (let s = 1; s <= 3; s++) {
    const r = await model.trainStep(x, labels, batch, sgd, s * batch, rng);
    out.push(Buffer.from(Float64Array.of(r.loss, r.correct).buffer));
  }
  expect(memoryBytes(), 'the training program grew the memory').toBeGreaterThan(before);
  await model.endEpoch();
  out.push(bytes(await model.predict(xOf(16), 16)));
  for (const [, t] of model.state.tensors) out.push(bytes(t.data));
  for (const [, m] of model.state.momentum) out.push(bytes(m));
  return out;
};

const expectIdentical = (got: Buffer[], want: Buffer[]) => {
  expect(got.length).toBe(want.length);
  const differing = got.flatMap((g, i) => (Buffer.compare(g, want[i]) === 0 ? [] : [i]));
  expect(differing, 'outputs (predict, step stats, state tensors, momentum) that differ').toEqual([]);
};

describe('cpu backend on worker threads: bit-identical to one thread', () => {
  for (const file of ['examples/models/dense-mlp.json', 'examples/models/sparse-mlp.json', 'examples/models/dense-cnn1.json', 'test/fixtures/models/bn-cnn.json']) {
    const name = file.replace(/^.*\/|\.json$/g, '');
    it(`${name}: every kernel split, every chunk run by the worker of 2 threads: the same bytes as 1 thread`, async () => {
      const lowered = lower(trace(readModelFile(file)));
      const one = await open(lowered, 1);
      const two = await open(lowered, 2, { split: 'all', workersOnly: true });
      expect([one.threads, two.threads]).toEqual([1, 2]);
      expectIdentical(await run(two), await run(one));
      const stats = two.threadStats();
      expect(stats.kernels).toBeGreaterThan(20);
      expect(stats.workerChunks).toBe(stats.chunks);
      expect(one.threadStats()).toEqual({ kernels: 0, chunks: 0, workerChunks: 0 });
    });
  }

  it('a network with local tie-broken k-winners, strides and DropConnect: on the worker, and on 3 threads claiming chunks as they come, the same bytes as 1 thread', async () => {
    const lowered = oddNetwork();
    const want = await run(await open(lowered, 1));
    expectIdentical(await run(await open(lowered, 2, { split: 'all', workersOnly: true })), want);
    const three = await open(lowered, 3, { split: 'all' });
    expectIdentical(await run(three), want);
    expect(three.threadStats().kernels).toBeGreaterThan(20);
  });

  it('with the default threshold, too (only the large kernels split)', async () => {
    const lowered = lower(trace(readModelFile('examples/models/dense-mlp.json')));
    const two = await open(lowered, 2);
    expectIdentical(await run(two), await run(await open(lowered, 1)));
    const { kernels } = two.threadStats();
    expect(kernels).toBeGreaterThan(0);
    expect(kernels).toBeLessThan(3 * 19 + 2 * 3); // not every kernel of 3 training steps and 2 predictions
  });
});

describe('cpu backend threads: settings and failures', () => {
  it('the thread count comes from the option, else WINNOW_THREADS; bad values are one-line errors naming them', async () => {
    const saved = process.env.WINNOW_THREADS;
    try {
      process.env.WINNOW_THREADS = '3';
      expect(await resolveThreads(undefined)).toBe(3);
      expect(await resolveThreads(1)).toBe(1);
      process.env.WINNOW_THREADS = 'many';
      await expect(resolveThreads(undefined)).rejects.toThrow(new WinnowError('usage', 'WINNOW_THREADS (got "many") must be an integer from 1 to 64'));
      delete process.env.WINNOW_THREADS;
      expect(await resolveThreads(undefined)).toBeGreaterThanOrEqual(1);
      await expect(resolveThreads(0)).rejects.toThrow('threads (got 0) must be an integer from 1 to 64');
      await expect(resolveThreads(2.5)).rejects.toThrow(WinnowError);
    } finally {
      if (saved === undefined) delete process.env.WINNOW_THREADS;
      else process.env.WINNOW_THREADS = saved;
    }
  });

  const memory = () => new WebAssembly.Memory({ initial: 1, maximum: 16, shared: true });
  /**
   * A generated-style program: kernel 0 writes its range's indices; kernel 1, on a worker, raises
   * flag word 200 and then misbehaves. `untilFlag` is the main thread's side of kernel 1: it waits
   * (up to 10 s) for a worker to claim a chunk, so the test does not depend on who claims what.
   */
  const program = (misbehave: string) => `function (M, W) {
  function k0(M, lo = 0, hi = 100) { for (let o = lo; o < hi; o++) M[o] = o; }
  function k1(M, lo = 0, hi = 100) { Atomics.store(new Int32Array(M.buffer), 200, 1); ${misbehave} }
  return [k0, k1];
}`;
  const untilFlag = (mem: WebAssembly.Memory) => () => {
    const flags = new Int32Array(mem.buffer);
    const t = Date.now();
    while (Atomics.load(flags, 200) === 0 && Date.now() - t < 10_000) Atomics.wait(flags, 200, 0, 1);
  };

  it('chunks: a few per thread, at multiples of the grain, in order', () => {
    const cuts = (extent: number, grain: number, parts: number) => Array.from({ length: parts + 1 }, (_, k) => splitPoint(extent, grain, parts, k));
    expect(chunkCount(64, 4, 2)).toBe(8);
    expect(chunkCount(10, 4, 2)).toBe(3);
    expect(chunkCount(1, 1, 8)).toBe(1);
    expect(cuts(64, 4, 8)).toEqual([0, 8, 16, 24, 32, 40, 48, 56, 64]);
    expect(cuts(10, 4, 3)).toEqual([0, 4, 8, 10]);
    expect(cuts(2, 1, 3)).toEqual([0, 1, 1, 2]);
    expect(cuts(5, 16, 2)).toEqual([0, 0, 5]);
  });

  it('a split kernel covers its whole range once, whoever runs which chunk', async () => {
    const mem = memory();
    const pool = (await startPool(3, mem))!;
    try {
      const id = pool.load(program(''), undefined);
      const M = new Float32Array(mem.buffer);
      M.fill(-1, 0, 100);
      pool.begin();
      pool.split(id, 0, 100, 16, (lo, hi) => { for (let o = lo; o < hi; o++) M[o] = o; }, 'k0');
      pool.end();
      expect(Array.from(M.subarray(0, 100))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      pool.dispose();
    }
  });

  it('a kernel that throws on a worker becomes a WinnowError naming the kernel, and the pool refuses further work', async () => {
    const mem = memory();
    const pool = (await startPool(2, mem))!;
    try {
      const id = pool.load(program("throw new Error('boom');"), undefined);
      expect(() => pool.split(id, 1, 100, 1, untilFlag(mem), 'k1_boom')).toThrow(new WinnowError('backend', 'cpu worker thread 1 failed in kernel k1_boom: boom (set WINNOW_THREADS=1 to run on one thread)'));
      expect(() => pool.begin()).toThrow(WinnowError);
    } finally {
      pool.dispose();
    }
  });

  it('a worker that dies inside a kernel becomes a WinnowError after the patience time, not a hang', async () => {
    const mem = memory();
    const pool = (await startPool(2, mem, { patienceMs: 300 }))!;
    try {
      const id = pool.load(program('process.exit(7);'), undefined);
      const t = performance.now();
      expect(() => pool.split(id, 1, 100, 1, untilFlag(mem), 'k1_exit')).toThrow(/^a cpu worker thread did not finish kernel k1_exit within 0.3 s \(it may have died\)/);
      expect(performance.now() - t).toBeLessThan(10_000);
    } finally {
      pool.dispose();
    }
  });

  it('a disposed model refuses to run on its threads', async () => {
    const lowered = lower(trace(readModelFile('examples/models/dense-mlp.json')));
    const model = await createCpuModel(lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }), { threads: 2, minSplitWork: 0 });
    await model.predict(x, batch);
    model.dispose();
    await expect(model.predict(x, batch)).rejects.toThrow(new WinnowError('backend', 'this cpu model has been disposed'));
  });
});
