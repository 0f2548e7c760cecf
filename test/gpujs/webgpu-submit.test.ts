/**
 * gpujs:webgpu runs a whole training step as ONE queue submission (gpu.js's `fused-encoder`
 * executor): counted on the device gpu.js gets, which is why this file starts its own process
 * before any other WebGPU device exists.
 */
import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { readModelFile } from '../../dsl/index.ts';
import { createModel } from '../../runtime/backends.ts';
import type { GpujsModel } from '../../runtime/gpujs/model.ts';
import { installNodeWebGPU } from '../../runtime/gpu/node-webgpu.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { Rng } from '../../runtime/rng.ts';
import { skipWebGPU } from '../gpu/helpers.ts';

interface Queue {
  submit(buffers: unknown): unknown;
}
interface Adapter {
  requestDevice(descriptor?: unknown): Promise<{ queue: Queue }>;
}

describe.skipIf(skipWebGPU)('gpujs:webgpu: one submission per training step', () => {
  it('the dense-mlp training step is one fused-encoder plan and one queue.submit', async () => {
    const status = await installNodeWebGPU();
    if (!status.ok) throw new Error(`WebGPU unavailable: ${status.reason} (set WINNOW_SKIP_WEBGPU=1 to skip the webgpu tests)`);
    // count the submissions of every device requested from here on (gpu.js makes its own)
    let submits = 0;
    const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(o?: unknown): Promise<Adapter | null> } } }).navigator.gpu;
    const requestAdapter = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = async (options?: unknown) => {
      const adapter = await requestAdapter(options);
      if (!adapter) return adapter;
      const requestDevice = adapter.requestDevice.bind(adapter);
      adapter.requestDevice = async (descriptor?: unknown) => {
        const device = await requestDevice(descriptor);
        const submit = device.queue.submit.bind(device.queue);
        Object.defineProperty(device.queue, 'submit', { value: (buffers: unknown) => (submits++, submit(buffers)) });
        return device;
      };
      return adapter;
    };
    const lowered = lower(trace(readModelFile('examples/models/dense-mlp.json')));
    const model = (await createModel('gpujs:webgpu', lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }))) as GpujsModel;
    try {
      const batch = 8;
      const x = new Float32Array(batch * 784).fill(0.5);
      const labels = Uint8Array.from({ length: batch }, (_, i) => i);
      const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 0 };
      await model.trainStep(x, labels, batch, sgd, batch, Rng.fromSeed(1, 2));
      const before = submits;
      await model.trainStep(x, labels, batch, sgd, 2 * batch, Rng.fromSeed(1, 2));
      expect(submits - before).toBe(1);
      expect(model.describe().programs).toEqual([{ program: 'train', batch, kernels: 19, executor: 'fused-encoder' }]);
    } finally {
      model.dispose?.();
    }
  });
});
