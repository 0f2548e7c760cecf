/**
 * The gpujs:* backends beyond the parity suite: availability answers, which executor a step runs
 * on (one fused plan per step on webgpu and webasm), the ops the example networks do not use
 * (strided and padded convolutions, pools with leftover rows, local / breakTies / relu k-winners,
 * DropConnect, sparse weights, dropout) against the float64 reference, exact k-winners thresholds,
 * the device epochEnd program, and a non-finite step that leaves the state alone.
 */
import * as gpujs from 'gpu.js';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { gpujsKernels } from '../../compiler/codegen/gpujs/kernels.ts';
import { compile, lower, trace } from '../../compiler/index.ts';
import { boost, dense, input, kwta, pipe, softmaxCrossEntropy } from '../../dsl/index.ts';
import { createModel, resolveBackend, type Model } from '../../runtime/backends.ts';
import { gpujsUnavailable } from '../../runtime/gpujs/backends.ts';
import { nodeHost } from '../../runtime/gpujs/node-host.ts';
import { createGpujsModel, type GpujsModel } from '../../runtime/gpujs/model.ts';
import { gpujsCompileOptions } from '../../runtime/gpujs/program.ts';
import { installNodeWebGPU } from '../../runtime/gpu/node-webgpu.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { decayBoostStrengths, initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { oddNetwork } from '../fixtures/odd-network.ts';
import { skipWebGPU } from '../gpu/helpers.ts';
import { convert, relError, expectNearOracle } from '../parity/helpers.ts';

const inputOf = (gpujs as unknown as { input: (value: Float32Array, size: number[]) => unknown }).input;

const modes = skipWebGPU ? (['cpu', 'webasm'] as const) : (['cpu', 'webasm', 'webgpu'] as const);


const batch = 8;
const set = loadMnist('train', { limit: batch });
const x = normalizeInto(set.pixels, Array.from({ length: batch }, (_, i) => i), new Float32Array(batch * 784));
const labels = set.labels.slice(0, batch);
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };

/** Two training steps and the logits between them (so momentum and duty cycles are live). */
const twoSteps = async (model: Model) => {
  const rng = Rng.fromSeed(5, 2);
  await model.trainStep(x, labels, batch, sgd, batch, rng);
  const logits = Float64Array.from(await model.predict(x, batch));
  const r = await model.trainStep(x, labels, batch, sgd, 2 * batch, rng);
  await model.sync?.(); // gpujs:webgpu keeps the state on the device
  return { logits, loss: r.loss, state: model.state };
};

describe('gpujs backends: availability', () => {
  it('cpu and webasm run anywhere; webgl2 needs a browser; headlessgl needs the gl package and a display', async () => {
    expect(await gpujsUnavailable('cpu', nodeHost)).toBeUndefined();
    expect(await gpujsUnavailable('webasm', nodeHost)).toBeUndefined();
    expect(await gpujsUnavailable('webgl2', nodeHost)).toMatch(/only in a browser/);
    await expect(resolveBackend('gpujs:webgl2')).rejects.toThrow(/not available here: gpu\.js webgl2 runs only in a browser/);
    const gl = await gpujsUnavailable('headlessgl', nodeHost);
    if (gl !== undefined) expect(gl).toMatch(/gl package|display/);
    if (gl?.includes('gl package')) {
      // what `--backend gpujs:headlessgl` prints: one line that says how to enable it
      const refusal = await resolveBackend('gpujs:headlessgl').then(() => '', (e: Error) => e.message);
      expect(refusal).toMatch(/^backend "gpujs:headlessgl" is not available here: the optional gl package \(headless-gl\) is not installed .*npm install gl .*xvfb-run$/);
      expect(refusal).not.toContain('\n');
    }
  });

  it.skipIf(skipWebGPU)('webgpu: available where Dawn finds an adapter; hardware only when it is not a software renderer', async () => {
    const status = await installNodeWebGPU();
    expect(await gpujsUnavailable('webgpu', nodeHost)).toBe(status.ok ? undefined : status.reason);
    if (!status.ok) return;
    const { shippedBackends } = await import('../../runtime/backends.ts');
    const webgpu = shippedBackends.find((b) => b.name === 'gpujs:webgpu')!;
    expect(await webgpu.backend.hardware!()).toBe(!status.software);
  });
});

