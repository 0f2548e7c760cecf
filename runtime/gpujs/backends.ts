/**
 * The `gpujs:*` backends, one per gpu.js mode, for runtime/backends.ts to register. Nothing heavy
 * loads here: gpu.js, Dawn (webgpu) and headless-gl are imported inside `available` and `create`.
 *
 * - `gpujs:webgpu`: WGSL compute kernels; in Node through Dawn (`installNodeWebGPU`, which falls
 *   back to Mesa's llvmpipe without a GPU), in a browser through `navigator.gpu`. `hardware()` is
 *   true only for a non-software adapter.
 * - `gpujs:webgl2`: browser only (gpu.js draws into a WebGL2 canvas); unavailable in Node.
 * - `gpujs:headlessgl`: only where the optional `gl` package loads and gives a context (it needs
 *   a display, e.g. xvfb-run). The mode is always pinned: gpu.js would otherwise pick it by itself.
 * - `gpujs:webasm`, `gpujs:cpu`: WebAssembly (f32, SIMD) and plain JavaScript (f64); anywhere.
 */
import { existsSync } from 'node:fs';
import type { BackendRegistration, ConcreteBackendName } from '../backend.ts';
import { createGpujsModel, loadGpujs, type GpujsMode } from './model.ts';

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

const inNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** navigator.gpu in a browser (or anything that put one there). */
const browserGpu = (): { requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean; vendor?: string; description?: string } } | null> } | undefined =>
  (globalThis as unknown as { navigator?: { gpu?: never } }).navigator?.gpu;

/** Where WebGPU comes from here: Dawn in Node (installed once), the browser's own otherwise. */
const webgpuStatus = async (): Promise<{ ok: true; software: boolean } | { ok: false; reason: string }> => {
  if (inNode) {
    const { installNodeWebGPU } = await import('../gpu/node-webgpu.ts');
    const s = await installNodeWebGPU();
    return s.ok ? { ok: true, software: s.software } : { ok: false, reason: s.reason };
  }
  const gpu = browserGpu();
  if (!gpu) return { ok: false, reason: 'this browser has no WebGPU (navigator.gpu)' };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { ok: false, reason: 'navigator.gpu gives no adapter' };
  const info = adapter.info ?? {};
  const software = info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${info.vendor ?? ''} ${info.description ?? ''}`);
  return { ok: true, software };
};

/** Why gpu.js itself cannot load here, or undefined. */
const gpujsMissing = async (): Promise<string | undefined> =>
  loadGpujs().then(
    () => undefined,
    (e) => `gpu.js cannot load: ${oneLine(e)}`,
  );

/** Why `mode` cannot run here, or undefined when it can. */
export const gpujsUnavailable = async (mode: GpujsMode): Promise<string | undefined> => {
  const missing = await gpujsMissing();
  if (missing) return missing;
  const { GPU } = await loadGpujs();
  switch (mode) {
    case 'cpu':
      return undefined;
    case 'webasm':
      return GPU.isWebAssemblySupported === false ? 'this platform has no WebAssembly SIMD support for gpu.js' : undefined;
    case 'webgpu': {
      const s = await webgpuStatus();
      return s.ok ? undefined : s.reason;
    }
    case 'webgl2':
      if (inNode) return 'gpu.js webgl2 runs only in a browser (Node has no WebGL2); use gpujs:webgpu, gpujs:webasm or gpujs:headlessgl';
      return GPU.isWebGL2Supported ? undefined : 'this browser has no WebGL2';
    case 'headlessgl': {
      if (!inNode) return 'headless-gl is for Node; in a browser use gpujs:webgl2';
      try {
        const { createRequire } = await import('node:module');
        createRequire(import.meta.url)('gl');
      } catch (e) {
        return `the optional gl package (headless-gl) is not installed or cannot load: ${oneLine(e)}`;
      }
      return GPU.isHeadlessGLSupported ? undefined : 'headless-gl loads but gives no context (it needs a display: run under xvfb-run)';
    }
  }
};

const registration = (mode: GpujsMode, name: ConcreteBackendName): BackendRegistration => ({
  available: () => gpujsUnavailable(mode),
  create: async (lowered, state) => {
    if (mode !== 'webgpu') return createGpujsModel(mode, name, lowered, state);
    const s = await webgpuStatus();
    if (!s.ok) throw new Error(`${name}: ${s.reason}`);
    return createGpujsModel(mode, name, lowered, state, { softwareLoopLimit: s.software });
  },
  ...(mode === 'webgpu' ? { hardware: async () => {
    // In Node a hardware adapter needs the Vulkan loader; without it only a software adapter
    // could answer, so do not start Dawn (and its warnings) just to learn that.
    if (typeof process === 'object' && process.platform === 'linux' && !hasVulkanLoader()) return false;
    const s = await webgpuStatus();
    return s.ok && !s.software;
  } } : {}),
});

/** Whether the Vulkan loader is installed (Linux). */
const hasVulkanLoader = (): boolean => {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/lib'];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
};

/** The gpujs backends, in the order runtime/backends.ts registers them. */
export const gpujsBackends: ReadonlyArray<{ readonly name: ConcreteBackendName; readonly backend: BackendRegistration }> = [
  { name: 'gpujs:webgpu', backend: registration('webgpu', 'gpujs:webgpu') },
  { name: 'gpujs:webgl2', backend: registration('webgl2', 'gpujs:webgl2') },
  { name: 'gpujs:headlessgl', backend: registration('headlessgl', 'gpujs:headlessgl') },
  { name: 'gpujs:webasm', backend: registration('webasm', 'gpujs:webasm') },
  { name: 'gpujs:cpu', backend: registration('cpu', 'gpujs:cpu') },
];
