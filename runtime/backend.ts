/**
 * What every execution backend provides to the runtime, and how one is chosen.
 *
 * A backend makes a `Model`: it classifies batches and takes training steps on a `ModelState` it
 * shares with checkpoints. Both calls are asynchronous (gpu.js WebGPU kernels resolve later);
 * callers await once per batch. Backends are registered by name (`registerBackend`); this module
 * registers `reference` (the IR interpreter, the oracle every other backend is tested against),
 * and `runtime/backends.ts` registers the others a build ships. `resolveBackend` turns a name
 * (or `auto`) into a usable backend, or a one-line `WinnowError('backend')` saying why not.
 *
 * @example
 * import { createModel } from 'winnow/runtime/backends';
 * // const model = await createModel('auto', lowered, state);
 * // const { loss } = await model.trainStep(x, labels, 64, { lr: 0.01, momentum: 0.9, weightDecay: 0 }, 64, rng);
 * // model.dispose?.();
 */
import type { Lowered } from '../compiler/stages.ts';
import { WinnowError } from '../dsl/errors.ts';
import type { Classifier } from './evaluate.ts';
import type { ModelState } from './model-state.ts';
import type { SgdSettings } from './optimizer.ts';
import { createReferenceModel } from './reference/model.ts';
import type { Rng } from './rng.ts';

/** One training step's outcome. */
export interface StepResult {
  /** Mean loss over the batch (before the step). */
  readonly loss: number;
  /** Correct predictions in the batch (before the step). */
  readonly correct: number;
  /** When the loss is not finite: the first layer whose output went non-finite; no step was taken. */
  readonly nonFinite?: string;
}

/**
 * A compiled, stateful model on some backend. Callers always `await` `predict` and `trainStep`.
 * Every model `createModel` returns answers with Promises; the types also admit a plain value
 * only because the reference interpreter (runtime/reference/model.ts) still implements this
 * interface synchronously, and the registry wraps it.
 */
export interface Model extends Classifier {
  /** The registered backend name (what checkpoints record). */
  readonly backend: string;
  readonly lowered: Lowered;
  /**
   * The model's parameters, momentum buffers, masks, duty cycles and boost strengths, in the
   * checkpoint format. On most backends it holds every call's result when the call resolves; a
   * device-resident backend (gpujs:webgpu) lets it lag until `sync()`, and expects `invalidate()`
   * after the host edits it. The runtime only reads it (checkpoints, after `sync`); boost decay
   * happens on the backend through `endEpoch`.
   */
  readonly state: ModelState;
  /**
   * Forward, loss, backward and one optimizer step on a batch; `samplesSeen` counts training
   * samples including this batch (duty cycles); `rng` drives dropout and DropConnect. The step
   * has updated `state` when the result resolves (after `sync()` on a device-resident backend).
   */
  readonly trainStep: (x: Float32Array, labels: Uint8Array, batch: number, sgd: SgdSettings, samplesSeen: number, rng: Rng) => Promise<StepResult> | StepResult;
  /**
   * The end of a training epoch: runs the compiled `epochEnd` program (each boost strength times
   * its strengthFactor) on the backend, so the decay is part of the compiled graph and not a host
   * side effect. The runtime calls it once after each epoch's last step.
   */
  readonly endEpoch: () => Promise<void>;
  /**
   * Brings `state` up to date with what the backend holds (a device-resident backend reads its
   * buffers back). The runtime awaits it before it reads `state` (checkpoints, the end of
   * training); backends whose `state` is always current leave it out. gpujs:webgpu keeps the
   * state's arrays (parameters, momentum buffers, duty cycles, masks) on the device between
   * calls, so its `state` lags behind from its first training step until `sync` resolves;
   * one-element tensors (boost strengths) are kept current on the host.
   */
  sync?(): Promise<void>;
  /**
   * Tells a device-resident backend that `state` was changed on the host between calls: the next
   * call uploads it again, and device-side progress not brought back by `sync` is dropped (call
   * `sync` first to edit the latest values). Backends that read `state` on every call leave it out.
   */
  invalidate?(): void;
  /** Frees what the backend holds outside `state` (GPU buffers, compiled kernels); the model is unusable after. */
  dispose?(): void;
}

/** Every backend name winnow knows, `auto` first (whether each is usable here is `resolveBackend`'s question). */
export const backendNames = ['auto', 'reference', 'cpu', 'gpujs:webgpu', 'gpujs:webgl2', 'gpujs:headlessgl', 'gpujs:webasm', 'gpujs:cpu'] as const;
export type BackendName = (typeof backendNames)[number];
/** The names a backend can be registered under (`auto` is a choice among them, not a backend). */
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/** What a backend module registers. */
export interface BackendRegistration {
  /** Whether it can run here: `undefined` when it can, else a one-line reason. Asked at most once per process. */
  readonly available: () => Promise<string | undefined>;
  /** A model on this backend over `state` (which it updates in place, or writes back before each step resolves). */
  readonly create: (lowered: Lowered, state: ModelState) => Promise<Model>;
  /** Whether the device is real hardware (not a software adapter); `auto` picks `gpujs:webgpu` only when this says true. */
  readonly hardware?: () => Promise<boolean>;
}