describe('gpujs backends: ops the example networks do not use, against the float64 reference', () => {
  const lowered = oddNetwork();
  const init = initModelState(lowered, { seed: 4, dtype: 'float64' });
  const oracle = createModel('reference', lowered, convert(init, 'float64')).then(twoSteps);

  it.each(modes)('gpujs:%s: strided/padded conv, pool with leftover rows, local/breakTies/relu k-winners, DropConnect, sparse weights, dropout', async (mode) => {
    const model = (await createModel(`gpujs:${mode}`, lowered, convert(init, 'float32'))) as GpujsModel;
    try {
      const tested = await twoSteps(model);
      const want = await oracle;
      expectNearOracle(tested, want);
      // how it ran: one fused plan per call on webgpu and webasm, kernel by kernel on cpu
      const train = model.describe().programs.find((p) => p.program === 'train')!;
      expect(train.kernels).toBe(compile(lowered, { program: 'train', batch, ...gpujsCompileOptions }).schedule.kernels.length);
      if (mode === 'webgpu') expect(train.executor).toBe('fused-encoder');
      else if (mode === 'webasm') expect(train.executor).toMatch(/^fused-(sync|threaded)$/);
      else expect(train.executor).toBe('per-kernel');
    } finally {
      model.dispose?.();
    }
  });
});

describe('gpujs backends: 2-D outputs too wide for a GL texture, written as one row', () => {
  // The GL modes use this with the device's MAX_TEXTURE_SIZE (8192 on SwiftShader); here gpujs:cpu
  // (kernel by kernel, like the GL modes) runs it with a tiny limit, so most outputs take that path.
  it('gpujs:cpu with maxOutputSide 64: the odd network still matches the float64 reference', async () => {
    const lowered = oddNetwork();
    const kernels = gpujsKernels(compile(lowered, { program: 'train', batch }).schedule, batch, { maxOutputSide: 64 });
    const wide = kernels.filter((k) => k.dims.length === 2 && Math.max(...k.dims) > 64);
    expect(wide.length).toBeGreaterThan(5);
    for (const k of wide) expect(k.outputDims, k.name).toEqual([k.dims.reduce((a, b) => a * b, 1)]);
    const init = initModelState(lowered, { seed: 4, dtype: 'float64' });
    const want = await twoSteps(await createModel('reference', lowered, convert(init, 'float64')));
    const model = await createGpujsModel('cpu', 'gpujs:cpu', lowered, convert(init, 'float32'), { maxOutputSide: 64 });
    try {
      const tested = await twoSteps(model);
      expectNearOracle(tested, want);
      expect(model.describe().programs.find((p) => p.program === 'train')!.kernelModes).toEqual(['cpu']);
    } finally {
      model.dispose?.();
    }
  });
});

describe('cpu backend: the same network of ops the examples do not use, against the float64 reference', () => {
  // Regression: local k-winners once mis-read duty cycles (operator precedence in channelOf), and
  // kwtaGrad with breakTies was fused though it must start its own kernel.
  it('cpu: strided/padded conv, pool with leftover rows, local/breakTies/relu k-winners, DropConnect, sparse weights, dropout', async () => {
    const lowered = oddNetwork();
    const init = initModelState(lowered, { seed: 4, dtype: 'float64' });
    const want = await twoSteps(await createModel('reference', lowered, convert(init, 'float64')));
    const tested = await twoSteps(await createModel('cpu', lowered, convert(init, 'float32')));
    expect(relError(tested.logits, want.logits), 'logits').toBeLessThan(1e-4);
    for (const [name, t] of want.state.tensors) expect(relError(tested.state.tensors.get(name)!.data, t.data), name).toBeLessThan(1e-4);
  });
});

