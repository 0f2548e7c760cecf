/**
 * The benchmark behind `winnow bench`: training-step and inference throughput
 * of a network (by default the dense MLP 784-1000-1000-10) on real MNIST batches, per backend.
 *
 * Per backend: a fresh model (seed 1, float32); `warmup` training steps and one `predict` (compiles
 * programs, warms the JIT), then `repetitions` timed runs of `steps` training steps each at batch
 * 64; the reported training speed is the median run's samples/s. Inference: `repetitions` timed
 * runs of `inferenceCalls` calls of `predict` at batch 1000 (test images); median samples/s. The
 * timed runs of all backends are taken round-robin, so changing load on a shared machine hits
 * them alike.
 * Only the backend's call is timed: batches are normalised before the clock starts. Slow backends
 * get fewer steps per run (`planOf`), unless `steps` is given.
 *
 * @example
 * import { runBench } from 'winnow/runtime/bench';
 * // const r = await runBench({ model: 'examples/models/dense-mlp.json', backends: ['reference', 'cpu'] });
 * // r.ratio?.train; // cpu samples/s over reference samples/s
 */
import { cpus } from 'node:os';
import { lower, trace } from '../compiler/index.ts';
import { WinnowError } from '../dsl/errors.ts';
import { shapeSize } from '../dsl/shape.ts';
import { createModel, registeredBackends, resolveBackend, type Model } from './backends.ts';
import { benchData, type BenchData } from './bench-data.ts';
import { loadNetwork } from './load-model.ts';
import { initModelState } from './model-state.ts';
import { Rng } from './rng.ts';

/** How much work a backend gets. */
export interface BenchPlan {
  readonly warmup: number;
  /** Training steps per timed run. */
  readonly steps: number;
  readonly repetitions: number;
  /** predict calls (batch `inferenceBatch`) per timed run. */
  readonly inferenceCalls: number;
}

/**
 * Default plans. The reference interpreter (~100-200 samples/s on the dense MLP) and gpu.js's
 * software modes (webasm, cpu: ~50 samples/s) get few steps, so the whole default bench stays
 * within about two minutes on a small machine; compiled backends get more steps and repetitions.
 */
export const defaultPlans = {
  slow: { warmup: 2, steps: 6, repetitions: 3, inferenceCalls: 1 },
  fast: { warmup: 5, steps: 25, repetitions: 5, inferenceCalls: 3 },
} as const satisfies Readonly<Record<string, BenchPlan>>;

/** The default plan of a backend. */
export const planOf = (backend: string): BenchPlan => (['reference', 'gpujs:webasm', 'gpujs:cpu'].includes(backend) ? defaultPlans.slow : defaultPlans.fast);

/** Options of `runBench`. */
export interface BenchOptions {
  /** A model file or module (default examples/models/dense-mlp.json). */
  readonly model: string;
  /** Backends to measure (default: reference, cpu and gpujs:webasm when registered). */
  readonly backends?: ReadonlyArray<string>;
  readonly batch?: number;
  readonly inferenceBatch?: number;
  /** Overrides every backend's plan (steps per run, repetitions). */
  readonly steps?: number;
  readonly repetitions?: number;
  /** One line per finished measurement, for progress output. */
  readonly log?: (line: string) => void;
}

/** Speed of one kind of call on one backend. */
export interface Throughput {
  readonly batch: number;
  /** Calls (steps or predicts) per timed run. */
  readonly calls: number;
  readonly repetitions: number;
  /** Median over the runs. */
  readonly samplesPerSecond: number;
  /** Every run's samples/s, in order. */
  readonly runs: ReadonlyArray<number>;
}

/** One backend's result, or why it was skipped. */
export type BackendBench =
  | { readonly backend: string; readonly train: Throughput; readonly inference: Throughput; readonly seconds: number }
  | { readonly backend: string; readonly skipped: string };

/** What `runBench` returns (and `winnow bench --out FILE` writes). */
export interface BenchResult {
  readonly model: string;
  readonly date: string;
  readonly node: string;
  readonly platform: string;
  /** `os.cpus().length` and the first CPU's model. */
  readonly cpus: number;
  readonly cpuModel: string;
  readonly results: ReadonlyArray<BackendBench>;
  /** cpu samples/s over reference samples/s, when both ran. */
  readonly ratio?: { readonly train: number; readonly inference: number };
  readonly seconds: number;
}

/** The backends measured by default: reference, cpu, and gpujs:webasm when this build registers it. */
export const defaultBenchBackends = (): string[] => ['reference', 'cpu', 'gpujs:webasm'].filter((b) => (registeredBackends() as string[]).includes(b));

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};


/** A model under measurement: its plan and its timed runs so far. */
interface Contender {
  /** The name asked for, and the backend it resolved to. */
  readonly requested: string;
  readonly backend: string;
  readonly model: Model;
  readonly plan: BenchPlan;
  readonly trainRuns: number[];
  readonly inferRuns: number[];
  /** Seconds spent on this backend (creation, warm-up and timed runs). */
  seconds: number;
  trainStep(): Promise<void>;
}

const contender = (requested: string, backend: string, model: Model, plan: BenchPlan, data: BenchData, batch: number, sgd: { lr: number; momentum: number; weightDecay: number }): Contender => {
  const rng = Rng.fromSeed(1, 2);
  let step = 0;
  return {
    requested,
    backend,
    model,
    plan,
    trainRuns: [],
    inferRuns: [],
    seconds: 0,
    trainStep: async () => {
      const i = step % data.x.length;
      step++;
      const r = await model.trainStep(data.x[i], data.labels[i], batch, sgd, step * batch, rng);
      if (!Number.isFinite(r.loss)) throw new WinnowError('training', `the loss went non-finite at step ${step} on ${backend}`);
    },
  };
};

