/**
 * WebGPU for gpu.js in Node: puts a Dawn `GPU` (npm package `webgpu`) at `globalThis.navigator.gpu`,
 * where gpu.js's `mode: 'webgpu'` looks for it (see shared/notes/gpujs.md).
 *
 * - **Which `webgpu`.** gpu.js depends on `webgpu@0.2.9`, whose `dawn.node` cannot load on Debian 12
 *   (it needs GLIBCXX 3.4.32); winnow depends on `webgpu@^0.6.2` (the newest; 0.3.8 loads too), which
 *   npm installs at the top level, and this module imports that one.
 * - **Which adapter.** First Dawn's default backends with a normal adapter (Vulkan on a Linux machine
 *   with a GPU driver); when there is none, Dawn's OpenGL ES backend over EGL, which on a machine
 *   without a GPU is Mesa's llvmpipe. That adapter exists only at feature level `compatibility`, and
 *   Mesa needs `EGL_PLATFORM=surfaceless` without a display; gpu.js asks `requestAdapter()` with no
 *   options, so the installed `navigator.gpu` adds both.
 * - **Failures are answers.** A missing package, a `dawn.node` that cannot load, a missing libEGL or
 *   no adapter at all resolve to `{ ok: false, reason }` with one line, never a throw.
 * - **Exit.** Measured with webgpu 0.6.2: a program that ran webgpu kernels and a fused pipeline
 *   exits at once with the device still alive (Dawn holds the event loop only while its own promises
 *   are pending). `releaseNodeWebGPU` destroys gpu.js's shared device and removes `navigator.gpu`,
 *   for callers that want the memory back before exiting or a fresh start.
 * - **Noise.** Dawn and Mesa write warnings to stderr themselves (two "artificially reduced" limit
 *   lines per llvmpipe adapter); they are not errors and cannot be silenced from JavaScript.
 *
 * @example
 * import { installNodeWebGPU } from 'winnow/runtime/gpu/node-webgpu';
 * // const status = await installNodeWebGPU();
 * // if (status.ok) new GPU({ mode: 'webgpu' }); else console.error(status.reason);
 */
// Node's built-ins are imported when used, never at module load: a bundle holding this module (a
// `winnow build --backend gpujs:webgpu` module) must still load in a browser, where it is not called.
type NodeFs = typeof import('node:fs');
const nodeFs = (): Promise<NodeFs> => import('node:fs');

/** What `installNodeWebGPU` found: an adapter (and whether it is a software renderer), or why not. */
export type NodeWebGPUStatus =
  | {
      readonly ok: true;
      /** The adapter's vendor, architecture, device and description, as Dawn reports them. */
      readonly adapter: string;
      /** True for CPU renderers: llvmpipe, lavapipe, SwiftShader, softpipe, or a fallback adapter. */
      readonly software: boolean;
      /** `default`: Dawn's default backends (Vulkan on Linux); `opengles`: Dawn's OpenGL ES backend over EGL. */
      readonly backend: 'default' | 'opengles';
    }
  | { readonly ok: false; readonly reason: string };

/** The slice of Dawn's `GPU` object this module uses. */
interface DawnGPU {
  requestAdapter(options?: Record<string, unknown>): Promise<DawnAdapter | null>;
}

/** The slice of a `GPUAdapter` this module reads. */
interface DawnAdapter {
  readonly limits: Record<string, number | undefined>;
  requestDevice(descriptor?: Record<string, unknown>): Promise<unknown>;
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
}

interface WebGPUModule {
  create(flags: string[]): DawnGPU;
}

/** Marks a `navigator.gpu` installed by (any copy of) this module, with its answer. */
const statusKey = Symbol.for('winnow.nodeWebGPU.status');

let installing: Promise<NodeWebGPUStatus> | undefined;
/** The `navigator.gpu` this module installed, so `release` removes only its own. */
let installed: { gpu: unknown; createdNavigator: boolean } | undefined;

/**
 * Makes `navigator.gpu` usable by gpu.js's `mode: 'webgpu'`. Idempotent: every call returns the
 * first call's answer. Never rejects.
 */
