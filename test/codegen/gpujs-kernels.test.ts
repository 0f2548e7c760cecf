/**
 * Code generator 1 (gpu.js kernels): the emitted source of the dense-mlp training step against
 * checked-in golden files (WINNOW_UPDATE_GOLDEN=1 rewrites them), loop unrolling, and the trap it
 * exists for: Mesa's software renderers stop every loop of a thread after 65535 iterations in all.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPU } from 'gpu.js';
import { afterAll, describe, expect, it } from 'vitest';
import { gpujsKernels, kernelListing, LOOP_BUDGET, planNest } from '../../compiler/codegen/gpujs/kernels.ts';
import { checkKernelSource, forRange, forRangeUnrolled, kernelSettings, kernelSource, SOFTWARE_LOOP_LIMIT, unrolledIterations } from '../../compiler/codegen/gpujs/source.ts';
import { compile, lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { installNodeWebGPU } from '../../runtime/gpu/node-webgpu.ts';
import { call, flat, skipWebGPU } from '../gpu/helpers.ts';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const update = process.env.WINNOW_UPDATE_GOLDEN === '1';

describe('gpu.js kernels of the dense-mlp training step (batch 64) against golden files', () => {
  const lowered = lower(trace(readModelFile('examples/models/dense-mlp.json')));
  const kernels = gpujsKernels(compile(lowered, { program: 'train', batch: 64 }).schedule, 64);

  it('one gpu.js kernel per schedule kernel: 19', () => {
    expect(kernels.map((k) => k.name)).toEqual([
      'k0_linear_biasAdd_relu', 'k1_linear_biasAdd_relu', 'k2_linear_biasAdd', 'k3_xentStats', 'k4_xentGrad', 'k5_biasGrad_momentum',
      'k6_linearGradX_reluGrad', 'k7_linearGradW_momentum', 'k8_biasGrad_momentum', 'k9_linearGradX_reluGrad', 'k10_linearGradW_momentum',
      'k11_biasGrad_momentum', 'k12_linearGradW_momentum', 'k13_sgdUpdate', 'k14_sgdUpdate', 'k15_sgdUpdate', 'k16_sgdUpdate', 'k17_sgdUpdate', 'k18_sgdUpdate',
    ]);
  });

  it.each(kernels.map((k) => [k.name, k] as const))('%s', (name, k) => {
    const file = join(goldenDir, `gpujs-dense-mlp-train-b64.${name}.txt`);
    const text = kernelListing(k);
    if (update || !existsSync(file)) {
      if (!update) throw new Error(`no golden file ${file}: run with WINNOW_UPDATE_GOLDEN=1 to write it`);
      mkdirSync(goldenDir, { recursive: true });
      writeFileSync(file, text);
    }
    expect(text).toBe(readFileSync(file, 'utf8'));
    expect(checkKernelSource(k.source)).toBe(k.source);
  });
});

describe('loop unrolling', () => {
  it('forRangeUnrolled runs the body in forRange order, renaming its locals per copy', () => {
    const body = ['let t = a[j] * 2.0;', 'acc += t;'];
    expect(forRangeUnrolled('j', 5, 2, body)).toEqual([
      'for (let j = 0; j < 2; j++) {',
      '  let t_u0 = a[(j * 2 + 0)] * 2.0;',
      '  acc += t_u0;',
      '  let t_u1 = a[(j * 2 + 1)] * 2.0;',
      '  acc += t_u1;',
      '}',
      'let t_r4 = a[4] * 2.0;',
      'acc += t_r4;',
    ]);
    expect(forRangeUnrolled('j', 3, 1, body)).toEqual(forRange('j', 3, body));
    // properties and exponents are not identifiers to rename
    expect(forRangeUnrolled('x', 2, 2, ['let e = Math.exp(this.thread.x * 1e-7 + x);'])).toEqual(['let e_r0 = Math.exp(this.thread.x * 1e-7 + 0);', 'let e_r1 = Math.exp(this.thread.x * 1e-7 + 1);']);
    expect(unrolledIterations(5, 2, 0)).toBe(2);
    expect(unrolledIterations(5, 5, 3)).toBe(15);
    expect(unrolledIterations(5, 1, 3)).toBe(20);
  });

  it('planNest unrolls from the innermost loop out only as far as the budget needs', () => {
    const body = ['acc += 1.0;'];
    expect(planNest([['i', 100]], body, LOOP_BUDGET)).toEqual({ lines: forRange('i', 100, body), iterations: 100 });
    const bisection = planNest([['j', 4608]], body, 874);
    expect(bisection.iterations).toBeLessThanOrEqual(874);
    expect(bisection.lines[0]).toBe('for (let j = 0; j < 576; j++) {');
    // batch x 24 x 24: the 24-wide loop is unrolled whole, then the next one
    const conv = planNest([['smp', 200], ['oy', 24], ['ox', 24]], body, LOOP_BUDGET);
    expect(conv.iterations).toBeLessThanOrEqual(LOOP_BUDGET);
  });

  it('kernels of the example networks (and the batch-norm test network) stay under the software loop limit at batch 64', () => {
    for (const name of ['examples/models/sparse-mlp', 'examples/models/sparse-cnn2', 'examples/models/dense-cnn1', 'test/fixtures/models/bn-cnn']) {
      const lowered = lower(trace(readModelFile(`${name}.json`)));
      for (const k of gpujsKernels(compile(lowered, { program: 'train', batch: 64 }).schedule, 64)) {
        expect(k.loopIterations, `${name} ${k.name}`).toBeLessThanOrEqual(SOFTWARE_LOOP_LIMIT);
      }
    }
  });
});

describe.skipIf(skipWebGPU)('gpu.js trap, webgpu on a software adapter', () => {
  let gpu: GPU | undefined;
  afterAll(() => {
    gpu?.destroy();
  });

  it('llvmpipe stops every loop of a thread after 65535 iterations in all; unrolled loops run to the end', async () => {
    const status = await installNodeWebGPU();
    if (!status.ok) throw new Error(`WebGPU unavailable: ${status.reason} (set WINNOW_SKIP_WEBGPU=1 to skip the webgpu tests)`);
    gpu = new GPU({ mode: 'webgpu' });
    const n = 100_000;
    const count = async (body: string[]) => flat(await call(gpu!.createKernel(kernelSource(['a'], ['let acc = 0.0;', ...body], 'acc'), kernelSettings([2])), new Float32Array([1])));
    const plain = await count(forRange('i', n, ['acc += a[0];']));
    const unrolled = await count(forRangeUnrolled('i', n, 4, ['acc += a[0];']));
    expect(unrolled).toEqual([n, n]);
    if (status.software) expect(plain).toEqual([SOFTWARE_LOOP_LIMIT, SOFTWARE_LOOP_LIMIT]);
    else expect(plain).toEqual([n, n]);
  });
});
