/**
 * The gpujs backends' view of a browser: WebGPU is `navigator.gpu` (software when the adapter says
 * it is a fallback or names a CPU renderer), WebGL2 is the browser's own (gpu.js checks it), and
 * headless-gl does not exist. Imports nothing from Node.
 *
 * @example
 * import { gpujsBackends } from 'winnow/runtime/gpujs/backends';
 * import { browserHost } from 'winnow/runtime/gpujs/browser-host';
 * // gpujsBackends(browserHost).map((b) => b.name); // ['gpujs:webgpu', 'gpujs:webgl2', ...]
 */
import type { GpujsHost, WebgpuStatus } from './backends.ts';

interface AdapterInfo {
  readonly isFallbackAdapter?: boolean;
  readonly vendor?: string;
  readonly architecture?: string;
  readonly description?: string;
}

/** The slice of `navigator.gpu` this module reads. */
interface BrowserGpu {
  requestAdapter(): Promise<{ readonly info?: AdapterInfo; readonly isFallbackAdapter?: boolean } | null>;
}

const browserGpu = (): BrowserGpu | undefined => (globalThis as unknown as { navigator?: { gpu?: BrowserGpu } }).navigator?.gpu;

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

let status: Promise<WebgpuStatus> | undefined;

const probe = async (): Promise<WebgpuStatus> => {
  const gpu = browserGpu();
  if (!gpu) return { ok: false, reason: 'this browser has no WebGPU (navigator.gpu is missing; it needs a secure context, https or localhost)' };
  const adapter = await gpu.requestAdapter().catch((e: unknown) => {
    throw new Error(`navigator.gpu.requestAdapter failed: ${oneLine(e)}`);
  });
  if (!adapter) return { ok: false, reason: 'navigator.gpu gives no adapter' };
  const info = adapter.info ?? {};
  const name = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`;
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|softpipe|software/i.test(name);
  return { ok: true, software };
};

/** A browser (or a worker in one), for `gpujsBackends`. */
export const browserHost: GpujsHost = {
  webgpu: () => (status ??= probe().catch((e: unknown): WebgpuStatus => ({ ok: false, reason: oneLine(e) }))),
  mayHaveHardwareWebgpu: () => browserGpu() !== undefined,
  gl: async (mode) => (mode === 'headlessgl' ? 'headless-gl is for Node; in a browser use gpujs:webgl2' : undefined),
};
