/**
 * The gpujs backends' view of Node: WebGPU is Dawn (`installNodeWebGPU`, loaded on first use,
 * falling back to Mesa's llvmpipe without a GPU); a hardware adapter needs the Vulkan loader on
 * Linux; WebGL2 does not exist; headless-gl is the optional `gl` package (not a dependency: it
 * builds ANGLE from source for minutes), which also needs a display.
 *
 * @example
 * import { gpujsBackends } from 'winnow/runtime/gpujs/backends';
 * import { nodeHost } from 'winnow/runtime/gpujs/node-host';
 * // gpujsBackends(nodeHost).map((b) => b.name); // ['gpujs:webgpu', 'gpujs:webgl2', ...]
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { GpujsHost } from './backends.ts';

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/** Whether the Vulkan loader is installed (Linux). */
const hasVulkanLoader = (): boolean => {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/usr/local/lib'];
  return dirs.some((d) => existsSync(`${d}/libvulkan.so.1`));
};

/** How to get headless-gl, for the one-line refusal. */
const enableGl = 'npm install gl (needs build-essential, python3, libxi-dev and libglu1-mesa-dev; it builds ANGLE for minutes), then run under xvfb-run';

/** Node, for `gpujsBackends`. */
export const nodeHost: GpujsHost = {
  webgpu: async () => {
    const { installNodeWebGPU } = await import('../gpu/node-webgpu.ts');
    const s = await installNodeWebGPU();
    return s.ok ? { ok: true, software: s.software } : { ok: false, reason: s.reason };
  },
  // In Node a hardware adapter needs the Vulkan loader on Linux; without it only a software one could answer.
  mayHaveHardwareWebgpu: () => process.platform !== 'linux' || hasVulkanLoader(),
  gl: async (mode) => {
    if (mode === 'webgl2') return 'gpu.js webgl2 runs only in a browser (Node has no WebGL2); use gpujs:webgpu, gpujs:webasm or gpujs:headlessgl';
    try {
      createRequire(import.meta.url)('gl');
    } catch (e) {
      return `the optional gl package (headless-gl) is not installed or cannot load (${oneLine(e)}); to enable it: ${enableGl}`;
    }
    return undefined;
  },
};
