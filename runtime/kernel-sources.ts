/**
 * The generated sources of a backend's compiled programs, for `winnow inspect --kernels`, the
 * golden tests and anyone who wants to read what a backend runs. Each backend that generates code
 * plugs in one small function (`KernelSourceProvider`) that opens a lowered network and hands back
 * the sources of any program at any batch size; `kernelSources` picks the provider by backend name.
 * The `reference` backend interprets the IR and generates nothing, so it has no provider; the
 * gpujs:* modes share one (they run the same gpu.js sources).
 *
 * @example
 * import { lower, trace } from 'winnow/compiler';
 * import { readModelFile } from 'winnow/dsl';
 * const lowered = lower(trace(readModelFile('examples/models/dense-mlp.json')));
 * const open = await openKernelSources('cpu', lowered);
 * const train = await open.sources('train', 64); // { kernels: ['k0_linear_biasAdd_relu', ...], files: [{ name: 'train.js', ... }, { name: 'train.wat', ... }] }
 * open.dispose();
 */
import type { ProgramKind } from '../compiler/backend/compile.ts';
import type { Lowered } from '../compiler/stages.ts';
import { WinnowError } from '../dsl/errors.ts';
import { backendNames, createModel, type ConcreteBackendName } from './backends.ts';
import { initModelState } from './model-state.ts';

/** One generated text (a whole program, one kernel, a WebAssembly module). */
export interface SourceFile {
  /** A short label, e.g. `train.js`, `train.wat`, `k3_xentStats`. */
  readonly name: string;
  /** The language, for people and syntax highlighting: `js`, `wat`, ... */
  readonly language: string;
  readonly text: string;
}

/** The generated sources of one compiled program. */
export interface ProgramSources {
  readonly program: ProgramKind;
  readonly batch: number;
  /** The program's kernels, by name, in the order they run. */
  readonly kernels: ReadonlyArray<string>;
  /** Everything the backend generated for the program. */
  readonly files: ReadonlyArray<SourceFile>;
}

/** A lowered network opened by a provider: its programs' sources on demand. */
export interface OpenedSources {
  readonly sources: (program: ProgramKind, batch: number) => Promise<ProgramSources>;
  /** Frees what opening took (a model, compiled programs). */
  readonly dispose: () => void;
}

/** What a code-generating backend plugs in: opens a lowered network for reading its generated sources. */
export type KernelSourceProvider = (lowered: Lowered) => Promise<OpenedSources>;

/**
 * The cpu backend: one JavaScript program per compiled program (a function returning its kernels)
 * and the WebAssembly text of its matrix products. Read from a real cpu model (a throwaway float32
 * state), so the addresses baked into the text are the ones it runs with.
 */
const cpuSources: KernelSourceProvider = async (lowered) => {
  const model = await createModel('cpu', lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }));
  const programSource = (model as unknown as { programSource: (kind: ProgramKind, batch: number) => Promise<{ source: string; wat?: string; kernels: ReadonlyArray<string> }> }).programSource;
  return {
    sources: async (program, batch) => {
      const js = await programSource(program, batch);
      return {
        program,
        batch,
        kernels: [...js.kernels],
        files: [{ name: `${program}.js`, language: 'js', text: js.source }, ...(js.wat !== undefined ? [{ name: `${program}.wat`, language: 'wat', text: js.wat }] : [])],
      };
    },
    dispose: () => model.dispose?.(),
  };
};

/**
 * The gpujs:* backends (every mode runs the same sources): one gpu.js kernel per schedule kernel,
 * with what its parameters bind to (runtime/gpujs/sources.ts). Pure code generation, so it works
 * on a machine where no gpu.js mode can run.
 */
const gpujsSources: KernelSourceProvider = async (lowered) => (await import('./gpujs/sources.ts')).gpujsKernelSources(lowered);

/** Providers by backend name; a backend that generates code adds its entry here. */
const providers = new Map<ConcreteBackendName, KernelSourceProvider>([
  ['cpu', cpuSources],
  ...(['gpujs:webgpu', 'gpujs:webgl2', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu'] as const).map((n): [ConcreteBackendName, KernelSourceProvider] => [n, gpujsSources]),
]);

/** Registers (or replaces) the source provider of a backend; returns a function restoring the previous one (for tests). */
export const registerKernelSources = (backend: ConcreteBackendName, provider: KernelSourceProvider): (() => void) => {
  const previous = providers.get(backend);
  providers.set(backend, provider);
  return () => {
    if (previous) providers.set(backend, previous);
    else providers.delete(backend);
  };
};

/** The backends whose generated sources can be read, in `backendNames` order. */
export const kernelSourceBackends = (): ConcreteBackendName[] => backendNames.filter((n): n is ConcreteBackendName => n !== 'auto' && providers.has(n));

/** Opens a lowered network's generated sources on a backend, or throws a one-line `WinnowError('usage')` when that backend generates none. */
export const openKernelSources = async (backend: string, lowered: Lowered): Promise<OpenedSources> => {
  const provider = providers.get(backend as ConcreteBackendName);
  if (!provider) {
    const why = backend === 'reference' ? 'the reference backend interprets the IR and generates no kernels' : backend === 'auto' ? 'name a backend' : `backend ${JSON.stringify(backend)} has no generated sources in this build`;
    throw new WinnowError('usage', `--backend ${backend}: ${why} (backends with kernel sources: ${kernelSourceBackends().join(', ')})`);
  }
  return provider(lowered);
};