describe('gpujs backends: epochEnd on the device and a non-finite step', () => {
  it('endEpoch decays boost strengths like the host does', async () => {
    const lowered = oddNetwork();
    const state = initModelState(lowered, { seed: 4, dtype: 'float32' });
    const host = convert(state, 'float32');
    decayBoostStrengths(lowered, host);
    const model = (await createModel('gpujs:cpu', lowered, state)) as GpujsModel;
    try {
      await model.endEpoch();
      for (const [name, t] of host.tensors) expect(Array.from(state.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
    } finally {
      model.dispose?.();
    }
  });

  it('a step whose loss is not finite says so and leaves the state alone', async () => {
    const lowered = lower(trace(pipe(input([784]), dense(10), softmaxCrossEntropy)));
    const state = initModelState(lowered, { seed: 4, dtype: 'float32' });
    const before = convert(state, 'float32');
    const model = await createModel('gpujs:webasm', lowered, state);
    try {
      const bad = x.slice();
      bad[3] = Number.POSITIVE_INFINITY;
      const r = await model.trainStep(bad, labels, batch, sgd, batch, Rng.fromSeed(1, 2));
      expect(r.nonFinite).toBeDefined();
      for (const [name, t] of before.tensors) expect(Array.from(state.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
    } finally {
      model.dispose?.();
    }
  });
});

/** The reference's winners of one group: keys >= the k-th largest, or exactly k lower index first. */
const winners = (keys: ArrayLike<number>, k: number, breakTies: boolean): boolean[] => {
  const sorted = Array.from(keys).sort((a, b) => b - a);
  const t = sorted[k - 1];
  if (!breakTies) return Array.from(keys, (v) => v >= t);
  let left = k - Array.from(keys).filter((v) => v > t).length;
  return Array.from(keys, (v) => v > t || (v === t && left-- > 0));
};

describe('k-winners kernels: the exact k-th largest key and the same winners on every mode', () => {
  const gpus = new Map<string, GPU>();
  afterAll(() => gpus.forEach((g) => g.destroy()));
  const n = 300;
  const k = 40;
  // keys with ties (quantised values), zeros, negatives and tiny magnitudes; strength 0 keeps key = x
  const rows = [
    Float32Array.from({ length: n }, (_, i) => Math.round(Math.sin(i * 7.3) * 8) / 8),
    Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : Math.sin(i * 1.7) * 1e-6)),
    Float32Array.from({ length: n }, (_, i) => -1 - ((i * 37) % 101) / 100),
    Float32Array.from({ length: n }, (_, i) => Math.fround(1000 + ((i * 53) % 97) * 2 ** -13)),
  ];
  const xs = new Float32Array(rows.length * n);
  rows.forEach((r, i) => xs.set(r, i * n));

  // keys: the gpujs target of sparseForms, whose threshold reads the keys kwtaKeys computed first
  it.each(modes.flatMap((mode) => [false, true].flatMap((breakTies) => [false, true].map((keys) => [mode, breakTies, keys] as const))))('%s, breakTies %s, keys computed first %s', async (mode, breakTies, keys) => {
    if (mode === 'webgpu') {
      const s = await installNodeWebGPU();
      if (!s.ok) throw new Error(`WebGPU unavailable: ${s.reason} (set WINNOW_SKIP_WEBGPU=1 to skip the webgpu tests)`);
    }
    let gpu = gpus.get(mode);
    if (!gpu) gpus.set(mode, (gpu = new GPU({ mode })));
    const lowered = lower(trace(pipe(input([n]), kwta({ k, breakTies, kInferenceFactor: 1 }), boost({ strength: 0 }), dense(10), softmaxCrossEntropy)));
    const schedule = compile(lowered, { program: 'inference', batch: rows.length, ...(keys ? gpujsCompileOptions : {}) }).schedule;
    const kernels = gpujsKernels(schedule, rows.length);
    expect(kernels.slice(0, keys ? 3 : 2).map((kn) => kn.name)).toEqual(keys ? ['k0_kwtaKeys', 'k1_kwtaThreshold', 'k2_kwtaApply'] : ['k0_kwtaThreshold', 'k1_kwtaApply']);
    const [threshold, apply] = kernels.slice(keys ? 1 : 0);
    const produced = new Map<number, Float32Array>();
    const args = (kernel: typeof threshold) =>
      kernel.args.map((a) => {
        if (a.kind === 'scalar') return 0; // boost strength 0: key = x
        const op = schedule.ir.ops[a.value];
        if (op.op === 'input') return inputOf(xs, [n, rows.length]);
        if (produced.has(a.value)) return inputOf(produced.get(a.value)!, [...a.dims]);
        return new Float32Array(a.dims[0]); // duty cycles
      });
    const run = async (kernel: typeof threshold) => {
      const r = await (gpu!.createKernel(kernel.source, kernel.settings) as (...a: unknown[]) => unknown)(...args(kernel));
      const out = Float32Array.from((r as Float32Array[]).flatMap((row) => Array.from(row)));
      produced.set(kernel.output, out);
      return out;
    };
    if (keys) expect(await run(kernels[0])).toEqual(xs);
    const thr = await run(threshold);
    const out = await run(apply);
    rows.forEach((r, i) => {
      expect(thr[i], `row ${i}`).toBe([...r].sort((a, b) => b - a)[k - 1]);
      const want = winners(r, k, breakTies);
      expect(Array.from(r, (v, j) => out[i * n + j] === v && want[j] ? 1 : out[i * n + j] === 0 && !want[j] ? 0 : -1), `row ${i}`).not.toContain(-1);
    });
  });
});