interface Entry {
  readonly registration: BackendRegistration;
  availability?: Promise<string | undefined>;
}

const registry = new Map<ConcreteBackendName, Entry>();

const isBackendName = (name: string): name is BackendName => (backendNames as ReadonlyArray<string>).includes(name);

const oneLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();

/**
 * Registers a backend under one of `backendNames` (not `auto`). Registering a name twice is a bug
 * and throws; the returned function unregisters it (for tests).
 */
export const registerBackend = (name: ConcreteBackendName, registration: BackendRegistration): (() => void) => {
  const given: string = name; // JavaScript callers may pass anything
  if (!isBackendName(given) || given === 'auto') throw new Error(`registerBackend: ${JSON.stringify(given)} is not a backend name (known: ${backendNames.filter((n) => n !== 'auto').join(', ')})`);
  if (registry.has(name)) throw new Error(`registerBackend: backend ${JSON.stringify(name)} is registered twice`);
  const entry: Entry = { registration };
  registry.set(name, entry);
  return () => {
    if (registry.get(name) === entry) registry.delete(name);
  };
};

/** The names registered in this process, in `backendNames` order. */
export const registeredBackends = (): ConcreteBackendName[] => backendNames.filter((n): n is ConcreteBackendName => n !== 'auto' && registry.has(n));

/** Why a registered backend cannot run here (`undefined` when it can); the probe runs once, and a probe that throws counts as unavailable. */
const unavailability = (entry: Entry): Promise<string | undefined> =>
  (entry.availability ??= entry.registration.available().then(
    (reason) => (reason === undefined ? undefined : reason.split('\n')[0].trim() || 'unavailable'),
    (e) => `its availability check failed: ${oneLine(e)}`,
  ));

const usable = async (name: ConcreteBackendName): Promise<boolean> => {
  const entry = registry.get(name);
  return entry !== undefined && (await unavailability(entry)) === undefined;
};

/** Why `auto` does not pick gpujs:webgpu, or undefined when it does. */
const webgpuRefusal = async (): Promise<string | undefined> => {
  const entry = registry.get('gpujs:webgpu');
  if (!entry) return 'no WebGPU backend in this build';
  // Hardware first: it can answer without starting a WebGPU runtime (no GPU driver loader, no GPU).
  const hardware = entry.registration.hardware;
  const isHardware = hardware ? await hardware().catch(() => false) : false;
  if (!isHardware) return 'no hardware WebGPU adapter';
  return (await unavailability(entry)) !== undefined ? 'no WebGPU adapter' : undefined;
};

/** A chosen backend and, in a few words, why. */
export interface ResolvedBackend {
  readonly name: ConcreteBackendName;
  readonly why: string;
}

/**
 * Turns a backend name into one that can run here. `auto` picks `gpujs:webgpu` when it is
 * registered, available and on a hardware adapter, else `cpu` when registered and available, else
 * `reference`. Any other name resolves to itself once its availability check passes. Throws a
 * one-line `WinnowError('backend')` for an unknown name or one that cannot run here.
 */
export const resolveBackend = async (name: string): Promise<ResolvedBackend> => {
  if (!isBackendName(name)) throw new WinnowError('backend', `unknown backend ${JSON.stringify(name)} (known: ${backendNames.join(', ')})`);
  if (name === 'auto') {
    const refusal = await webgpuRefusal();
    if (refusal === undefined) return { name: 'gpujs:webgpu', why: 'auto: hardware WebGPU adapter' };
    if (await usable('cpu')) return { name: 'cpu', why: `auto: ${refusal}, using cpu` };
    const noCpu = registry.has('cpu') ? 'cpu unavailable' : 'no cpu backend';
    return { name: 'reference', why: `auto: ${refusal}, ${noCpu}, using reference` };
  }
  const entry = registry.get(name);
  const reason = entry ? await unavailability(entry) : 'this build does not include it';
  if (reason !== undefined) throw new WinnowError('backend', `backend ${JSON.stringify(name)} is not available here: ${reason}`);
  return { name, why: 'requested' };
};

/** Creates a model on a backend (a name or `auto`, resolved by `resolveBackend`), or says clearly why it cannot. */
export const createModel = async (backend: string, lowered: Lowered, state: ModelState): Promise<Model> => {
  const { name } = await resolveBackend(backend);
  const model = await registry.get(name)!.registration.create(lowered, state);
  if (model.backend !== name) throw new Error(`backend ${JSON.stringify(name)} created a model that calls itself ${JSON.stringify(model.backend)}`);
  return model;
};

// The reference interpreter is synchronous; its model answers with already-resolved Promises.
registerBackend('reference', {
  available: async () => undefined,
  create: async (lowered, state) => {
    const m = createReferenceModel(lowered, state);
    return {
      ...m,
      predict: async (x, batch) => m.predict(x, batch),
      trainStep: async (x, labels, batch, sgd, samplesSeen, rng) => m.trainStep(x, labels, batch, sgd, samplesSeen, rng),
    };
  },
});