export function installNodeWebGPU(): Promise<NodeWebGPUStatus> {
  installing ??= install().catch((e: unknown): NodeWebGPUStatus => ({ ok: false, reason: `WebGPU setup failed: ${firstLine(e)}` }));
  return installing;
}

/**
 * Destroys gpu.js's shared WebGPU device (if gpu.js made one), removes the `navigator.gpu` this
 * module installed and forgets the cached answer, so a later `installNodeWebGPU` starts over.
 * Kernels built before must not be called after. Not needed for the process to exit.
 */
export async function releaseNodeWebGPU(): Promise<void> {
  const pending = installing;
  installing = undefined;
  if (pending) await pending;
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const gpujs = require('gpu.js') as { WebGPUContext?: { destroy(): Promise<void> } };
    await gpujs.WebGPUContext?.destroy();
  } catch {
    // gpu.js absent or its context never made: nothing to destroy
  }
  const own = installed;
  installed = undefined;
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (own && nav && nav.gpu === own.gpu) {
    if (own.createdNavigator) delete (globalThis as { navigator?: unknown }).navigator;
    else delete nav.gpu;
  }
}

async function install(): Promise<NodeWebGPUStatus> {
  const existing = (globalThis as unknown as { navigator?: { gpu?: DawnGPU & { [statusKey]?: NodeWebGPUStatus } } }).navigator?.gpu;
  if (existing) {
    // Another copy of this module (a bundle and the sources, say) installed it: its answer.
    const status = existing[statusKey];
    if (status) return status;
    // A browser, Deno, or some other code put one there: report on it, replace nothing.
    const adapter = await existing.requestAdapter();
    return adapter ? found(adapter, 'default') : { ok: false, reason: 'navigator.gpu exists but gives no adapter' };
  }

  let webgpu: WebGPUModule;
  try {
    webgpu = (await import('webgpu')) as unknown as WebGPUModule;
  } catch (e) {
    return { ok: false, reason: `the webgpu package (Dawn) cannot load here: ${firstLine(e)}` };
  }

  // Dawn prints a two-line warning with a source location when libvulkan is missing; on Linux,
  // look first and skip the default backends when the Vulkan loader is not installed.
  const fs = await nodeFs();
  const hasVulkan = process.platform !== 'linux' || findSharedLibrary(fs, 'libvulkan.so.1');
  if (hasVulkan) {
    const { gpu, probe } = wrapGPU(webgpu.create([]), false);
    const adapter = await probe();
    if (adapter) return put(gpu, found(adapter, 'default'));
  }

  if (process.platform === 'linux' || process.platform === 'freebsd') {
    // Dawn dlopens the unversioned name, which Debian ships in libegl-dev.
    if (!findSharedLibrary(fs, 'libEGL.so')) {
      return {
        ok: false,
        reason: `no WebGPU adapter: ${hasVulkan ? 'Vulkan gave none' : 'no Vulkan loader (libvulkan.so.1)'} and no libEGL.so for OpenGL ES (Debian: apt-get install libegl-dev libegl1 libgl1-mesa-dri)`,
      };
    }
  }
  const { gpu, probe } = wrapGPU(webgpu.create(['backend=opengles']), true);
  const adapter = await probe();
  if (!adapter) {
    return {
      ok: false,
      reason: `no WebGPU adapter: ${hasVulkan ? 'Vulkan gave none' : 'no Vulkan loader (libvulkan.so.1)'} and OpenGL ES over EGL gave none (is Mesa installed? Debian: libegl1 libgl1-mesa-dri)`,
    };
  }
  return put(gpu, found(adapter, 'opengles'));
}

/** Limits a generated kernel runs into first; a device asks for the adapter's own values of these. */
const raisedLimits = ['maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize'] as const;

/**
 * Wraps Dawn's `requestAdapter` (an own property on Dawn's object itself, so its other methods keep
 * their native receiver). For the OpenGL ES backend a plain `requestAdapter()`, which is what gpu.js
 * calls, asks for a `compatibility` adapter with Mesa's surfaceless EGL platform unless the caller
 * chose one. On every backend the adapter's `requestDevice` asks for the adapter's own limits of
 * storage buffers per stage and buffer sizes: the default of 8 storage buffers would refuse a kernel
 * with more than 7 array arguments (gpu.js binds each argument and the output as one), and gpu.js
 * raises only the sizes.
 */
