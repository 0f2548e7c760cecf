/**
 * Opens one contender on one model inside a benchmark worker process: a winnow backend through the
 * runtime's backend registry, or a TensorFlow.js variant (bench/tfjs). Libraries are imported only
 * when needed, so a worker's peak memory holds one library, not both.
 *
 * @example
 * import { openRunner } from './contenders.ts';
 * // const r = await openRunner('tfjs-best', 'examples/models/dense-mlp.json', data, 64);
 * // await r.trainStep(0); await r.predict(data.testX, 1000); r.dispose();
 */
import type { ContenderId } from './catalog.ts';
import type { BenchData } from './data.ts';

/** A contender ready to be timed. */
export interface Runner {
  /** Training step number `step` (0, 1, ...) on batch `step mod pool`; returns the loss. */
  trainStep(step: number): Promise<number>;
  predict(x: Float32Array, n: number): Promise<void>;
  /** What it runs on (library version, threads, resolved backend). */
  readonly info: Readonly<Record<string, string | number | boolean>>;
  dispose(): void;
}

/** The thread count a winnow model reports (the cpu backend's `threads`), when known. */
const threadsOf = (model: object, backend: string): { threads?: number } => {
  const t = (model as { threads?: unknown }).threads;
  if (typeof t === 'number') return { threads: t };
  return backend === 'reference' ? { threads: 1 } : {};
};

const winnowRunner = async (backend: string, modelFile: string, data: BenchData, batch: number): Promise<Runner> => {
  const [{ lower, trace }, { createModel, resolveBackend }, { initModelState }, { loadNetwork }, { Rng }] = await Promise.all([
    import('../compiler/index.ts'),
    import('../runtime/backends.ts'),
    import('../runtime/model-state.ts'),
    import('../runtime/load-model.ts'),
    import('../runtime/rng.ts'),
  ]);
  const network = await loadNetwork(modelFile);
  const lowered = lower(trace(network));
  const resolved = (await resolveBackend(backend)).name;
  const model = await createModel(resolved, lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }));
  const t = network.training ?? {};
  const sgd = { lr: t.lr ?? 0.01, momentum: t.momentum ?? 0, weightDecay: t.weightDecay ?? 0 };
  const rng = Rng.fromSeed(1, 2);
  return {
    trainStep: async (step) => {
      const i = step % data.x.length;
      return (await model.trainStep(data.x[i], data.labels[i], batch, sgd, (step + 1) * batch, rng)).loss;
    },
    predict: async (x, n) => {
      await model.predict(x, n);
    },
    // Threads the backend computes on: the cpu model says (WINNOW_THREADS, default the cores up to
    // 8); the reference interpreter is plain single-threaded JavaScript.
    info: { library: 'winnow', backend: resolved, ...threadsOf(model, resolved) },
    dispose: () => model.dispose?.(),
  };
};

const tfjsRunner = async (variant: 'stock' | 'best', modelFile: string, data: BenchData, batch: number): Promise<Runner> => {
  const [{ useTfjsWasm }, { createTfjsMlp, tfjsMlpSpec }, { loadNetwork }] = await Promise.all([import('./tfjs/setup.ts'), import('./tfjs/mlp.ts'), import('../runtime/load-model.ts')]);
  const wasm = await useTfjsWasm();
  const net = createTfjsMlp(tfjsMlpSpec(await loadNetwork(modelFile)), variant, { seed: 1 });
  return {
    trainStep: async (step) => {
      const i = step % data.x.length;
      return net.trainStep(data.x[i], data.labels[i], batch);
    },
    predict: async (x, n) => {
      net.predict(x, n);
    },
    info: { library: 'tfjs', version: wasm.version, backend: 'wasm', threads: wasm.threads, simd: wasm.simd, multithreadSupported: wasm.multithreadSupported, variant },
    dispose: () => net.dispose(),
  };
};

/** Opens `contender` on the model file. */
export const openRunner = (contender: ContenderId, modelFile: string, data: BenchData, batch: number): Promise<Runner> =>
  contender === 'tfjs-stock' || contender === 'tfjs-best' ? tfjsRunner(contender === 'tfjs-stock' ? 'stock' : 'best', modelFile, data, batch) : winnowRunner(contender, modelFile, data, batch);
