/**
 * The backend registry: names, availability, `auto`, and the asynchronous model contract (the
 * reference backend through the registry answers with Promises, bit-identical to the interpreter).
 * Fake registrations are made against backend.ts alone, so the backends a build ships (registered
 * by runtime/backends.ts) do not interfere.
 */
import { pipe } from 'fp-ts/lib/function.js';
import { afterEach, describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { boost, dense, dropout, input, kwta, softmaxCrossEntropy, sparse, WinnowError } from '../../dsl/index.ts';
import { backendNames, createModel, registerBackend, registeredBackends, resolveBackend, type BackendRegistration, type ConcreteBackendName } from '../../runtime/backend.ts';
import { evaluate } from '../../runtime/evaluate.ts';
import { loadMnist, normalizeInto } from '../../runtime/mnist.ts';
import { initModelState } from '../../runtime/model-state.ts';
import { createReferenceModel } from '../../runtime/reference/model.ts';
import { Rng } from '../../runtime/rng.ts';

const cleanups: Array<() => void> = [];
const register = (name: ConcreteBackendName, registration: BackendRegistration) => cleanups.push(registerBackend(name, registration));
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

// Small, with the stateful parts: sparse weights, k-winners with boosting, dropout.
const lowered = lower(trace(pipe(input([784]), dense(40), sparse(0.5), kwta({ percentOn: 0.25 }), boost({}), dropout(0.2), dense(10), softmaxCrossEntropy)));
const fresh = () => initModelState(lowered, { seed: 5, dtype: 'float32' });
/** A stand-in backend that runs the reference interpreter under another name. */
const fake = (name: ConcreteBackendName, extra: Partial<BackendRegistration> = {}): BackendRegistration => ({
  available: async () => undefined,
  create: async (l, s) => ({ ...(await createModel('reference', l, s)), backend: name }),
  ...extra,
});
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as WinnowError);