function wrapGPU(gpu: DawnGPU, compatibility: boolean): { gpu: DawnGPU; probe(): Promise<DawnAdapter | null> } {
  const request = gpu.requestAdapter.bind(gpu);
  const fresh = async (options?: Record<string, unknown>): Promise<DawnAdapter | null> => {
    const unset = compatibility && process.env.EGL_PLATFORM === undefined;
    if (unset) process.env.EGL_PLATFORM = 'surfaceless';
    let adapter: DawnAdapter | null;
    try {
      adapter = await request(compatibility ? { featureLevel: 'compatibility', ...options } : options);
    } finally {
      if (unset) delete process.env.EGL_PLATFORM;
    }
    if (adapter) raiseDeviceLimits(adapter);
    return adapter;
  };
  // Dawn prints its limit warnings once per adapter: the probe's adapter, unused, goes to the first
  // plain requestAdapter() (gpu.js's) instead of being thrown away.
  let spare: DawnAdapter | null = null;
  Object.defineProperty(gpu, 'requestAdapter', {
    configurable: true,
    writable: true,
    value: async (options?: Record<string, unknown>) => {
      if (spare && options === undefined) {
        const adapter = spare;
        spare = null;
        return adapter;
      }
      return fresh(options);
    },
  });
  return { gpu, probe: async () => (spare = await fresh()) };
}

function raiseDeviceLimits(adapter: DawnAdapter): void {
  const requestDevice = adapter.requestDevice.bind(adapter);
  Object.defineProperty(adapter, 'requestDevice', {
    configurable: true,
    writable: true,
    value: (descriptor?: { requiredLimits?: Record<string, number> } & Record<string, unknown>) => {
      const limits: Record<string, number> = {};
      for (const name of raisedLimits) {
        const value = adapter.limits[name];
        if (typeof value === 'number') limits[name] = value;
      }
      return requestDevice({ ...descriptor, requiredLimits: { ...limits, ...descriptor?.requiredLimits } });
    },
  });
}

function put(gpu: DawnGPU, status: NodeWebGPUStatus): NodeWebGPUStatus {
  Object.defineProperty(gpu, statusKey, { value: status, configurable: true });
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  let createdNavigator = false;
  if (g.navigator === undefined) {
    // Node 20 has no navigator. gpu.js reads only navigator.gpu and navigator.hardwareConcurrency
    // (its worker pool), and falls back to os.cpus() when the latter is absent, as before.
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true, enumerable: false });
    createdNavigator = true;
  }
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true, enumerable: true });
  installed = { gpu, createdNavigator };
  return status;
}

function found(adapter: DawnAdapter, backend: 'default' | 'opengles'): NodeWebGPUStatus {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s): s is string => typeof s === 'string' && s.length > 0);
  const name = parts.length > 0 ? parts.join(' / ') : 'unnamed adapter';
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|softpipe|software|\bcpu\b/i.test(name);
  return { ok: true, adapter: name, software, backend };
}

/** Whether the dynamic linker can find `name`: in LD_LIBRARY_PATH, ld.so.cache or the usual directories. */
function findSharedLibrary({ existsSync, readFileSync }: NodeFs, name: string): boolean {
  const join = (dir: string, file: string) => `${dir.replace(/\/+$/, '')}/${file}`;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(process.platform === 'win32' ? ';' : ':').filter(Boolean), '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib'];
  if (process.arch === 'x64') dirs.push('/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu');
  if (process.arch === 'arm64') dirs.push('/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu');
  if (dirs.some((d) => existsSync(join(d, name)))) return true;
  try {
    // The cache is NUL-separated names and paths; a stale entry whose file is gone does not count.
    return readFileSync('/etc/ld.so.cache', 'latin1')
      .split('\0')
      .some((entry) => entry.startsWith('/') && entry.endsWith(`/${name}`) && existsSync(entry));
  } catch {
    return false;
  }
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n').find((line) => line.trim().length > 0)?.trim() ?? 'unknown error';
}