/** Seconds `f` takes, added to `c.seconds`. */
const timed = async (c: Contender, f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await f();
  const s = (performance.now() - t0) / 1000;
  c.seconds += s;
  return s;
};

/**
 * Warms every model up, then takes the timed runs round-robin (run 1 of every backend, then run 2,
 * ...), so that a machine whose load changes during the bench slows every backend alike and the
 * ratios stay fair.
 */
const measureAll = async (cs: ReadonlyArray<Contender>, data: BenchData, batch: number, inferenceBatch: number): Promise<void> => {
  for (const c of cs) {
    await timed(c, async () => {
      for (let i = 0; i < c.plan.warmup; i++) await c.trainStep();
      await c.model.predict(data.testX, inferenceBatch);
    });
  }
  const rounds = Math.max(...cs.map((c) => c.plan.repetitions));
  for (let r = 0; r < rounds; r++) {
    for (const c of cs) {
      if (r >= c.plan.repetitions) continue;
      const s = await timed(c, async () => {
        for (let i = 0; i < c.plan.steps; i++) await c.trainStep();
      });
      c.trainRuns.push((c.plan.steps * batch) / s);
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of cs) {
      if (r >= c.plan.repetitions) continue;
      const s = await timed(c, async () => {
        for (let i = 0; i < c.plan.inferenceCalls; i++) await c.model.predict(data.testX, inferenceBatch);
      });
      c.inferRuns.push((c.plan.inferenceCalls * inferenceBatch) / s);
    }
  }
};

/** Runs the benchmark. Throws a one-line `WinnowError` for a model MNIST cannot train or an unknown backend. */
export const runBench = async (options: BenchOptions): Promise<BenchResult> => {
  const started = performance.now();
  const network = await loadNetwork(options.model);
  if (shapeSize(network.input) !== 784) throw new WinnowError('usage', `${options.model}: MNIST images have 784 values; the model's input [${network.input.join(', ')}] does not`);
  if (network.shapes[network.shapes.length - 1][0] !== 10) throw new WinnowError('usage', `${options.model}: MNIST has 10 classes; the model must output 10 logits`);
  const lowered = lower(trace(network));
  const batch = options.batch ?? 64;
  const inferenceBatch = options.inferenceBatch ?? 1000;
  const explicit = options.backends !== undefined;
  const backends = options.backends ?? defaultBenchBackends();
  const t = network.training ?? {};
  const sgd = { lr: t.lr ?? 0.01, momentum: t.momentum ?? 0, weightDecay: t.weightDecay ?? 0 };

  // Real MNIST batches, shuffled once (seed 1), normalised up front.
  const data = benchData(batch, inferenceBatch);
  const skipped = new Map<string, string>();
  const contenders: Contender[] = [];
  try {
    for (const name of backends) {
      let resolved: string;
      try {
        resolved = (await resolveBackend(name)).name;
      } catch (e) {
        // A backend asked for by name must run; a default one that cannot run here is skipped.
        if (explicit) throw e;
        skipped.set(name, (e as Error).message);
        options.log?.(`${name}: skipped (${(e as Error).message})`);
        continue;
      }
      const plan: BenchPlan = { ...planOf(resolved), ...(options.steps !== undefined ? { steps: options.steps } : {}), ...(options.repetitions !== undefined ? { repetitions: options.repetitions } : {}) };
      const t0 = performance.now();
      const model = await createModel(resolved, lowered, initModelState(lowered, { seed: 1, dtype: 'float32' }));
      const c = contender(name, resolved, model, plan, data, batch, sgd);
      c.seconds += (performance.now() - t0) / 1000;
      contenders.push(c);
    }
    await measureAll(contenders, data, batch, inferenceBatch);
  } finally {
    for (const c of contenders) c.model.dispose?.();
  }
  const results: BackendBench[] = backends.map((name) => {
    const why = skipped.get(name);
    if (why !== undefined) return { backend: name, skipped: why };
    const c = contenders.find((k) => k.requested === name)!;
    const r = {
      backend: c.backend,
      train: { batch, calls: c.plan.steps, repetitions: c.plan.repetitions, samplesPerSecond: median(c.trainRuns), runs: c.trainRuns },
      inference: { batch: inferenceBatch, calls: c.plan.inferenceCalls, repetitions: c.plan.repetitions, samplesPerSecond: median(c.inferRuns), runs: c.inferRuns },
      seconds: c.seconds,
    };
    options.log?.(`${c.backend}: train ${r.train.samplesPerSecond.toFixed(0)} samples/s, inference ${r.inference.samplesPerSecond.toFixed(0)} samples/s (${c.seconds.toFixed(1)} s)`);
    return r;
  });
  const ran = (b: string) => results.find((r): r is Extract<BackendBench, { train: Throughput }> => r.backend === b && 'train' in r);
  const ref = ran('reference');
  const cpu = ran('cpu');
  const cpuList = cpus();
  return {
    model: options.model,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    results,
    ...(ref && cpu ? { ratio: { train: cpu.train.samplesPerSecond / ref.train.samplesPerSecond, inference: cpu.inference.samplesPerSecond / ref.inference.samplesPerSecond } } : {}),
    seconds: (performance.now() - started) / 1000,
  };
};
