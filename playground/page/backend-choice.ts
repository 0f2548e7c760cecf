/**
 * Which backend the playground trains on. It offers `gpujs:webgpu`, `gpujs:webgl2`, `cpu` and
 * `reference`, each usable or not with a reason, and prefers, in this order: WebGPU on a hardware
 * adapter, WebGL2 on a hardware GPU, else the CPU fallback (`cpu`: generated JavaScript and
 * WebAssembly SIMD on one thread). A GPU path on a software renderer (WebGL2 on SwiftShader,
 * WebGPU on a fallback adapter) is offered but not preferred: on a CPU it is a correctness path,
 * many times slower than `cpu` (see the gpu.js notes). The user can pick any usable one.
 *
 * @example
 * import { preferredBackend } from './backend-choice.ts';
 * preferredBackend([
 *   { name: 'gpujs:webgpu', available: false, software: false, detail: 'navigator.gpu gives no adapter' },
 *   { name: 'gpujs:webgl2', available: true, software: false, detail: 'ANGLE (NVIDIA ...)' },
 *   { name: 'cpu', available: true, software: false, detail: '' },
 * ]); // { name: 'gpujs:webgl2', why: 'WebGL2 on ANGLE (NVIDIA ...); no WebGPU: navigator.gpu gives no adapter' }
 */

/** The backends the playground offers, in order of preference. */
export const playgroundBackends = ['gpujs:webgpu', 'gpujs:webgl2', 'cpu', 'reference'] as const;
export type PlaygroundBackend = (typeof playgroundBackends)[number];

/** One backend here. */
export interface BackendStatus {
  readonly name: PlaygroundBackend;
  readonly available: boolean;
  /** On a software renderer or adapter (GPU backends). */
  readonly software: boolean;
  /** Why it is unavailable, or what it runs on (the WebGL2 renderer). */
  readonly detail: string;
}

/** What probing needs from the page (winnow's `resolveBackend` and the browser's WebGL2). */
export interface ProbeEnv {
  readonly resolveBackend: (name: string) => Promise<{ readonly name: string }>;
  /** The WebGL2 renderer's name (unmasked where the browser allows), or undefined without WebGL2. */
  readonly webgl2Renderer: () => string | undefined;
}

const software = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render/i;

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/** Whether each backend can run here, and on what. */
export const probeBackends = async (env: ProbeEnv): Promise<BackendStatus[]> =>
  Promise.all(
    playgroundBackends.map(async (name): Promise<BackendStatus> => {
      try {
        await env.resolveBackend(name);
      } catch (e) {
        return { name, available: false, software: false, detail: oneLine(e).replace(/^backend "[^"]+" is not available here: /, '') };
      }
      if (name === 'gpujs:webgpu') {
        // winnow's `auto` picks WebGPU only on a hardware adapter
        const hardware = (await env.resolveBackend('auto').catch(() => ({ name: '' }))).name === 'gpujs:webgpu';
        return { name, available: true, software: !hardware, detail: hardware ? 'hardware adapter' : 'software adapter' };
      }
      if (name === 'gpujs:webgl2') {
        const renderer = env.webgl2Renderer() ?? 'unknown renderer';
        return { name, available: true, software: software.test(renderer), detail: renderer };
      }
      return { name, available: true, software: false, detail: '' };
    }),
  );

/** The backend to start on, and why, in a few words. */
export const preferredBackend = (statuses: ReadonlyArray<BackendStatus>): { readonly name: PlaygroundBackend; readonly why: string } => {
  const of = (name: PlaygroundBackend) => statuses.find((s) => s.name === name);
  const webgpu = of('gpujs:webgpu');
  const webgl2 = of('gpujs:webgl2');
  const noWebgpu = !webgpu?.available ? `no WebGPU: ${webgpu?.detail ?? 'not offered'}` : 'WebGPU only on a software adapter';
  if (webgpu?.available && !webgpu.software) return { name: 'gpujs:webgpu', why: 'WebGPU on a hardware adapter' };
  if (webgl2?.available && !webgl2.software) return { name: 'gpujs:webgl2', why: `WebGL2 on ${webgl2.detail}; ${noWebgpu}` };
  const noWebgl2 = !webgl2?.available ? `no WebGL2: ${webgl2?.detail ?? 'not offered'}` : `WebGL2 renders on ${webgl2.detail}, a software renderer`;
  const why = `no GPU: ${noWebgpu}; ${noWebgl2}`;
  if (of('cpu')?.available) return { name: 'cpu', why: `${why}: the CPU fallback` };
  return { name: 'reference', why: `${why}; no cpu backend: the reference interpreter` };
};
