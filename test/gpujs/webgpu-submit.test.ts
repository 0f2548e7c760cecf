/**
 * gpujs:webgpu runs a whole training step as ONE queue submission (gpu.js's `fused-encoder`
 * executor) with the model state on the device: per step it writes only the batch, its labels and
 * the per-call parameters, and reads back only the statistics. Counted on the device gpu.js gets,
 * which is why this file starts its own process before any other WebGPU device exists.
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
  writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView | ArrayBuffer, ...rest: unknown[]): unknown;
}
interface Buffer {
  getMappedRange(...args: unknown[]): ArrayBuffer;
}
interface Device {
  queue: Queue;
  createBuffer(descriptor: unknown): Buffer;
}
interface Adapter {
  requestDevice(descriptor?: unknown): Promise<Device>;
}

describe.skipIf(skipWebGPU)('gpujs:webgpu: one submission per training step', () => {
  it('the dense-mlp training step is one fused-encoder plan and one queue.submit, with the state on the device', async () => {
    const status = await installNodeWebGPU();
    if (!status.ok) throw new Error(`WebGPU unavailable: ${status.reason} (set WINNOW_SKIP_WEBGPU=1 to skip the webgpu tests)`);
    // count the submissions, bytes written and bytes read back of every device requested from here on (gpu.js makes its own)
    let submits = 0;
    let written = 0;
    let read = 0;
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
        const writeBuffer = device.queue.writeBuffer.bind(device.queue);
        Object.defineProperty(device.queue, 'writeBuffer', { value: (b: unknown, o: number, data: ArrayBufferView | ArrayBuffer, ...rest: unknown[]) => ((written += data.byteLength), writeBuffer(b, o, data, ...rest)) });
        const createBuffer = device.createBuffer.bind(device);
        Object.defineProperty(device, 'createBuffer', {
          value: (descriptor: unknown) => {
            const buffer = createBuffer(descriptor);
            const getMappedRange = buffer.getMappedRange.bind(buffer);
            Object.defineProperty(buffer, 'getMappedRange', { value: (...args: unknown[]) => { const r = getMappedRange(...args); read += r.byteLength; return r; } });
            return buffer;
          },
        });
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
      // the first call compiles gpu.js's plan and writes the state back; the second uploads it to the device
      await model.trainStep(x, labels, batch, sgd, batch, Rng.fromSeed(1, 2));
      await model.trainStep(x, labels, batch, sgd, 2 * batch, Rng.fromSeed(1, 2));
      for (const step of [3, 4]) {
        const before = { submits, written, read };
        await model.trainStep(x, labels, batch, sgd, step * batch, Rng.fromSeed(1, 2));
        expect(submits - before.submits).toBe(1);
        // the batch, its labels and a few parameter blocks go in (the 784x1000 weights alone are 3 MB) ...
        expect(written - before.written).toBeGreaterThanOrEqual(batch * 785 * 4);
        expect(written - before.written).toBeLessThan(batch * 785 * 4 + 4096);
        // ... and the per-sample [loss, correct] statistics come back
        expect(read - before.read).toBe(batch * 2 * 4);
      }
      // predict (after its program's first call) sees a step's weights with one submission, reading back the logits only
      await model.predict(x, batch);
      await model.trainStep(x, labels, batch, sgd, 5 * batch, Rng.fromSeed(1, 2));
      const before = { submits, written, read };
      await model.predict(x, batch);
      expect(submits - before.submits).toBe(1);
      expect(written - before.written).toBeLessThan(batch * 784 * 4 + 4096);
      expect(read - before.read).toBe(batch * 10 * 4);
      expect(model.describe().programs).toEqual([
        { program: 'train', batch, kernels: 19, executor: 'fused-encoder', kernelModes: ['webgpu'], stateOnDevice: true },
        { program: 'inference', batch, kernels: 3, executor: 'fused-encoder', kernelModes: ['webgpu'], stateOnDevice: true },
      ]);
    } finally {
      model.dispose?.();
    }
  });
});
