/**
 * The `gpujs:*` backends, one per gpu.js mode, for a platform's backend list to register
 * (runtime/backends.ts in Node, runtime/browser.ts in a browser). Nothing heavy loads here: gpu.js
 * is imported inside `available` and `create`, and what differs between Node and a browser (where
 * WebGPU comes from, which GL modes exist) is a `GpujsHost` the caller passes in
 * (runtime/gpujs/node-host.ts, runtime/gpujs/browser-host.ts), so this module imports nothing
 * platform-specific.
 *
 * - `gpujs:webgpu`: WGSL compute kernels; in Node through Dawn, in a browser through
 *   `navigator.gpu`. `hardware()` is true only for a non-software adapter.
 * - `gpujs:webgl2`: browser only (gpu.js draws into a WebGL2 canvas).
 * - `gpujs:headlessgl`: Node only, where the optional `gl` package loads and gives a context (it
 *   needs a display, e.g. xvfb-run). The mode is always pinned: gpu.js would otherwise pick it by itself.
 * - `gpujs:webasm`, `gpujs:cpu`: WebAssembly (f32, SIMD) and plain JavaScript (f64); anywhere.
 *
 * @example
 * import { gpujsBackends } from 'winnow/runtime/gpujs/backends';
 * import { browserHost } from 'winnow/runtime/gpujs/browser-host';
 * // for (const { name, backend } of gpujsBackends(browserHost)) registerBackend(name, backend);
 */
import type { BackendRegistration, ConcreteBackendName } from '../backend.ts';
import { createGpujsModel, loadGpujs, type GpujsMode } from './model.ts';

/** Whether WebGPU is there for gpu.js (and whether its adapter is a software renderer), or why not. */
export type WebgpuStatus = { readonly ok: true; readonly software: boolean } | { readonly ok: false; readonly reason: string };

/** What a platform tells the gpujs backends. */
export interface GpujsHost {
  /** Makes WebGPU usable by gpu.js here (once) and says what it found. Never rejects. */
  readonly webgpu: () => Promise<WebgpuStatus>;
  /** False when no hardware WebGPU adapter can exist here, known without starting WebGPU. */
  readonly mayHaveHardwareWebgpu: () => boolean;
  /** Why a GL mode cannot run on this platform before gpu.js is asked (one line), or undefined. */
  readonly gl: (mode: 'webgl2' | 'headlessgl') => Promise<string | undefined>;
}

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/** Why gpu.js itself cannot load here, or undefined. */
const gpujsMissing = async (): Promise<string | undefined> =>
  loadGpujs().then(
    () => undefined,
    (e) => `gpu.js cannot load: ${oneLine(e)}`,
  );

/** Why `mode` cannot run on `host`, or undefined when it can. */
export const gpujsUnavailable = async (mode: GpujsMode, host: GpujsHost): Promise<string | undefined> => {
  const missing = await gpujsMissing();
  if (missing) return missing;
  const { GPU } = await loadGpujs();
  switch (mode) {
    case 'cpu':
      return undefined;
    case 'webasm':
      return GPU.isWebAssemblySupported === false ? 'this platform has no WebAssembly SIMD support for gpu.js' : undefined;
    case 'webgpu': {
      const s = await host.webgpu();
      return s.ok ? undefined : s.reason;
    }
    case 'webgl2':
      return (await host.gl('webgl2')) ?? (GPU.isWebGL2Supported ? undefined : 'gpu.js finds no WebGL2 here (no WebGL2RenderingContext, or the browser refuses a WebGL2 context)');
    case 'headlessgl':
      return (await host.gl('headlessgl')) ?? (GPU.isHeadlessGLSupported ? undefined : 'headless-gl loads but gives no context (it needs a display: run under xvfb-run)');
  }
};

const registration = (mode: GpujsMode, name: ConcreteBackendName, host: GpujsHost): BackendRegistration => ({
  available: () => gpujsUnavailable(mode, host),
  create: async (lowered, state) => {
    if (mode !== 'webgpu') return createGpujsModel(mode, name, lowered, state);
    const s = await host.webgpu();
    if (!s.ok) throw new Error(`${name}: ${s.reason}`);
    return createGpujsModel(mode, name, lowered, state, { softwareLoopLimit: s.software });
  },
  ...(mode === 'webgpu'
    ? {
        hardware: async () => {
          // do not start a WebGPU runtime (and its warnings) just to learn it can only be software
          if (!host.mayHaveHardwareWebgpu()) return false;
          const s = await host.webgpu();
          return s.ok && !s.software;
        },
      }
    : {}),
});

/** The gpujs backends on `host`, in the order a platform's backend list registers them. */
export const gpujsBackends = (host: GpujsHost): ReadonlyArray<{ readonly name: ConcreteBackendName; readonly backend: BackendRegistration }> => [
  { name: 'gpujs:webgpu', backend: registration('webgpu', 'gpujs:webgpu', host) },
  { name: 'gpujs:webgl2', backend: registration('webgl2', 'gpujs:webgl2', host) },
  { name: 'gpujs:headlessgl', backend: registration('headlessgl', 'gpujs:headlessgl', host) },
  { name: 'gpujs:webasm', backend: registration('webasm', 'gpujs:webasm', host) },
  { name: 'gpujs:cpu', backend: registration('cpu', 'gpujs:cpu', host) },
];