describe('backend names', () => {
  it('knows auto, reference, cpu and the gpu.js modes; only reference is registered by backend.ts', () => {
    expect(backendNames).toEqual(['auto', 'reference', 'cpu', 'gpujs:webgpu', 'gpujs:webgl2', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu']);
    expect(registeredBackends()).toEqual(['reference']);
  });

  it('an unknown name is a one-line backend error listing the known ones', async () => {
    const e = await rejection(createModel('gpu', lowered, fresh()));
    expect(e).toBeInstanceOf(WinnowError);
    expect(e!.kind).toBe('backend');
    expect(e!.message).toBe('unknown backend "gpu" (known: auto, reference, cpu, gpujs:webgpu, gpujs:webgl2, gpujs:headlessgl, gpujs:webasm, gpujs:cpu)');
  });

  it('a known backend that is not registered says so', async () => {
    const e = await rejection(resolveBackend('gpujs:webasm'));
    expect(e).toBeInstanceOf(WinnowError);
    expect(e!.message).toBe('backend "gpujs:webasm" is not available here: this build does not include it');
  });

  it('a registered but unavailable backend gives its one-line reason', async () => {
    register('gpujs:webgpu', { ...fake('gpujs:webgpu'), available: async () => 'no WebGPU adapter (navigator.gpu is undefined)' });
    const e = await rejection(createModel('gpujs:webgpu', lowered, fresh()));
    expect(e).toBeInstanceOf(WinnowError);
    expect(e!.kind).toBe('backend');
    expect(e!.message).toBe('backend "gpujs:webgpu" is not available here: no WebGPU adapter (navigator.gpu is undefined)');
    // a probe that throws counts as unavailable, with its first line
    register('gpujs:webgl2', { ...fake('gpujs:webgl2'), available: async () => { throw new Error('gl context lost\n    at somewhere'); } });
    expect((await rejection(resolveBackend('gpujs:webgl2')))!.message).toBe('backend "gpujs:webgl2" is not available here: its availability check failed: gl context lost');
  });

  it('registering a name twice, or an unknown name, is a bug', () => {
    expect(() => registerBackend('reference', fake('reference'))).toThrow(/registered twice/);
    expect(() => registerBackend('auto' as ConcreteBackendName, fake('reference'))).toThrow(/not a backend name/);
  });

  it('a registered, available backend resolves to itself', async () => {
    register('gpujs:cpu', fake('gpujs:cpu'));
    expect(await resolveBackend('gpujs:cpu')).toEqual({ name: 'gpujs:cpu', why: 'requested' });
    expect((await createModel('gpujs:cpu', lowered, fresh())).backend).toBe('gpujs:cpu');
  });
});

describe('auto', () => {
  it('is reference when nothing else is registered', async () => {
    expect(await resolveBackend('auto')).toEqual({ name: 'reference', why: 'auto: no WebGPU backend in this build, no cpu backend, using reference' });
    expect((await createModel('auto', lowered, fresh())).backend).toBe('reference');
  });

  it('is cpu when WebGPU has no hardware adapter and cpu is registered', async () => {
    register('cpu', fake('cpu'));
    expect(await resolveBackend('auto')).toEqual({ name: 'cpu', why: 'auto: no WebGPU backend in this build, using cpu' });
    register('gpujs:webgpu', fake('gpujs:webgpu', { hardware: async () => false }));
    expect(await resolveBackend('auto')).toEqual({ name: 'cpu', why: 'auto: no hardware WebGPU adapter, using cpu' });
    expect((await createModel('auto', lowered, fresh())).backend).toBe('cpu');
  });

  it('is reference when WebGPU is only a software adapter and there is no cpu backend', async () => {
    register('gpujs:webgpu', fake('gpujs:webgpu', { hardware: async () => false }));
    expect(await resolveBackend('auto')).toEqual({ name: 'reference', why: 'auto: no hardware WebGPU adapter, no cpu backend, using reference' });
  });

  it('does not pick WebGPU that cannot say its adapter is hardware, nor an unavailable one', async () => {
    register('cpu', fake('cpu'));
    register('gpujs:webgpu', fake('gpujs:webgpu'));
    expect((await resolveBackend('auto')).name).toBe('cpu');
    cleanups.pop()!();
    register('gpujs:webgpu', fake('gpujs:webgpu', { available: async () => 'no adapter', hardware: async () => true }));
    expect(await resolveBackend('auto')).toEqual({ name: 'cpu', why: 'auto: no WebGPU adapter, using cpu' });
  });

  it('skips an unavailable cpu backend', async () => {
    register('cpu', fake('cpu', { available: async () => 'not compiled' }));
    expect(await resolveBackend('auto')).toEqual({ name: 'reference', why: 'auto: no WebGPU backend in this build, cpu unavailable, using reference' });
  });

  it('picks WebGPU on a hardware adapter', async () => {
    register('cpu', fake('cpu'));
    register('gpujs:webgpu', fake('gpujs:webgpu', { hardware: async () => true }));
    expect(await resolveBackend('auto')).toEqual({ name: 'gpujs:webgpu', why: 'auto: hardware WebGPU adapter' });
  });
});

describe('the reference backend through the registry', () => {
  it('answers with Promises, bit-identical to the synchronous interpreter', async () => {
    const set = loadMnist('train', { limit: 16 });
    const x = normalizeInto(set.pixels, Array.from({ length: 16 }, (_, i) => i), new Float32Array(16 * 784));
    const labels = set.labels.slice(0, 16);
    const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 };
    const direct = createReferenceModel(lowered, fresh());
    const viaRegistry = await createModel('reference', lowered, fresh());
    const p = viaRegistry.trainStep(x, labels, 16, sgd, 16, Rng.fromSeed(1, 2));
    expect(p).toBeInstanceOf(Promise);
    expect(await p).toEqual(direct.trainStep(x, labels, 16, sgd, 16, Rng.fromSeed(1, 2)));
    expect(await viaRegistry.predict(x, 16)).toEqual(direct.predict(x, 16));
    expect(viaRegistry.state.tensors.get('l0.weight')!.data).toEqual(direct.state.tensors.get('l0.weight')!.data);
    const test = loadMnist('test', { limit: 50 });
    expect(await evaluate(viaRegistry, test)).toEqual(await evaluate(direct, test));
  });
});
