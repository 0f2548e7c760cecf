/**
 * Every backend this build ships in Node, registered: import from here (not from backend.ts)
 * wherever a backend is chosen by name, so that `auto`, `--backend` and the parity suite see them
 * all. (The browser bundle registers its own list in runtime/browser.ts.)
 *
 * `reference` is registered by backend.ts itself. Any other backend is a module that exports a
 * `BackendModule` (or several, e.g. one per gpu.js mode); add an import and an entry to
 * `shippedBackends` below. A backend module must load heavy or optional dependencies (gpu.js,
 * WebGPU, headless-gl) lazily, inside `available` and `create`, so importing this file stays
 * cheap and never fails on a machine without them.
 *
 * @example
 * import { createModel, resolveBackend } from 'winnow/runtime/backends';
 * // const { name, why } = await resolveBackend('auto');   // e.g. { name: 'reference', why: 'auto: no WebGPU backend in this build, no cpu backend, using reference' }
 * // const model = await createModel(name, lowered, state);
 */
import { cpuBackend } from './cpu/index.ts';
import { gpujsBackends } from './gpujs/backends.ts';
import { nodeHost } from './gpujs/node-host.ts';
import { registerBackend, type BackendRegistration, type ConcreteBackendName } from './backend.ts';

export * from './backend.ts';

/** One backend a module contributes: the name it registers under and its registration. */
export interface BackendModule {
  readonly name: ConcreteBackendName;
  readonly backend: BackendRegistration;
}

/** The backends this build ships besides `reference`, registered when this module loads. */
export const shippedBackends: ReadonlyArray<BackendModule> = [cpuBackend, ...gpujsBackends(nodeHost)];

for (const { name, backend } of shippedBackends) registerBackend(name, backend);
